"""The negative-sampler interface: what every sampler of :mod:`kgforge.embed.sampling` keeps.

A sampler turns a batch of positive triples ``(h, r, t)`` (LongTensor ``[B, 3]``) into negative
triples ``[B, K, 3]`` by replacing the head or the tail of each positive with another entity.
Samplers are fitted once on the training triples (and, for LM-based samplers, entity text) and
then sample with tensor ops on the batch's device. The base class does the shared work (sides
to corrupt, candidates, filtering of known triples); a sampler only says which replacement
entities it proposes (:meth:`NegativeSampler.replacements`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Literal

import numpy as np
import torch

from kgforge.errors import ConfigError, DataError

Side = Literal["both", "head", "tail", "bernoulli"]
"""Which side to corrupt: either at random, always one, or per relation (Bernoulli, Wang et al.
2014: corrupt the head with probability ``tph / (tph + hpt)``, so 1-to-N relations get fewer
false negatives)."""


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
        candidates: Literal["all", "train"] | torch.Tensor = "all",
    ) -> None:
        if num_entities < 2:
            raise ConfigError("must be at least 2", field="num_entities")
        if corrupt not in ("both", "head", "tail", "bernoulli"):
            raise ConfigError(
                f"must be both, head, tail or bernoulli, not {corrupt!r}", field="corrupt"
            )
        self.num_entities = num_entities
        self.num_negatives = num_negatives
        self.corrupt = corrupt
        self.filtered = filtered
        self._extra_known = known_triples
        if isinstance(candidates, str) and candidates not in ("all", "train"):
            raise ConfigError(
                f"must be 'all', 'train' or entity ids, not {candidates!r}", field="candidates"
            )
        self._candidates_spec = candidates
        self.candidates: torch.Tensor | None = None  # sorted entity ids; None: all entities
        self._candidates_on: dict[torch.device, torch.Tensor] = {}
        self._known_keys: torch.Tensor | None = None  # sorted, unique, on CPU
        self._known_on: dict[torch.device, torch.Tensor] = {}
        self._head_prob: torch.Tensor | None = None  # per relation, for corrupt="bernoulli"
        self.progress = 0.0
        # without a seed, follow torch's global RNG (so torch.manual_seed makes runs repeatable)
        if seed is None:
            seed = int(torch.randint(2**62, ()).item())
        self.generator = torch.Generator()
        self.generator.manual_seed(seed)

    # -- fitting ---------------------------------------------------------------------------
    def fit(
        self, train_triples: torch.Tensor, entity_text: Sequence[str] | None = None
    ) -> NegativeSampler:
        """Learn what the sampler needs from the training triples (and entity text)."""
        train_triples = train_triples.cpu().long()
        spec = self._candidates_spec
        if isinstance(spec, str):
            self.candidates = torch.unique(train_triples[:, [0, 2]]) if spec == "train" else None
        else:
            self.candidates = torch.unique(torch.as_tensor(spec, dtype=torch.long).cpu())
        if self.candidates is not None and len(self.candidates) < 2:
            raise DataError("negative sampling needs at least 2 candidate entities")
        self._candidates_on = {}
        known = train_triples
        if self._extra_known is not None:
            known = torch.cat([known, self._extra_known.cpu().long()])
        self._known_keys = torch.unique(self._keys(known))  # unique() also sorts
        self._known_on = {}
        if self.corrupt == "bernoulli":
            self._head_prob = bernoulli_head_probabilities(train_triples)
        return self

    def step(self, progress: float) -> None:
        """Tell the sampler how far training is (``progress`` in [0, 1]).

        Trainers call this before sampling (each batch or each epoch); samplers with a
        curriculum (e.g. ``LMNearestNegativeSampler(ratio_start=...)``) adjust their mix.
        The base sampler only records it.
        """
        self.progress = progress

    # -- sampling --------------------------------------------------------------------------
    def sample(self, batch: torch.Tensor) -> torch.Tensor:
        """Negatives ``[B, K, 3]`` for positives ``batch`` ``[B, 3]``."""
        k = self.num_negatives
        corrupt_head = self._choose_sides(batch).to(batch.device)  # [B, K] bool
        replacement = self._distinct(batch, corrupt_head, self.replacements(batch, corrupt_head))
        negatives = batch.unsqueeze(1).repeat(1, k, 1)
        negatives[..., 0] = torch.where(corrupt_head, replacement, negatives[..., 0])
        negatives[..., 2] = torch.where(corrupt_head, negatives[..., 2], replacement)
        if self.filtered:
            negatives = self._refill_known(batch, negatives, corrupt_head)
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
        draw = torch.rand(shape, generator=self.generator)
        if self.corrupt == "bernoulli":
            if self._head_prob is None:
                raise RuntimeError("call fit() before sampling with corrupt='bernoulli'")
            relations = batch[:, 1].cpu()
            known = relations < len(self._head_prob)
            prob = self._head_prob[relations.clamp(max=len(self._head_prob) - 1)]
            return draw < torch.where(known, prob, 0.5).unsqueeze(1)
        return draw < 0.5

    def uniform(self, shape: tuple[int, ...], device: torch.device | str = "cpu") -> torch.Tensor:
        """Entity ids drawn uniformly from the candidates."""
        if self.candidates is None:
            return torch.randint(self.num_entities, shape, generator=self.generator).to(device)
        index = torch.randint(len(self.candidates), shape, generator=self.generator)
        return self._candidates(torch.device(device))[index.to(device)]

    def _candidates(self, device: torch.device) -> torch.Tensor:
        on = self._candidates_on.get(device)
        if on is None:
            on = self._candidates_on[device] = self.candidates.to(device)
        return on

    def _distinct(
        self, batch: torch.Tensor, corrupt_head: torch.Tensor, replacement: torch.Tensor
    ) -> torch.Tensor:
        """Shift replacements that equal the entity they replace, so no negative is its positive."""
        original = torch.where(corrupt_head, batch[:, 0:1], batch[:, 2:3])
        same = replacement == original
        if not same.any():
            return replacement
        if self.candidates is None:
            n = self.num_entities
            shift = 1 + torch.randint(n - 1, tuple(same.shape), generator=self.generator)
            moved = (original + shift.to(original.device)) % n
        else:  # a uniform candidate; where that is the original too, the next candidate
            cands = self._candidates(original.device)
            index = torch.randint(len(cands), tuple(same.shape), generator=self.generator)
            index = index.to(original.device)
            moved = cands[index]
            moved = torch.where(moved == original, cands[(index + 1) % len(cands)], moved)
        return torch.where(same, moved, replacement)

    # -- filtering -------------------------------------------------------------------------
    def _keys(self, triples: torch.Tensor) -> torch.Tensor:
        """One int64 per triple, for membership tests by binary search.

        Fits in int64 for up to 2**23 entities and 2**16 relations.
        """
        h, r, t = triples[..., 0], triples[..., 1], triples[..., 2]
        return (h * (1 << 16) + r) * self.num_entities + t

    def is_known(self, triples: torch.Tensor) -> torch.Tensor:
        """Bool mask: which of ``triples`` (any leading shape, last dim 3) are known true.

        A binary search of the triples' keys in the sorted known keys; on a CPU the queries are
        sorted first (NumPy), which keeps the search cache-friendly: ~1 ms for 16k negatives
        against 90k known triples.
        """
        if self._known_keys is None:
            raise RuntimeError("call fit() before sampling with filtered=True")
        keys = self._keys(triples)
        if self._known_keys.numel() == 0:
            return torch.zeros_like(keys, dtype=torch.bool)
        if keys.device.type == "cpu":
            known = self._known_keys.numpy()
            flat = keys.reshape(-1).numpy()
            order = np.argsort(flat)
            ordered = flat[order]
            pos = np.minimum(np.searchsorted(known, ordered), len(known) - 1)
            hit = np.empty(len(flat), dtype=bool)
            hit[order] = known[pos] == ordered
            return torch.from_numpy(hit).reshape(keys.shape)
        known = self._known_on.get(keys.device)
        if known is None:
            known = self._known_on[keys.device] = self._known_keys.to(keys.device)
        pos = torch.searchsorted(known, keys).clamp(max=known.numel() - 1)
        return known[pos] == keys

    def _refill_known(
        self,
        batch: torch.Tensor,
        negatives: torch.Tensor,
        corrupt_head: torch.Tensor,
        own_rounds: int = 3,
        max_rounds: int = 50,
    ) -> torch.Tensor:
        """Redraw negatives that are known positives: first from the sampler's own distribution
        (``own_rounds``), then uniformly, until none is left (or ``max_rounds`` have passed).

        Only the offending negatives are redrawn, each as a one-negative sample of its positive.
        """
        k = negatives.shape[1]
        flat = negatives.reshape(-1, 3).clone()
        sides = corrupt_head.reshape(-1)
        todo = self.is_known(flat).nonzero().squeeze(1)
        for round_ in range(max_rounds):
            if len(todo) == 0:
                break
            positives, head = batch[todo // k], sides[todo].unsqueeze(1)  # [M, 3], [M, 1]
            if round_ < own_rounds:
                fresh = self.replacements(positives, head)
            else:
                fresh = self.uniform(tuple(head.shape), flat.device)
            fresh = self._distinct(positives, head, fresh).squeeze(1)
            redrawn = positives.clone()
            column = torch.where(head.squeeze(1), 0, 2)
            redrawn[torch.arange(len(todo), device=flat.device), column] = fresh
            flat[todo] = redrawn
            todo = todo[self.is_known(redrawn)]
        return flat.reshape(negatives.shape)


def bernoulli_head_probabilities(triples: torch.Tensor) -> torch.Tensor:
    """Per relation, the probability of corrupting the head: ``tph / (tph + hpt)``.

    ``tph`` is the mean number of tails per (head, relation) pair, ``hpt`` the mean number of heads
    per (relation, tail) pair. Relations without training triples get 0.5.
    """
    triples = triples.long()
    num_relations = int(triples[:, 1].max()) + 1 if len(triples) else 1

    def mean_fanout(pairs: torch.Tensor) -> torch.Tensor:
        # pairs [N, 2] = (relation, other): triples per distinct pair, averaged per relation
        unique_pairs = torch.unique(pairs, dim=0)
        triples_per_rel = torch.bincount(pairs[:, 0], minlength=num_relations).double()
        pairs_per_rel = torch.bincount(unique_pairs[:, 0], minlength=num_relations).double()
        return triples_per_rel / pairs_per_rel.clamp(min=1)

    tph = mean_fanout(triples[:, [1, 0]])
    hpt = mean_fanout(triples[:, [1, 2]])
    total = tph + hpt
    prob = torch.where(total > 0, tph / total.clamp(min=1e-12), torch.full_like(total, 0.5))
    return prob.float()
