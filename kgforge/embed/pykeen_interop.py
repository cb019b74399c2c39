"""Use PyKEEN models with kgforge: rank with kgforge's evaluator, compare with PyKEEN's.

Data conversion lives on :class:`kgforge.embed.data.KGData` (``to_triples_factory`` and
``from_triples_factory``); this module adapts a trained PyKEEN model to the scoring interface
the evaluator expects.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:
    from pykeen.models import Model


class PyKEENModelAdapter:
    """A PyKEEN model seen through ``score_t``/``score_h`` (kgforge's :class:`Scorer`).

    Scores come from PyKEEN's own ``predict_t``/``predict_h`` (eval mode, no autograd, the
    model's sigmoid if it predicts with one), so rankings are exactly PyKEEN's. ``mode`` is
    passed through for PyKEEN's inductive models ("training", "validation", "testing").
    """

    def __init__(self, model: Model, mode: str | None = None) -> None:
        self.model = model
        self.mode = mode

    @property
    def device(self) -> torch.device:
        return self.model.device

    @property
    def num_entities(self) -> int:
        return self.model.num_entities

    def score_t(self, hr: torch.Tensor, candidates: torch.Tensor | None = None) -> torch.Tensor:
        """Tail scores ``[B, C]`` for ``(h, r)`` rows; all entities without ``candidates``."""
        return self.model.predict_t(
            hr.to(self.device), tails=_on(candidates, self.device), mode=self.mode
        )

    def score_h(self, rt: torch.Tensor, candidates: torch.Tensor | None = None) -> torch.Tensor:
        """Head scores ``[B, C]`` for ``(r, t)`` rows; all entities without ``candidates``."""
        return self.model.predict_h(
            rt.to(self.device), heads=_on(candidates, self.device), mode=self.mode
        )


def _on(tensor: torch.Tensor | None, device: torch.device) -> torch.Tensor | None:
    return None if tensor is None else tensor.to(device)
