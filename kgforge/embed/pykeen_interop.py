"""Use PyKEEN models with kgforge: rank with kgforge's evaluator, compare with PyKEEN's.

Data conversion lives on :class:`kgforge.embed.data.KGData` (``to_triples_factory`` and
``from_triples_factory``); this module adapts a trained PyKEEN model to the scoring interface
the evaluator expects.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import torch

if TYPE_CHECKING:
    from pykeen.models import Model


class PyKEENModelAdapter:
    """A PyKEEN model seen through ``score_t``/``score_h`` (kgforge's evaluator interface).

    By default scores come from PyKEEN's own ``predict_t``/``predict_h`` (eval mode, no
    autograd), so rankings are exactly PyKEEN's. PyKEEN scores all candidates of a norm-based
    interaction by broadcasting ``[batch, entities, dim]``; with ``fast=True`` TransE (without
    power norm) and DistMult models are scored instead as one distance matrix (``torch.cdist``
    without the matrix-product shortcut, so values match PyKEEN's to float rounding) or one
    matrix product. ``mode`` is passed through for PyKEEN's inductive models.
    """

    def __init__(self, model: Model, mode: str | None = None, fast: bool = True) -> None:
        self.model = model
        self.mode = mode
        self._kind = _fast_kind(model) if fast and mode is None else None

    @property
    def device(self) -> torch.device:
        return self.model.device

    @property
    def num_entities(self) -> int:
        return self.model.num_entities

    def score_t(self, hr: torch.Tensor, candidates: torch.Tensor | None = None) -> torch.Tensor:
        """Tail scores ``[B, C]`` for ``(h, r)`` rows; all entities without ``candidates``."""
        hr, candidates = hr.to(self.device), _on(candidates, self.device)
        if self._kind is None:
            return self.model.predict_t(hr, tails=candidates, mode=self.mode)
        entities, relations = self._representations()
        h, r = entities[hr[:, 0]], relations[hr[:, 1]]
        keys = entities if candidates is None else entities[candidates]
        if self._kind == "dot":
            return (h * r) @ keys.T
        return -_cdist(h + r, keys, self._kind)

    def score_h(self, rt: torch.Tensor, candidates: torch.Tensor | None = None) -> torch.Tensor:
        """Head scores ``[B, C]`` for ``(r, t)`` rows; all entities without ``candidates``."""
        rt, candidates = rt.to(self.device), _on(candidates, self.device)
        if self._kind is None:
            return self.model.predict_h(rt, heads=candidates, mode=self.mode)
        entities, relations = self._representations()
        r, t = relations[rt[:, 0]], entities[rt[:, 1]]
        keys = entities if candidates is None else entities[candidates]
        if self._kind == "dot":
            return (r * t) @ keys.T
        return -_cdist(t - r, keys, self._kind)  # ||h + r - t|| = ||h - (t - r)||

    def _representations(self) -> tuple[torch.Tensor, torch.Tensor]:
        self.model.eval()
        return (
            self.model.entity_representations[0](indices=None),
            self.model.relation_representations[0](indices=None),
        )


def _fast_kind(model: Model) -> Literal["dot"] | float | None:
    """How a model's interaction compares a query with all entities, if kgforge knows it."""
    from pykeen.models import ERModel
    from pykeen.nn.modules import DistMultInteraction, TransEInteraction

    if not isinstance(model, ERModel):
        return None
    if len(model.entity_representations) != 1 or len(model.relation_representations) != 1:
        return None
    interaction = model.interaction
    if isinstance(interaction, DistMultInteraction):
        return "dot"
    if isinstance(interaction, TransEInteraction) and not interaction.power_norm:
        return float(interaction.p)
    return None


def _cdist(queries: torch.Tensor, keys: torch.Tensor, p: float) -> torch.Tensor:
    return torch.cdist(queries, keys, p=p, compute_mode="donot_use_mm_for_euclid_dist")


def _on(tensor: torch.Tensor | None, device: torch.device) -> torch.Tensor | None:
    return None if tensor is None else tensor.to(device)
