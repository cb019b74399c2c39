"""Issue 12 #11: triple formats never flatten a dataset silently; #15: a bad --graph IRI."""

from __future__ import annotations

from pathlib import Path

import pytest
from rdflib import URIRef

from kgforge.errors import KGForgeError
from kgforge.graph.namespaces import document_iri
from kgforge.graph.store import KnowledgeGraph

DOC = document_iri("letters")  # the named graph of conftest's fill()


@pytest.mark.parametrize("fmt", ["ttl", "nt"])
def test_triple_format_export_of_a_dataset_needs_a_choice(
    kg: KnowledgeGraph, tmp_path: Path, fmt: str
) -> None:
    out = tmp_path / f"out.{fmt}"
    with pytest.raises(KGForgeError, match="named graph.*--graph IRI.*--union"):
        kg.export(out)
    assert not out.exists()
    one = KnowledgeGraph.open(":memory:")
    one.load(kg.export(out, graph=DOC))
    assert len(one) == 1  # the document's one triple
    merged = KnowledgeGraph.open(":memory:")
    merged.load(kg.export(out, union=True))
    assert len(merged) == 3


def test_a_store_without_named_graphs_exports_as_triples(tmp_path: Path) -> None:
    kg = KnowledgeGraph.open(":memory:")
    kg.add((URIRef("urn:a"), URIRef("urn:b"), URIRef("urn:c")))
    assert "<urn:a> <urn:b> <urn:c>" in kg.export(tmp_path / "x.nt").read_text()


@pytest.fixture
def store(tmp_path: Path, fill_store) -> Path:  # noqa: ANN001
    with KnowledgeGraph.open(tmp_path / "store") as kg:
        fill_store(kg)
    return tmp_path / "store"


def test_cli_export_refuses_to_flatten_and_takes_union_or_graph(
    store: Path, tmp_path: Path, cli
) -> None:
    refused = cli.run("export", str(store), "--format", "nt")
    cli.error(refused, "N-Triples holds triples only", "--graph IRI", "--union")
    assert refused.stdout == ""
    union = cli.run("export", str(store), "--format", "nt", "--union")
    assert union.returncode == 0 and len(union.stdout.strip().splitlines()) == 3
    one = cli.run("export", str(store), "--format", "nt", "--graph", str(DOC))
    assert one.returncode == 0 and len(one.stdout.strip().splitlines()) == 1
    nq = cli.run("export", str(store))  # a dataset format keeps everything
    assert nq.returncode == 0 and len(nq.stdout.strip().splitlines()) == 3


def test_cli_invalid_graph_iri_is_one_line(store: Path, tmp_path: Path, cli) -> None:
    data = tmp_path / "a.nt"
    data.write_text("<urn:a> <urn:b> <urn:c> .\n")
    bad = cli.run("load", str(store), str(data), "--graph", "not an iri")
    cli.error(bad, "--graph", "'not an iri'", "not a valid IRI")
    cli.error(cli.run("export", str(store), "--graph", "a b"), "--graph", "'a b'")
    with KnowledgeGraph.open(store, read_only=True) as kg:
        assert len(kg) == 3
