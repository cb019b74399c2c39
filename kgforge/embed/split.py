"""Splits of index triples: transductive (hold out triples) and inductive (hold out entities).

Transductive (:func:`random_split`): triples are held out in a seeded random order, each only if
its head, tail and relation keep a training triple, so every held-out entity and relation is seen
in training; on a sparse graph (most entities with one triple) fewer triples than asked can be
held out, and the split says how many it could.

Inductive (:func:`make_inductive_split`), the protocol of the BLP paper:

Daza, Cochez & Groth, "Inductive Entity Representations from Text via Link Prediction" (WWW
2021) build inductive benchmarks by dropping entities from the graph one at a time, in random
order, keeping a drop only if

- no neighbour of the dropped entity is left without edges (the training graph keeps every
  remaining entity connected to something), and
- every relation keeps at least ``min_relation_edges`` edges in the remaining graph.

Test entities are dropped first, then validation entities from what is left. Triples touching a
test entity form the test set; triples touching a validation entity but no test entity form the
validation set; the rest is training. So no test entity occurs in train or valid, no validation
entity occurs in train, and every relation of valid/test is seen in training.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from kgforge.errors import ConfigError, DataError


@dataclass(frozen=True)
class InductiveSplit:
    """Triples per split and the entities held out for validation and test."""

    train: torch.Tensor
    valid: torch.Tensor
    test: torch.Tensor
    valid_entities: torch.Tensor
    test_entities: torch.Tensor


def make_inductive_split(
    triples: torch.Tensor,
    num_test_entities: int | float = 0.1,
    num_valid_entities: int | float = 0.1,
    min_relation_edges: int = 1,
    seed: int = 0,
    allow_fewer: bool = False,
) -> InductiveSplit:
    """Split index triples ``[n, 3]`` by dropping entities (see the module docstring).

    ``num_test_entities``/``num_valid_entities`` are counts (int) or fractions of all entities
    (float below 1). The same ``seed`` gives the same split. Raises ``DataError`` when the
    graph cannot lose that many entities under the constraints, unless ``allow_fewer``: then
    the split holds out as many as it could (``len(split.test_entities)`` says how many).
    """
    triples = torch.as_tensor(triples, dtype=torch.long).reshape(-1, 3)
    if min_relation_edges < 1:
        raise ConfigError("must be at least 1", field="min_relation_edges")
    if len(triples) == 0:
        raise DataError("no triples to split")
    triples = torch.unique(triples, dim=0)
    heads, rels, tails = (triples[:, i].numpy() for i in range(3))
    entities = np.unique(np.concatenate([heads, tails]))
    n_test = _count(num_test_entities, len(entities), "num_test_entities")
    n_valid = _count(num_valid_entities, len(entities), "num_valid_entities")
    if n_test + n_valid >= len(entities):
        raise ConfigError(
            f"{n_test} test + {n_valid} valid entities leave none of the {len(entities)} "
            "entities for training",
            field="num_test_entities",
        )

    graph = _Graph(heads, rels, tails)
    if (graph.relation_edges < min_relation_edges)[np.unique(rels)].any():
        raise DataError(
            f"some relations have fewer than min_relation_edges={min_relation_edges} edges "
            "to begin with"
        )
    order = np.random.default_rng(seed).permutation(entities)
    test_entities, position = graph.drop(order, 0, n_test, min_relation_edges)
    valid_entities, _ = graph.drop(order, position, n_valid, min_relation_edges)
    for name, want, got in (("test", n_test, test_entities), ("valid", n_valid, valid_entities)):
        if len(got) < want and not allow_fewer:
            raise DataError(
                f"could hold out only {len(got)} of {want} {name} entities without isolating a "
                f"neighbour or taking a relation below {min_relation_edges} edges"
            )

    is_test = np.zeros(graph.num_nodes, dtype=bool)
    is_test[test_entities] = True
    is_valid = np.zeros(graph.num_nodes, dtype=bool)
    is_valid[valid_entities] = True
    touches_test = is_test[heads] | is_test[tails]
    touches_valid = (is_valid[heads] | is_valid[tails]) & ~touches_test
    train_mask = ~(touches_test | touches_valid)
    as_tensor = torch.from_numpy
    return InductiveSplit(
        train=triples[as_tensor(train_mask)],
        valid=triples[as_tensor(touches_valid)],
        test=triples[as_tensor(touches_test)],
        valid_entities=torch.sort(as_tensor(valid_entities).long()).values,
        test_entities=torch.sort(as_tensor(test_entities).long()).values,
    )


def check_fractions(valid_fraction: float, test_fraction: float) -> None:
    """Shares of valid and test triples that leave some for training, else ``ConfigError``."""
    for name, value in (("valid_fraction", valid_fraction), ("test_fraction", test_fraction)):
        if not 0 <= value < 1:
            raise ConfigError(f"must be a fraction in [0, 1), got {value}", field=name)
    if valid_fraction + test_fraction >= 1:
        raise ConfigError(
            f"valid_fraction {valid_fraction} + test_fraction {test_fraction} leave no "
            "training triples: they must sum to less than 1",
            field="valid_fraction",
        )


def random_split(
    triples: torch.Tensor, valid_fraction: float, test_fraction: float, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A transductive split of index triples ``[n, 3]`` into train, valid and test.

    Triples are visited in a seeded random order; one is held out only if its head, its tail
    and its relation each keep another training triple, and goes to whichever of test and
    valid is further below its target (``round(n * fraction)``), so a graph that allows fewer
    held-out triples than asked shares them out in proportion. So every entity and relation of valid and test occurs in train,
    and on a graph where most entities have a single triple the held-out sets come out
    smaller than asked (never an error: compare their sizes with the fractions).

    >>> train, valid, test = random_split(triples, 0.1, 0.1, seed=0)   # doctest: +SKIP
    """
    check_fractions(valid_fraction, test_fraction)
    triples = torch.as_tensor(triples, dtype=torch.long).reshape(-1, 3)
    if len(triples) == 0:
        return triples, triples.clone(), triples.clone()
    heads, rels, tails = (triples[:, i].numpy() for i in range(3))
    num_nodes = int(max(heads.max(), tails.max())) + 1
    # an edge counts once towards each distinct endpoint (a self-loop once)
    degree = np.bincount(np.concatenate([heads, tails[heads != tails]]), minlength=num_nodes)
    relation_edges = np.bincount(rels)
    order = torch.randperm(len(triples), generator=torch.Generator().manual_seed(seed)).numpy()
    wanted = [int(round(len(triples) * f)) for f in (test_fraction, valid_fraction)]
    held: list[list[int]] = [[], []]
    for i in order:
        # the split furthest below its target takes the next triple that may go
        open_parts = [p for p in (0, 1) if len(held[p]) < wanted[p]]
        if not open_parts:
            break
        h, r, t = heads[i], rels[i], tails[i]
        if degree[h] < 2 or degree[t] < 2 or relation_edges[r] < 2:
            continue
        degree[h] -= 1
        if t != h:
            degree[t] -= 1
        relation_edges[r] -= 1
        part = min(open_parts, key=lambda p: (len(held[p]) / wanted[p], p))
        held[part].append(int(i))
    is_held = np.zeros(len(triples), dtype=bool)
    is_held[held[0] + held[1]] = True
    train = triples[torch.from_numpy(~is_held)]
    test, valid = (triples[torch.tensor(sorted(ids), dtype=torch.long)] for ids in held)
    return train, valid.reshape(-1, 3), test.reshape(-1, 3)


def _count(value: int | float, total: int, name: str) -> int:
    if isinstance(value, float) and not value.is_integer():
        if not 0 < value < 1:
            raise ConfigError(f"as a fraction must lie between 0 and 1, got {value}", field=name)
        return int(round(value * total))
    if value < 0:
        raise ConfigError(f"must not be negative, got {value}", field=name)
    return int(value)


class _Graph:
    """The remaining (training) graph, as edge lists per entity with live-edge bookkeeping."""

    def __init__(self, heads: np.ndarray, rels: np.ndarray, tails: np.ndarray) -> None:
        self.heads, self.rels, self.tails = heads, rels, tails
        self.num_nodes = int(max(heads.max(), tails.max())) + 1
        self.alive = np.ones(len(heads), dtype=bool)
        self.relation_edges = np.bincount(rels, minlength=int(rels.max()) + 1)
        # an edge counts once towards each distinct endpoint (a self-loop once)
        ends = np.concatenate([heads, tails[heads != tails]])
        edge_ids = np.concatenate([np.arange(len(heads)), np.flatnonzero(heads != tails)])
        self.degree = np.bincount(ends, minlength=self.num_nodes)
        order = np.argsort(ends, kind="stable")
        self.edge_ids = edge_ids[order]
        self.offsets = np.concatenate([[0], np.cumsum(self.degree)])

    def drop(
        self, order: np.ndarray, start: int, count: int, min_relation_edges: int
    ) -> tuple[np.ndarray, int]:
        """Drop up to ``count`` entities, trying them in ``order`` from ``start`` on."""
        dropped: list[int] = []
        position = start
        while len(dropped) < count and position < len(order):
            entity = int(order[position])
            position += 1
            if self._try_drop(entity, min_relation_edges):
                dropped.append(entity)
        return np.array(dropped, dtype=np.int64), position

    def _try_drop(self, entity: int, min_relation_edges: int) -> bool:
        edges = self.edge_ids[self.offsets[entity] : self.offsets[entity + 1]]
        edges = edges[self.alive[edges]]
        if len(edges) == 0:  # already cut off: dropping it would hold out no triple
            return False
        heads, tails = self.heads[edges], self.tails[edges]
        neighbours = np.where(heads == entity, tails, heads)
        neighbours = neighbours[neighbours != entity]
        nodes, lost = np.unique(neighbours, return_counts=True)
        if (self.degree[nodes] - lost < 1).any():
            return False
        rels, rel_lost = np.unique(self.rels[edges], return_counts=True)
        if (self.relation_edges[rels] - rel_lost < min_relation_edges).any():
            return False
        self.alive[edges] = False
        self.degree[nodes] -= lost
        self.degree[entity] = 0
        self.relation_edges[rels] -= rel_lost
        return True
