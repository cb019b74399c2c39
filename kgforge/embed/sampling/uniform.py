"""Uniform negatives (PyKEEN's basic sampler) and Bernoulli side choice (Wang et al. 2014)."""

from __future__ import annotations

import torch

from kgforge.embed.sampling.base import NegativeSampler, Side


class UniformNegativeSampler(NegativeSampler):
    """Replace the head or tail by an entity drawn uniformly at random."""

    def replacements(self, batch: torch.Tensor, corrupt_head: torch.Tensor) -> torch.Tensor:
        return self.uniform(tuple(corrupt_head.shape), batch.device)


class BernoulliNegativeSampler(UniformNegativeSampler):
    """Uniform replacements, with the side chosen per relation (``corrupt="bernoulli"``).

    Every other sampler can do the same: pass ``corrupt="bernoulli"``.

    Args:
        num_entities: how many entities there are to draw from.
        corrupt: the side to replace: "head", "tail", "both" (either, at random) or
            "bernoulli" (per relation, by its heads-per-tail and tails-per-head ratio).
        **kwargs: those of :class:`NegativeSampler`.
    """

    def __init__(self, num_entities: int, corrupt: Side = "bernoulli", **kwargs) -> None:
        super().__init__(num_entities, corrupt=corrupt, **kwargs)
