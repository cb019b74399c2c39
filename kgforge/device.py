"""Device selection, one rule for every layer: ``auto`` (or None) is CUDA when present, else
the CPU; an explicit name must be one torch knows and that this machine has."""

from __future__ import annotations

from typing import TYPE_CHECKING

from kgforge.errors import ConfigError

if TYPE_CHECKING:
    import torch


def resolve_device(name: str | torch.device | None = "auto") -> torch.device:
    """The ``torch.device`` for ``name`` (``"auto"``/None, ``"cpu"``, ``"cuda"``, ``"cuda:1"``,
    ...); an unknown or unavailable device is a :class:`~kgforge.errors.ConfigError`."""
    import torch

    if name is None or name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError):
        raise ConfigError(
            f"unknown device {name!r}; use auto, cpu, cuda, cuda:N, mps, ...", field="device"
        ) from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(f"device {name!r}: CUDA is not available here", field="device")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ConfigError(
                f"device {name!r}: this machine has {torch.cuda.device_count()} CUDA device(s)",
                field="device",
            )
    return device
