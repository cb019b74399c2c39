"""Inductive splits: hold out entities, not just triples (the protocol of the BLP paper).

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
) -> InductiveSplit:
    """Split index triples ``[n, 3]`` by dropping entities (see the module docstring).

    ``num_test_entities``/``num_valid_entities`` are counts (int) or fractions of all entities
    (float below 1). The same ``seed`` gives the same split. Raises ``DataError`` when the
    graph cannot lose that many entities under the constraints.
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
        if len(got) < want:
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
