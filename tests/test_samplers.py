"""Contracts of kgforge's negative samplers (shape, filtering, LM pools, seeds, fallback)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from kgforge.embed.sampling import (
    BernoulliNegativeSampler,
    LMClusterNegativeSampler,
    LMNearestNegativeSampler,
    UniformNegativeSampler,
    bernoulli_head_probabilities,
    negative_sampler_resolver,
)
from kgforge.errors import DataError

ANIMALS = ["dog", "cat", "horse", "cow", "sheep", "lion", "tiger", "wolf", "rabbit", "goat"]
VEHICLES = ["car", "truck", "bus", "bicycle", "motorcycle", "train", "airplane", "boat", "tram"]
COLOURS = ["red", "blue", "green", "yellow", "purple", "pink", "brown", "black", "white"]
TEXTS = ANIMALS + VEHICLES + COLOURS
N = len(TEXTS)


def random_triples(n_entities: int, n_triples: int, n_relations: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    triples = torch.stack(
        [
            torch.randint(n_entities, (n_triples,), generator=g),
            torch.randint(n_relations, (n_triples,), generator=g),
            torch.randint(n_entities, (n_triples,), generator=g),
        ],
        dim=1,
    )
    return torch.unique(triples, dim=0)


@pytest.fixture(scope="module")
def blobs() -> np.ndarray:
    """Three well-separated groups of vectors, aligned with ANIMALS / VEHICLES / COLOURS."""
    rng = np.random.default_rng(0)
    centres = np.eye(3, 16) * 10
    groups = [len(ANIMALS), len(VEHICLES), len(COLOURS)]
    return np.concatenate(
        [c + rng.normal(size=(n, 16)) for c, n in zip(centres, groups, strict=True)]
    ).astype(np.float32)


def group_of(entities: torch.Tensor) -> torch.Tensor:
    bounds = torch.tensor([len(ANIMALS), len(ANIMALS) + len(VEHICLES)])
    return torch.bucketize(entities.contiguous(), bounds, right=True)


def make(name: str, blobs: np.ndarray, tmp_path, **kwargs):
    if name.startswith("lm"):
        kwargs = {"embeddings": blobs, "cache_dir": tmp_path, **kwargs}
    return negative_sampler_resolver.make(name, num_entities=N, **kwargs)


ALL = sorted(negative_sampler_resolver.options)


def test_registry_has_every_sampler() -> None:
    assert {"uniform", "bernoulli", "inbatch", "lmcluster", "lmnearest"} <= set(ALL)


@pytest.mark.parametrize("name", ALL)
def test_shape_device_and_one_side_changed(name, blobs, tmp_path) -> None:
    train = random_triples(N, 120, 3, seed=1)
    sampler = make(name, blobs, tmp_path, num_negatives=7, seed=0).fit(train)
    batch = train[:16]
    neg = sampler.sample(batch)
    assert neg.shape == (16, 7, 3) and neg.dtype == torch.long and neg.device == batch.device
    pos = batch.unsqueeze(1).expand_as(neg)
    assert torch.equal(neg[..., 1], pos[..., 1])
    head_changed = neg[..., 0] != pos[..., 0]
    tail_changed = neg[..., 2] != pos[..., 2]
    assert torch.all(head_changed ^ tail_changed)
    assert neg.min() >= 0 and neg.max() < N


@pytest.mark.parametrize("name", ALL)
def test_filtering_removes_known_triples(name, blobs, tmp_path) -> None:
    # dense graph: about half the corruptions of a triple are themselves training triples
    train = random_triples(N, 500, 1, seed=2)
    batch = train[:64]
    raw = make(name, blobs, tmp_path, num_negatives=16, seed=0).fit(train)
    assert raw.is_known(raw.sample(batch)).any()  # the test can fail
    sampler = make(name, blobs, tmp_path, num_negatives=16, seed=0, filtered=True).fit(train)
    assert not sampler.is_known(sampler.sample(batch)).any()


def test_extra_known_triples_are_filtered_too(blobs, tmp_path) -> None:
    train = random_triples(N, 40, 1, seed=3)
    held_out = random_triples(N, 800, 1, seed=4)
    sampler = UniformNegativeSampler(N, num_negatives=32, filtered=True, known_triples=held_out)
    neg = sampler.fit(train).sample(train)
    keys = {tuple(t) for t in held_out.tolist()}
    assert not any(tuple(t) in keys for t in neg.reshape(-1, 3).tolist())


@pytest.mark.parametrize("name", ALL)
def test_candidates_train_keeps_unseen_entities_out(name, blobs, tmp_path) -> None:
    """Inductive training: entities outside the training triples are never negatives."""
    unseen = torch.tensor([3, 4, 12, 13, 22, 23])  # some of each group
    seen = torch.tensor([i for i in range(N) if i not in set(unseen.tolist())])
    g = torch.Generator().manual_seed(11)
    train = seen[torch.randint(len(seen), (300, 3), generator=g)]
    train[:, 1] = torch.randint(2, (300,), generator=g)
    sampler = make(name, blobs, tmp_path, num_negatives=32, seed=0, candidates="train")
    neg = sampler.fit(train).sample(train[:64])
    assert not torch.isin(neg[..., [0, 2]], unseen).any()
    # the same sampler over all entities does draw them (the test can fail)
    everyone = make(name, blobs, tmp_path, num_negatives=32, seed=0).fit(train)
    if name != "inbatch":  # in-batch negatives are batch entities anyway
        assert torch.isin(everyone.sample(train[:64])[..., [0, 2]], unseen).any()


@pytest.mark.parametrize("name", ALL)
def test_same_seed_same_negatives(name, blobs, tmp_path) -> None:
    train = random_triples(N, 120, 3, seed=5)

    def run(seed: int) -> torch.Tensor:
        sampler = make(name, blobs, tmp_path, num_negatives=8, seed=seed, filtered=True)
        return sampler.fit(train).sample(train[:32])

    assert torch.equal(run(7), run(7))
    assert not torch.equal(run(7), run(8))


@pytest.mark.parametrize("neighbors", [0, 1])
def test_lm_cluster_negatives_come_from_allowed_clusters(neighbors, blobs, tmp_path) -> None:
    train = random_triples(N, 200, 2, seed=6)
    sampler = LMClusterNegativeSampler(
        N,
        num_negatives=16,
        n_clusters=3,
        neighbor_clusters=neighbors,
        embeddings=blobs,
        cache_dir=tmp_path,
        seed=0,
    ).fit(train)
    ids = torch.arange(N)
    # k-means recovers the three groups
    pairs = zip(sampler.cluster_of(ids).tolist(), group_of(ids).tolist(), strict=True)
    assert len(set(pairs)) == 3
    batch = train[:50]
    corrupt_head = torch.rand(50, 16) < 0.5
    kept = torch.where(corrupt_head, batch[:, None, 2], batch[:, None, 0])
    drawn = sampler.replacements(batch, corrupt_head)
    for anchor, new in zip(kept.flatten().tolist(), drawn.flatten().tolist(), strict=True):
        allowed = sampler.allowed_clusters(anchor)
        assert len(allowed) == neighbors + 1
        assert allowed[0] == int(sampler.cluster_of(torch.tensor(anchor)))
        assert int(sampler.cluster_of(torch.tensor(new))) in allowed
    # sample() keeps them, except draws equal to the replaced entity (moved elsewhere)
    neg = sampler.sample(batch)
    changed_head = neg[..., 0] != batch[:, None, 0]
    kept = torch.where(changed_head, batch[:, None, 2], batch[:, None, 0])
    replaced = torch.where(changed_head, neg[..., 0], neg[..., 2])
    if neighbors == 0:
        assert (group_of(kept) == group_of(replaced)).float().mean() > 0.85


def test_lm_cluster_with_real_text_groups_like_with_like(tmp_path) -> None:
    """MiniLM (offline) on tiny texts: negatives for an animal are animals, etc."""
    train = torch.tensor([[i, 0, (i + 1) % N] for i in range(N)])
    sampler = LMClusterNegativeSampler(
        N,
        num_negatives=20,
        n_clusters=3,
        neighbor_clusters=0,
        corrupt="tail",
        cache_dir=tmp_path,
        seed=0,
    ).fit(train, TEXTS)
    neg = sampler.sample(train)
    kept, replaced = train[:, None, 0].expand(-1, 20), neg[..., 2]
    same = (group_of(kept) == group_of(replaced)).float().mean()
    assert same > 0.9  # uniform draws would give about 1/3
    assert list((tmp_path / "samplers").glob("lmcluster-*.npz"))  # pools cached on disk


def test_pools_are_cached_on_disk(blobs, tmp_path, monkeypatch) -> None:
    train = random_triples(N, 50, 1, seed=7)
    first = LMNearestNegativeSampler(N, k=4, embeddings=blobs, cache_dir=tmp_path).fit(train)

    def fail(*args, **kwargs):
        raise AssertionError("pools should come from the cache")

    monkeypatch.setattr(LMNearestNegativeSampler, "build_pools", fail)
    again = LMNearestNegativeSampler(N, k=4, embeddings=blobs, cache_dir=tmp_path).fit(train)
    ids = torch.arange(N)
    assert torch.equal(first.neighbors_of(ids), again.neighbors_of(ids))
    with pytest.raises(AssertionError):  # other parameters: not the same cache entry
        LMNearestNegativeSampler(N, k=3, embeddings=blobs, cache_dir=tmp_path).fit(train)


def test_cos_floor_falls_back_to_uniform(blobs, tmp_path) -> None:
    train = random_triples(N, 200, 2, seed=8)
    kwargs = dict(n_clusters=3, neighbor_clusters=0, embeddings=blobs, cache_dir=tmp_path)
    kwargs |= dict(num_negatives=32, corrupt="tail", seed=0)
    batch = train[:40]
    kept = batch[:, None, 0].expand(-1, 32)
    near = LMClusterNegativeSampler(N, cos_floor=0.5, **kwargs).fit(train).sample(batch)[..., 2]
    assert (group_of(near) == group_of(kept)).float().mean() > 0.9
    # no candidate can reach a cosine above 1: every draw falls back to uniform
    far = LMClusterNegativeSampler(N, cos_floor=1.5, **kwargs).fit(train).sample(batch)[..., 2]
    assert (group_of(far) != group_of(kept)).float().mean() > 0.4


def test_filtering_falls_back_to_uniform_when_pool_is_exhausted(blobs, tmp_path) -> None:
    # every (animal, r, animal) is a known triple: an animal's pool (animals only) has no negative
    animals = torch.arange(len(ANIMALS))
    train = torch.cartesian_prod(animals, torch.tensor([0]), animals)
    sampler = LMClusterNegativeSampler(
        N,
        num_negatives=16,
        n_clusters=3,
        neighbor_clusters=0,
        corrupt="tail",
        filtered=True,
        embeddings=blobs,
        cache_dir=tmp_path,
        seed=0,
    ).fit(train)
    neg = sampler.sample(train[:20])
    assert not sampler.is_known(neg).any()
    assert torch.all(group_of(neg[..., 2]) != 0)  # all came from outside the exhausted pool


def test_lm_nearest_ratio_and_curriculum(blobs, tmp_path) -> None:
    train = random_triples(N, 200, 2, seed=9)
    batch = train[:40]
    common = dict(k=3, embeddings=blobs, cache_dir=tmp_path, num_negatives=16, corrupt="tail")
    hard = LMNearestNegativeSampler(N, ratio=1.0, seed=0, **common).fit(train)
    neg = hard.sample(batch)
    neighbours = hard.neighbors_of(batch[:, 2])  # anchor="replaced": the true tail
    in_knn = (neg[..., 2].unsqueeze(-1) == neighbours.unsqueeze(1)).any(-1)
    assert in_knn.float().mean() > 0.95  # the rest: a neighbour equal to the tail, shifted
    # neighbours are the most similar entities: same group for these blobs
    assert torch.all(group_of(neighbours) == group_of(batch[:, 2]).unsqueeze(1))

    curriculum = LMNearestNegativeSampler(N, ratio=1.0, ratio_start=0.0, seed=0, **common)
    curriculum.fit(train)
    curriculum.step(0.0)
    early = curriculum.sample(batch)[..., 2]
    in_knn_early = (early.unsqueeze(-1) == neighbours.unsqueeze(1)).any(-1).float().mean()
    curriculum.step(0.5)
    assert curriculum.current_ratio == pytest.approx(0.5)
    curriculum.step(1.0)
    late = curriculum.sample(batch)[..., 2]
    in_knn_late = (late.unsqueeze(-1) == neighbours.unsqueeze(1)).any(-1).float().mean()
    assert in_knn_early < 0.5 < in_knn_late


def test_bernoulli_probabilities_follow_fanout() -> None:
    # relation 0: one-to-many (each head has 4 tails); relation 1: many-to-one
    one_to_many = [[h, 0, 10 + 4 * h + i] for h in range(3) for i in range(4)]
    many_to_one = [[10 + 4 * t + i, 1, t] for t in range(3) for i in range(4)]
    triples = torch.tensor(one_to_many + many_to_one)
    prob = bernoulli_head_probabilities(triples)
    assert prob[0] > 0.7 and prob[1] < 0.3 and prob[0] + prob[1] == pytest.approx(1.0)

    sampler = BernoulliNegativeSampler(30, num_negatives=200, seed=0).fit(triples)
    neg = sampler.sample(triples)
    head_changed = (neg[..., 0] != triples[:, None, 0]).float()
    assert head_changed[:12].mean() > 0.65 and head_changed[12:].mean() < 0.35


def test_lm_sampler_needs_text_or_embeddings(blobs, tmp_path) -> None:
    train = random_triples(N, 20, 1, seed=10)
    with pytest.raises(DataError):
        LMClusterNegativeSampler(N, cache_dir=tmp_path).fit(train)
    with pytest.raises(DataError):
        LMNearestNegativeSampler(N + 1, embeddings=blobs, cache_dir=tmp_path).fit(train)
