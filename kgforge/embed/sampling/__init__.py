"""Negative samplers: one interface (:mod:`.base`), one small module per sampler, a registry.

A sampler turns a batch of positive triples ``(h, r, t)`` (LongTensor ``[B, 3]``) into negative
triples ``[B, K, 3]`` by replacing the head or the tail of each positive with another entity.

Contract every sampler keeps (tests/test_samplers.py checks it over every registered sampler):
- ``sample(batch)`` returns ``LongTensor[B, num_negatives, 3]`` on ``batch.device``; each negative
  differs from its positive in exactly one of head or tail; the relation is kept.
- With ``filtered=True`` no negative is a known true triple (those given to ``fit``, plus
  ``known_triples``); samplers fall back to uniform draws where they run out of candidates.
- Under the same ``seed`` the same batch gives the same negatives.
- Replacements come from ``candidates``: all entities (``"all"``, PyKEEN's behaviour), the
  entities of the training triples (``"train"``: for inductive training, where valid/test
  entities must stay unseen), or a given tensor of entity ids.

How a trainer drives a sampler::

    sampler = negative_sampler_resolver.make("lmcluster", num_entities=n, num_negatives=k)
    sampler.fit(train_triples, entity_text)         # once
    for step in range(total_steps):
        sampler.step(step / total_steps)            # progress in [0, 1]: curricula use it
        negatives = sampler.sample(batch)           # [B, K, 3]

The registry ``negative_sampler_resolver`` is built here from the modules' classes (as PyKEEN's
``pykeen.sampling``), so no module registers itself on import: ``uniform``, ``bernoulli``
(:mod:`.uniform`), ``inbatch`` (:mod:`.inbatch`), ``lmcluster`` and ``lmnearest`` (:mod:`.lm`).
A new sampler is a module with a :class:`NegativeSampler` subclass, added to the list below.
"""

from __future__ import annotations

from class_resolver import ClassResolver

from kgforge.embed.sampling.base import NegativeSampler, Side, bernoulli_head_probabilities
from kgforge.embed.sampling.inbatch import InBatchNegativeSampler
from kgforge.embed.sampling.lm import (
    LMClusterNegativeSampler,
    LMNearestNegativeSampler,
    LMPoolNegativeSampler,
)
from kgforge.embed.sampling.uniform import BernoulliNegativeSampler, UniformNegativeSampler

__all__ = [
    "BernoulliNegativeSampler",
    "InBatchNegativeSampler",
    "LMClusterNegativeSampler",
    "LMNearestNegativeSampler",
    "LMPoolNegativeSampler",
    "NegativeSampler",
    "Side",
    "UniformNegativeSampler",
    "bernoulli_head_probabilities",
    "negative_sampler_resolver",
]

negative_sampler_resolver: ClassResolver[NegativeSampler] = ClassResolver(
    [
        UniformNegativeSampler,
        BernoulliNegativeSampler,
        InBatchNegativeSampler,
        LMClusterNegativeSampler,
        LMNearestNegativeSampler,
    ],
    base=NegativeSampler,
    default=UniformNegativeSampler,
    suffix="NegativeSampler",
)
