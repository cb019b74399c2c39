"""Bulk loads into a remote endpoint stream RDF to its Graph Store protocol (a real
`oxigraph serve`): one chunked request per file, all or nothing, no INSERT DATA."""

from __future__ import annotations

from pathlib import Path

import pytest
from rdflib import Literal, URIRef
from typer.testing import CliRunner

from kgforge.cli import app
from kgforge.errors import EndpointError
from kgforge.graph.store import KnowledgeGraph

G = URIRef("urn:graph:one")


@pytest.fixture
def remote(oxigraph_server: str, monkeypatch: pytest.MonkeyPatch):
    kg = KnowledgeGraph.open(oxigraph_server)
    kg.update("DROP ALL")

    def no_updates(ops):  # a bulk load must not fall back to SPARQL UPDATE
        raise AssertionError(f"an UPDATE was sent: {ops[:1]}")

    monkeypatch.setattr(kg._backend, "apply", no_updates)
    yield kg
    kg.close()


def test_nquads_and_ntriples_files_stream_as_they_are(remote: KnowledgeGraph, tmp_path: Path):
    nq = tmp_path / "big.nq"
    with open(nq, "w") as f:
        f.write("# a comment line\n")
        for i in range(3000):
            f.write(f'<urn:e{i}> <urn:p> "v{i}" <urn:g{i % 3}> .\n')
    assert remote.load(nq, bulk=True) == 3000
    nt = tmp_path / "few.nt"
    nt.write_text("<urn:a> <urn:b> <urn:c> .\n\n<urn:a> <urn:b> <urn:d> .\n")
    assert remote.load(nt, graph=G, bulk=True) == 2
    assert len(remote) == 3002
    assert len(list(remote.triples((None, None, None), graph=G))) == 2
    assert len(remote.graphs()) == 4


def test_other_formats_are_parsed_here_and_streamed(remote: KnowledgeGraph, tmp_path: Path):
    ttl = tmp_path / "a.ttl"
    ttl.write_text('@prefix x: <urn:x:> .\nx:ada x:knows x:charles ; x:name "Ada" .\n')
    assert remote.load(ttl, graph=G, bulk=True) == 2
    count = remote.add_many(
        ((URIRef(f"urn:s{i}"), URIRef("urn:p"), Literal(i)) for i in range(50_001)), bulk=True
    )
    assert count == 50_001  # three chunks
    assert len(remote) == 50_003


def test_a_malformed_file_loads_nothing(remote: KnowledgeGraph, tmp_path: Path) -> None:
    bad = tmp_path / "bad.nq"
    bad.write_text('<urn:a> <urn:b> "ok" .\n<urn:a> <urn:b "broken" .\n')
    with pytest.raises(EndpointError, match=r"rejected the N-Quads: Parser error .*line 2"):
        remote.load(bad, bulk=True)
    assert len(remote) == 0


def test_cli_load_bulk_into_an_endpoint(oxigraph_server: str, tmp_path: Path) -> None:
    with KnowledgeGraph.open(oxigraph_server) as kg:
        kg.update("DROP ALL")
    nq = tmp_path / "a.nq"
    nq.write_text("<urn:a> <urn:b> <urn:c> <urn:g> .\n<urn:a> <urn:b> <urn:d> .\n")
    result = CliRunner().invoke(app, ["load", oxigraph_server, str(nq), "--bulk"])
    assert result.exit_code == 0, result.output
    assert "loaded 2 statements from 1 file(s); store has 2" in result.output
