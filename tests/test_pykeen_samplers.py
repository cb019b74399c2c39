"""kgforge's LM samplers inside PyKEEN: the NegativeSampler API and a tiny pipeline run."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from pykeen.pipeline import pipeline
from pykeen.triples import TriplesFactory

import kgforge
from kgforge.embed import sampling
from kgforge.embed.pykeen_samplers import (
    PyKEENLMClusterNegativeSampler,
    PyKEENLMNearestNegativeSampler,
)
from kgforge.errors import DataError

GROUPS = {
    "animal": ["dog", "cat", "horse", "cow", "sheep", "lion", "tiger", "wolf"],
    "vehicle": ["car", "truck", "bus", "bicycle", "motorcycle", "train", "airplane", "boat"],
    "colour": ["red", "blue", "green", "yellow", "purple", "pink", "brown", "black"],
}
SAMPLERS = [PyKEENLMClusterNegativeSampler, PyKEENLMNearestNegativeSampler]


@pytest.fixture(scope="module")
def factories() -> tuple[TriplesFactory, TriplesFactory]:
    """Labels are words (so they are the text); relations link members of one group."""
    rng = np.random.default_rng(0)
    triples = []
    for group, words in GROUPS.items():
        for head in words:
            for tail in rng.choice(words, size=3, replace=False):
                if tail != head:
                    triples.append((head, f"same_{group}", str(tail)))
    labeled = np.array(sorted(set(triples)), dtype=str)
    tf = TriplesFactory.from_labeled_triples(labeled)
    train, test = tf.split([0.85, 0.15], random_state=0)
    return train, test


@pytest.fixture(autouse=True)
def _cache(tmp_path_factory, monkeypatch) -> None:
    monkeypatch.setenv("KGFORGE_CACHE", str(tmp_path_factory.getbasetemp() / "kgforge-cache"))


def test_top_level_names_are_the_pykeen_samplers() -> None:
    assert kgforge.PyKEENLMClusterNegativeSampler is PyKEENLMClusterNegativeSampler
    assert kgforge.PyKEENLMNearestNegativeSampler is PyKEENLMNearestNegativeSampler
    assert kgforge.BernoulliNegativeSampler is sampling.BernoulliNegativeSampler


@pytest.mark.parametrize("cls", SAMPLERS)
def test_corrupt_batch_shape_and_filtering(cls, factories) -> None:
    train, _ = factories
    sampler = cls(
        mapped_triples=train.mapped_triples,
        num_entities=train.num_entities,
        num_relations=train.num_relations,
        num_negs_per_pos=6,
        triples_factory=train,
        filtered=True,
        seed=0,
    )
    batch = train.mapped_triples[:10]
    neg = sampler.corrupt_batch(batch)
    assert neg.shape == (10, 6, 3)
    assert sampler.corrupt_batch(batch.view(2, 5, 3)).shape == (2, 5, 6, 3)
    negatives, mask = sampler.sample(batch)
    assert mask is None  # kgforge's filter redraws instead of dropping
    known = {tuple(t) for t in train.mapped_triples.tolist()}
    assert not any(tuple(t) in known for t in negatives.reshape(-1, 3).tolist())
    assert torch.equal(negatives[..., 1], batch[:, None, 1].expand(-1, 6))


def test_text_mapping_needs_the_factory(factories) -> None:
    train, _ = factories
    texts = {label: f"a {label}" for label in train.entity_to_id}
    kwargs = dict(mapped_triples=train.mapped_triples)
    sampler = PyKEENLMClusterNegativeSampler(entity_text=texts, triples_factory=train, **kwargs)
    assert sampler.core.num_entities == train.num_entities
    with pytest.raises(DataError):
        PyKEENLMClusterNegativeSampler(entity_text=texts, **kwargs)
    with pytest.raises(DataError):
        PyKEENLMClusterNegativeSampler(**kwargs)


def test_cluster_sampler_uses_the_text(factories) -> None:
    """Negatives for an animal's tail are mostly animals: the clusters follow the words."""
    train, _ = factories
    id_to_group = {train.entity_to_id[w]: g for g, words in GROUPS.items() for w in words}
    sampler = PyKEENLMClusterNegativeSampler(
        mapped_triples=train.mapped_triples,
        num_negs_per_pos=20,
        triples_factory=train,
        n_clusters=3,
        neighbor_clusters=0,
        corrupt="tail",
        seed=0,
    )
    batch = train.mapped_triples
    neg = sampler.corrupt_batch(batch)
    same = [
        id_to_group[int(h)] == id_to_group[int(t)]
        for h, t in zip(neg[..., 0].flatten(), neg[..., 2].flatten(), strict=True)
    ]
    assert np.mean(same) > 0.8


def test_curriculum_follows_training_progress(factories) -> None:
    train, _ = factories
    sampler = PyKEENLMNearestNegativeSampler(
        mapped_triples=train.mapped_triples,
        triples_factory=train,
        k=3,
        ratio=0.8,
        ratio_start=0.0,
        curriculum_epochs=2,
    )
    assert sampler.core.current_ratio == 0.0
    ratios = []
    for _ in range(2):  # two epochs in batches of 5
        for start in range(0, len(train.mapped_triples), 5):
            sampler.corrupt_batch(train.mapped_triples[start : start + 5])
        ratios.append(sampler.core.current_ratio)
    assert 0.3 < ratios[0] <= 0.4 + 1e-6 < 0.7 < ratios[1] <= 0.8 + 1e-6


@pytest.mark.parametrize("cls", SAMPLERS)
def test_pykeen_pipeline_runs_with_lm_sampler(cls, factories) -> None:
    train, test = factories
    result = pipeline(
        training=train,
        testing=test,
        model="TransE",
        model_kwargs=dict(embedding_dim=8),
        negative_sampler=cls,
        negative_sampler_kwargs=dict(num_negs_per_pos=4, triples_factory=train, filtered=True),
        training_kwargs=dict(num_epochs=2, batch_size=16, use_tqdm=False),
        evaluation_kwargs=dict(use_tqdm=False),
        random_seed=0,
    )
    assert len(result.losses) == 2 and all(np.isfinite(result.losses))
    mrr = result.metric_results.get_metric("both.realistic.inverse_harmonic_mean_rank")
    assert 0.0 < mrr <= 1.0


def test_pykeen_sampler_shares_kgforge_core(factories) -> None:
    train, _ = factories
    emb = np.random.default_rng(1).normal(size=(train.num_entities, 8)).astype(np.float32)
    sampler = PyKEENLMNearestNegativeSampler(
        mapped_triples=train.mapped_triples, embeddings=emb, k=4, ratio=1.0, seed=3
    )
    core = sampling.LMNearestNegativeSampler(
        train.num_entities, num_negatives=1, embeddings=emb, k=4, ratio=1.0, seed=3
    ).fit(train.mapped_triples)
    batch = train.mapped_triples[:12]
    assert isinstance(sampler.core, sampling.LMNearestNegativeSampler)
    assert torch.equal(sampler.corrupt_batch(batch), core.sample(batch))
