"""Atomic file writes: caches, checkpoints, models and data files are replaced, never half-written.

Every layer writes files that an interrupted run must not leave broken (a cache shard, a
checkpoint, a saved model), so they all go through :func:`atomic_write`.
"""

from __future__ import annotations

import os
import pickle
import uuid
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kgforge.errors import DataError


def atomic_write(path: str | Path, write: Callable[[Path], object]) -> Path:
    """Call ``write(tmp)`` on a temporary file beside ``path``, then rename it to ``path``.

    Readers see the old file or the new one, never a partial one; a failed or killed write
    leaves the old file. The temporary name keeps ``path``'s suffix (``np.savez`` would add
    ``.npz`` otherwise) and is unique, so concurrent writers do not collide.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.{uuid.uuid4().hex}.tmp{path.suffix}")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def read_torch_file(path: str | Path, **kwargs: Any) -> Any:
    """``torch.load(path, **kwargs)``; an empty, truncated or foreign file raises
    :class:`~kgforge.errors.DataError` naming it (torch raises EOFError, UnpicklingError,
    RuntimeError, ... with messages that do not)."""
    import torch

    path = Path(path)
    try:
        return torch.load(path, **kwargs)
    except FileNotFoundError:
        raise DataError("missing", path) from None
    except (
        OSError,
        EOFError,
        RuntimeError,
        ValueError,
        pickle.UnpicklingError,
        zipfile.BadZipFile,
    ) as exc:
        what = "empty" if path.stat().st_size == 0 else "corrupt or truncated"
        raise DataError(
            f"cannot read this PyTorch file: it is {what} ({first_line(exc)[:120]})", path
        ) from None


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (torch's run to pages)."""
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__
