"""Datasets from an extracted graph (kgforge.embed.dataset): drops, adaptive splits, no leakage."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from rdflib.namespace import RDF

from kgforge.embed.data import KGData
from kgforge.embed.dataset import USEFUL_HELD_OUT, excluded_sentences
from kgforge.embed.pipeline import train
from kgforge.errors import KGForgeError
from kgforge.graph.namespaces import ENTITIES_GRAPH, KGF, TYPE
from kgforge.graph.store import KnowledgeGraph

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"


@pytest.fixture(scope="module")
def extracted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """data/sample through the default extraction pipeline: a small real graph with provenance."""
    import kgforge

    store = tmp_path_factory.mktemp("extracted") / "kg"
    kgforge.extract_corpus(SAMPLE, store, pipeline="default")
    return store


def _support(kg: KnowledgeGraph) -> dict[tuple[str, str, str], set[str]]:
    """Each fact's supporting sentences, read straight from the provenance nodes."""
    rows = kg.query(
        "SELECT ?s ?p ?o ?sentence WHERE { ?st a kgf:Statement ; rdf:subject ?s ; "
        "rdf:predicate ?p ; rdf:object ?o ; kgf:sentence ?sentence }"
    )
    out: dict[tuple[str, str, str], set[str]] = {}
    for row in rows:
        key = (str(row.s), str(row.p), str(row.o))
        out.setdefault(key, set()).add(" ".join(str(row.sentence).split()))
    return out


def _leaks(data: KGData, support: dict) -> list[tuple[str, str]]:
    """(entity, sentence) pairs where a held-out triple's sentence is in its entity's text."""
    text = dict(zip(data.entities, data.entity_text, strict=True))
    found = []
    for split in ("valid", "test"):
        for h, r, t in data.labeled_triples(split):
            for sentence in support.get((h, r, t), ()):
                found += [(e, sentence) for e in (h, t) if sentence in " ".join(text[e].split())]
    return found


@pytest.mark.parametrize("inductive", [False, True])
def test_no_heldout_supporting_sentence_in_entity_text(
    extracted: Path, tmp_path: Path, inductive: bool
) -> None:
    with KnowledgeGraph.open(extracted) as kg:
        support = _support(kg)
        data = KGData.from_graph(kg, inductive=inductive, seed=1)
        leaky = KGData.from_graph(kg, inductive=inductive, seed=1, leakage_free=False)
    assert len(data.valid) and len(data.test)
    held = {t for s in ("valid", "test") for t in data.labeled_triples(s)}
    assert held & set(support)  # held-out triples with provenance exist
    assert _leaks(leaky, support)  # without the exclusion the sentences are there ...
    assert _leaks(data, support) == []  # ... and with it none is
    assert torch.equal(data.test, leaky.test) and torch.equal(data.train, leaky.train)
    # the data directory lists every sentence taken out, for which entity and triple
    root = data.to_dir(tmp_path / "data")
    listed = list(excluded_sentences(root / "excluded_sentences.tsv"))
    assert {(e.entity, e.sentence) for e in listed} == set(_leaks(leaky, support))
    assert all((e.head, e.relation, e.tail) in held for e in listed)
    report = json.loads((root / "dataset.json").read_text(encoding="utf-8"))
    assert report["excluded_sentences"] == len(listed)
    assert report["triples"] == {"train": len(data.train), "valid": len(data.valid),
                                 "test": len(data.test)}  # fmt: skip
    # texts lose only the excluded sentences: an entity without any keeps its text
    untouched = set(data.entities) - {e.entity for e in listed}
    same = dict(zip(leaky.entities, leaky.entity_text, strict=True))
    assert all(t == same[e] for e, t in zip(data.entities, data.entity_text, strict=True)
               if e in untouched)  # fmt: skip
    assert KGData.load_dir(root).entity_text == data.entity_text


def test_type_statements_and_rare_relations_are_dropped_and_reported(extracted: Path) -> None:
    with KnowledgeGraph.open(extracted) as kg:
        plain = KGData.from_graph(kg)
        typed = KGData.from_graph(kg, keep_types=True)
        common = KGData.from_graph(kg, min_relation_count=2)
        n_types = len(
            {
                (s, o)
                for s, _, o, g in kg.quads((None, KGF.isA, None, None))
                if str(o).startswith(str(TYPE)) and g != ENTITIES_GRAPH
            }
        )
    assert n_types and plain.report.type_statements == n_types
    # "X is a C" is kgf:isA since issue 10 (rdf:type only with resolution.is_a: rdf:type)
    assert str(KGF.isA) not in plain.relations and str(KGF.isA) in typed.relations
    assert str(RDF.type) not in typed.relations
    assert typed.relation_text[typed.relation_to_id[str(KGF.isA)]] == "is a"
    assert len(typed.all_triples()) == len(plain.all_triples()) + n_types
    assert "dropped (--keep-types keeps them)" in plain.report.summary()
    assert "kept as relations" in typed.report.summary()
    counts = torch.bincount(plain.all_triples()[:, 1], minlength=plain.num_relations)
    rare = {plain.relations[i] for i in torch.nonzero(counts < 2).flatten().tolist()}
    assert rare and set(common.report.dropped_relations) == rare
    assert not rare & set(common.relations)
    assert f"dropped {len(rare)} relations ({len(rare)} triples)" in common.report.summary()
    with (
        pytest.raises(KGForgeError, match="no entity-to-entity facts"),
        KnowledgeGraph.open(extracted) as kg,
    ):
        KGData.from_graph(kg, min_relation_count=10_000)


def test_small_graphs_adapt_or_say_what_would_work(extracted: Path) -> None:
    with KnowledgeGraph.open(extracted) as kg:
        n = len(KGData.from_graph(kg, valid_fraction=0.0, test_fraction=0.0).train)
        data = KGData.from_graph(kg)  # unset shares: raised on a small graph, cut to what fits
        assert data.report.shares["test"] == pytest.approx(min(0.2, USEFUL_HELD_OUT / n))
        assert 0 < len(data.test) < round(n * data.report.shares["test"])
        assert any("not the" in w and "test triples" in w for w in data.report.warnings)
        assert any(f"under {USEFUL_HELD_OUT}" in w for w in data.report.warnings)
        with pytest.raises(KGForgeError, match=r"could hold out only \d+ of \d+ test triples.*"
                           r"at most --test 0\.\d+"):  # fmt: skip
            KGData.from_graph(kg, test_fraction=0.3, valid_fraction=0.1)
        ind = KGData.from_graph(kg, inductive=True)
        assert ind.report.held_out_entities["test"] > 0
        with pytest.raises(KGForgeError, match=r"could hold out only (\d+) of 60 test entities"):
            KGData.from_graph(kg, inductive=True, test_fraction=60)


def test_train_takes_kgdata_a_knowledge_graph_or_a_path(extracted: Path, tmp_path: Path) -> None:
    config = {
        "model": {"encoder": "lookup", "dim": 8},
        "training": {"epochs": 2, "batch_size": 16},
        "evaluation": {"every_epochs": None, "final_valid": True, "test": True},
    }
    with KnowledgeGraph.open(extracted) as kg:
        data = KGData.from_graph(kg, seed=3)
        from_data = train(config, data=data, output=tmp_path / "a")
        from_graph = train(config, data=kg, output=tmp_path / "b")
        default = KGData.from_graph(kg)  # what train() makes of a knowledge graph
    from_dir = train(config, data=tmp_path / "a" / "data", output=tmp_path / "c")
    assert from_data.test["num_triples"] == len(data.test) == from_dir.test["num_triples"]
    assert from_graph.test["num_triples"] == len(default.test)
    assert KGData.load_dir(tmp_path / "b" / "data").entity_text == default.entity_text
    assert KGData.load_dir(tmp_path / "a" / "data").entities == data.entities
    assert (tmp_path / "a" / "data" / "excluded_sentences.tsv").is_file()
    # the same data in memory and from its directory: the same run
    assert from_data.test["both"] == from_dir.test["both"]
    assert str(tmp_path / "a" / "data") in (tmp_path / "a" / "config.yaml").read_text()
    with pytest.raises(KGForgeError, match="a KGData or a KnowledgeGraph, not int"):
        train(config, data=3, output=tmp_path / "d")


def test_cli_dataset_prints_the_summary(extracted: Path, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from kgforge.cli import app

    out = tmp_path / "data"
    result = CliRunner().invoke(
        app, ["dataset", str(extracted), "-o", str(out), "--inductive", "--keep-types",
              "--min-relation-count", "2"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "inductive (held-out entities)" in result.output
    assert "type statements (is_a)" in result.output and "kept as relations" in result.output
    assert "fewer than --min-relation-count 2" in result.output
    assert "leakage-free text:" in result.output and "warning: test has" in result.output
    assert (out / "excluded_sentences.tsv").is_file() and (out / "dataset.json").is_file()
    result = CliRunner().invoke(
        app, ["dataset", str(extracted), "-o", str(tmp_path / "x"), "--inductive", "--test", "60"]
    )
    assert result.exit_code == 1 and "leave --test unset" in str(result.exception)
    assert not (tmp_path / "x").exists()
