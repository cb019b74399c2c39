"""Issue 12 #12: huge literals load (pyoxigraph's parser buffers 16 MiB per token), kgforge
re-loads its own JSON-LD export of a 10 MB literal, and truncated RDF/XML is an error."""

from __future__ import annotations

from pathlib import Path

import pytest
from rdflib import Literal, URIRef

from kgforge.errors import RDFSyntaxError
from kgforge.graph.store import KnowledgeGraph

A, B = URIRef("urn:a"), URIRef("urn:b")
RDF_XML = """<?xml version="1.0"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns:ex="http://ex.org/">
  <rdf:Description rdf:about="http://ex.org/a"><ex:p>one</ex:p></rdf:Description>
  <rdf:Description rdf:about="http://ex.org/b"><ex:p>two</ex:p></rdf:Description>
</rdf:RDF>
"""


@pytest.mark.parametrize("suffix", ["nt"])
def test_a_20_mb_literal_loads(tmp_path: Path, suffix: str) -> None:
    text = "x" * (20 * 1024 * 1024)
    path = tmp_path / f"big.{suffix}"
    path.write_text(f'<urn:a> <urn:b> "{text}" .\n<urn:a> <urn:b> "small" .\n')
    with KnowledgeGraph.open(tmp_path / "kg") as kg:
        assert kg.load(path) == 2
        assert {len(o) for _, _, o in kg.triples()} == {len(text), 5}


def test_a_huge_literal_in_n_quads_is_a_located_error(tmp_path: Path) -> None:
    path = tmp_path / "big.nq"
    path.write_text(f'<urn:a> <urn:b> "{"x" * (17 * 1024 * 1024)}" <urn:g> .\n')
    kg = KnowledgeGraph.open(":memory:")
    with pytest.raises(RDFSyntaxError, match=r"big\.nq: .*16 MiB parser buffer"):
        kg.load(path)
    assert len(kg) == 0


def test_own_json_ld_export_of_a_10_mb_literal_reloads(tmp_path: Path) -> None:
    text = "y" * (10 * 1024 * 1024)
    with KnowledgeGraph.open(tmp_path / "kg") as kg:
        kg.add((A, B, Literal(text)), graph=URIRef("urn:g"))
        path = kg.export(tmp_path / "out.jsonld")
    again = KnowledgeGraph.open(":memory:")
    assert again.load(path) == 1
    assert list(again.quads()) == [(A, B, Literal(text), URIRef("urn:g"))]


@pytest.mark.parametrize("lines", [1, 2, 3, 4])
def test_truncated_rdf_xml_is_an_error(tmp_path: Path, lines: int, cli) -> None:
    path = tmp_path / "cut.rdf"
    path.write_text("\n".join(RDF_XML.splitlines()[:lines]) + "\n")
    kg = KnowledgeGraph.open(":memory:")
    with pytest.raises(RDFSyntaxError, match=r"cut\.rdf:\d+: not well-formed XML"):
        kg.load(path)
    assert len(kg) == 0
    if lines == 3:
        proc = cli.run("load", str(tmp_path / "store"), str(path))
        cli.error(proc, "cut.rdf:", "truncated?")


def test_complete_rdf_xml_still_loads(tmp_path: Path) -> None:
    path = tmp_path / "ok.rdf"
    path.write_text(RDF_XML)
    assert KnowledgeGraph.open(":memory:").load(path) == 2
