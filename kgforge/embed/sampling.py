"""Negative samplers: one interface, a registry.

A sampler turns a batch of positive triples ``(h, r, t)`` (LongTensor ``[B, 3]``) into negative
triples ``[B, K, 3]`` by replacing the head or the tail of each positive with another entity.
Samplers are fitted once on the training triples (and, for LM-based samplers, entity text) and
then sample with tensor ops on the batch's device.

Contract every sampler keeps (tests check it):
- ``sample(batch)`` returns ``LongTensor[B, num_negatives, 3]`` on ``batch.device``; each negative
  differs from its positive in exactly one of head or tail; the relation is kept.
- With ``filtered=True`` no negative is a known true triple (those given to ``fit``, plus
  ``known_triples``); samplers fall back to uniform draws where they run out of candidates.
- Under the same ``seed`` the same batch gives the same negatives.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Literal

import torch
from class_resolver import ClassResolver

Side = Literal["both", "head", "tail"]


class NegativeSampler(ABC):
    """Base class: corrupt heads or tails of positive triples."""

    def __init__(
        self,
        num_entities: int,
        num_negatives: int = 1,
        corrupt: Side = "both",
        filtered: bool = False,
        known_triples: torch.Tensor | None = None,
        seed: int | None = None,
    ) -> None:
        if num_entities < 2:
            raise ValueError("num_entities must be at least 2")
        self.num_entities = num_entities
        self.num_negatives = num_negatives
        self.corrupt = corrupt
        self.filtered = filtered
        self._extra_known = known_triples
        self._known_keys: torch.Tensor | None = None
        self.generator = torch.Generator()
        if seed is not None:
            self.generator.manual_seed(seed)

    # -- fitting ---------------------------------------------------------------------------
    def fit(
        self, train_triples: torch.Tensor, entity_text: Sequence[str] | None = None
    ) -> NegativeSampler:
        """Learn what the sampler needs from the training triples (and entity text)."""
        known = train_triples
        if self._extra_known is not None:
            known = torch.cat([known, self._extra_known.to(known.device)])
        self._known_keys = torch.unique(self._keys(known.cpu()))
        return self

    # -- sampling --------------------------------------------------------------------------
    def sample(self, batch: torch.Tensor) -> torch.Tensor:
        """Negatives ``[B, K, 3]`` for positives ``batch`` ``[B, 3]``."""
        b, k = batch.shape[0], self.num_negatives
        corrupt_head = self._choose_sides(batch).to(batch.device)  # [B, K] bool
        replacement = self.replacements(batch, corrupt_head)  # [B, K]
        negatives = batch.unsqueeze(1).repeat(1, k, 1)
        negatives[..., 0] = torch.where(corrupt_head, replacement, negatives[..., 0])
        negatives[..., 2] = torch.where(corrupt_head, negatives[..., 2], replacement)
        if self.filtered:
            negatives = self._refill_known(negatives, corrupt_head)
        return negatives

    @abstractmethod
    def replacements(self, batch: torch.Tensor, corrupt_head: torch.Tensor) -> torch.Tensor:
        """Replacement entity ids ``[B, K]`` for the side chosen by ``corrupt_head`` ``[B, K]``."""

    def _choose_sides(self, batch: torch.Tensor) -> torch.Tensor:
        shape = (batch.shape[0], self.num_negatives)
        if self.corrupt == "head":
            return torch.ones(shape, dtype=torch.bool)
        if self.corrupt == "tail":
            return torch.zeros(shape, dtype=torch.bool)
        return torch.rand(shape, generator=self.generator) < 0.5

    def uniform(self, shape: tuple[int, ...], device: torch.device | str = "cpu") -> torch.Tensor:
        return torch.randint(self.num_entities, shape, generator=self.generator).to(device)

    # -- filtering -------------------------------------------------------------------------
    def _keys(self, triples: torch.Tensor) -> torch.Tensor:
        """One int64 per triple, for membership tests with ``torch.isin``.

        Fits in int64 for up to 2**23 entities and 2**16 relations.
        """
        h, r, t = triples[..., 0], triples[..., 1], triples[..., 2]
        return (h * (1 << 16) + r) * self.num_entities + t

    def is_known(self, triples: torch.Tensor) -> torch.Tensor:
        """Bool mask: which of ``triples`` (any leading shape, last dim 3) are known true."""
        if self._known_keys is None:
            raise RuntimeError("call fit() before sampling with filtered=True")
        keys = self._keys(triples.cpu())
        return torch.isin(keys, self._known_keys).to(triples.device)

    def _refill_known(
        self, negatives: torch.Tensor, corrupt_head: torch.Tensor, max_rounds: int = 10
    ) -> torch.Tensor:
        """Replace negatives that are known positives with uniform draws, a few rounds."""
        for _ in range(max_rounds):
            bad = self.is_known(negatives)
            if not bad.any():
                break
            fresh = self.uniform(tuple(bad.shape), negatives.device)
            heads = torch.where(bad & corrupt_head, fresh, negatives[..., 0])
            tails = torch.where(bad & ~corrupt_head, fresh, negatives[..., 2])
            negatives = torch.stack([heads, negatives[..., 1], tails], dim=-1)
        return negatives


class UniformNegativeSampler(NegativeSampler):
    """Replace the head or tail by an entity drawn uniformly at random."""

    def replacements(self, batch: torch.Tensor, corrupt_head: torch.Tensor) -> torch.Tensor:
        return self.uniform(tuple(corrupt_head.shape), batch.device)


class InBatchNegativeSampler(NegativeSampler):
    """BLP's sampler: replace with entities of other triples in the same batch.

    Costs no extra encoder passes, since those entities are encoded for the batch anyway.
    """

    def replacements(self, batch: torch.Tensor, corrupt_head: torch.Tensor) -> torch.Tensor:
        b, k = corrupt_head.shape
        pool = torch.cat([batch[:, 0], batch[:, 2]])  # [2B]
        if b < 2:
            return self.uniform((b, k), batch.device)
        # draw from the other triples: offset by 1..B-1 so a triple never picks its own entities
        row = torch.arange(b).unsqueeze(1)
        other = (row + torch.randint(1, b, (b, k), generator=self.generator)) % b
        side = torch.randint(0, 2, (b, k), generator=self.generator)
        return pool[(other + side * b).to(pool.device)]


negative_sampler_resolver: ClassResolver[NegativeSampler] = ClassResolver(
    [UniformNegativeSampler, InBatchNegativeSampler],
    base=NegativeSampler,
    default=UniformNegativeSampler,
    suffix="NegativeSampler",
)
