"""The inductive split maker keeps BLP's guarantees."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
import torch

from kgforge.embed.split import make_inductive_split
from kgforge.errors import DataError


def random_graph(num_entities: int = 300, num_relations: int = 6, num_triples: int = 1500):
    g = torch.Generator().manual_seed(7)
    heads = torch.randint(num_entities, (num_triples,), generator=g)
    tails = torch.randint(num_entities, (num_triples,), generator=g)
    # skewed relation frequencies so the minimum-edges rule bites for the rare ones
    rels = torch.multinomial(
        torch.tensor([0.5, 0.25, 0.15, 0.07, 0.02, 0.01])[:num_relations],
        num_triples,
        replacement=True,
        generator=g,
    )
    return torch.unique(torch.stack([heads, rels, tails], 1), dim=0)


def entities_of(triples: torch.Tensor) -> set[int]:
    return set(triples[:, [0, 2]].flatten().tolist())


@pytest.mark.parametrize("min_edges", [1, 12])
def test_guarantees(min_edges: int) -> None:
    triples = random_graph()
    split = make_inductive_split(triples, 30, 0.1, min_relation_edges=min_edges, seed=1)
    test_ents = set(split.test_entities.tolist())
    valid_ents = set(split.valid_entities.tolist())
    assert len(test_ents) == 30 and len(valid_ents) == 30 and not test_ents & valid_ents
    # every triple lands in exactly one split
    together = torch.cat([split.train, split.valid, split.test])
    assert len(together) == len(triples)
    assert {tuple(t) for t in together.tolist()} == {tuple(t) for t in triples.tolist()}
    # test entities only in test; validation entities never in train
    assert not test_ents & (entities_of(split.train) | entities_of(split.valid))
    assert not valid_ents & entities_of(split.train)
    assert all(h in test_ents or t in test_ents for h, _, t in split.test.tolist())
    assert all(h in valid_ents or t in valid_ents for h, _, t in split.valid.tolist())
    # no neighbour isolated: every entity not held out keeps a training triple
    assert entities_of(split.train) == entities_of(triples) - test_ents - valid_ents
    # every relation keeps its minimum number of training edges
    before = Counter(triples[:, 1].tolist())
    after = Counter(split.train[:, 1].tolist())
    assert all(after[r] >= min(min_edges, n) for r, n in before.items())
    assert min(after.values()) >= min_edges


def test_seeded() -> None:
    triples = random_graph()
    a = make_inductive_split(triples, 20, 20, seed=5)
    b = make_inductive_split(triples[torch.randperm(len(triples))], 20, 20, seed=5)
    c = make_inductive_split(triples, 20, 20, seed=6)
    assert torch.equal(a.test_entities, b.test_entities) and torch.equal(a.train, b.train)
    assert not torch.equal(a.test_entities, c.test_entities)


def test_relation_minimum_limits_what_can_be_dropped() -> None:
    # a star: dropping the hub would isolate every leaf, and each leaf carries the only edge
    # of its own relation, so nothing can go
    star = torch.tensor([[0, r, leaf] for r, leaf in enumerate(range(1, 9))])
    with pytest.raises(DataError, match="could hold out only 0 of 2 test entities"):
        make_inductive_split(star, 2, 1, min_relation_edges=1)
    # with a shared relation, leaves can go until the relation hits its minimum
    shared = star.clone()
    shared[:, 1] = 0
    split = make_inductive_split(shared, 3, 2, min_relation_edges=3, seed=0)
    assert len(split.train) == 3 and 0 not in set(split.test_entities.tolist())
    with pytest.raises(DataError):
        make_inductive_split(shared, 4, 2, min_relation_edges=3)


def test_split_command_writes_a_data_directory(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from kgforge.cli import app
    from kgforge.embed.data import KGData

    triples = random_graph(120, 4, 600)
    source = tmp_path / "raw"
    source.mkdir()
    (source / "train.tsv").write_text(
        "".join(f"e{h}\tr{r}\te{t}\n" for h, r, t in triples.tolist()), encoding="utf-8"
    )
    out = tmp_path / "split"
    result = CliRunner().invoke(
        app,
        [
            "split",
            str(source),
            "--output",
            str(out),
            "--test",
            "10",
            "--valid",
            "10",
            "--seed",
            "2",
        ],
    )
    assert result.exit_code == 0, result.output
    data = KGData.load_dir(out)
    assert len(data.train) + len(data.valid) + len(data.test) == len(triples)
    test_only = set(data.split_entities("test").tolist()) - set(
        torch.cat([data.train, data.valid])[:, [0, 2]].flatten().tolist()
    )
    assert len(test_only) == 10
