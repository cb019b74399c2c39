"""The N-Quads of a document: terms written by pyoxigraph, escaped, and read back unchanged."""

from __future__ import annotations

from pathlib import Path

import pytest

from kgforge.extract.rdf import DocMeta, document_quads, iri
from kgforge.extract.resolve import EntityResolver
from kgforge.extract.types import DocExtraction, Mention, Statement
from kgforge.graph.namespaces import KGF, document_iri
from kgforge.graph.store import KnowledgeGraph

AWKWARD = 'He said "hi" \\ back\nthen > left\r\tcafé 東京 ok'


def test_literals_need_escaping_and_round_trip(tmp_path: Path) -> None:
    text = f"Marie Curie was born in Warsaw. {AWKWARD}"
    curie, warsaw = Mention(0, 11, "Marie Curie", "Person"), Mention(24, 30, "Warsaw", "Place")
    extraction = DocExtraction(
        text=text,
        sentences=[(0, 31), (32, len(text))],
        mentions=[curie, warsaw],
        canonical=[0, 1],
        statements=[Statement(curie, "born_in", warsaw, 0.6, (0, len(text)), "patterns")],
    )
    doc_id = 'a "quoted"\\ id > with spaces é.txt'
    meta = DocMeta(doc_id, "h", f"/corpus dir/{AWKWARD}", "/c", "default", "fp")
    quads = document_quads(document_iri(doc_id), meta, extraction, EntityResolver())
    path = tmp_path / "doc.nq"
    path.write_text("".join(quads.lines), encoding="utf-8")
    with KnowledgeGraph.open(":memory:") as kg:
        kg.load(path, "nq")
        assert {str(o) for _, _, o in kg.triples((None, KGF.docId, None))} == {doc_id}
        assert {str(o) for _, _, o in kg.triples((None, KGF.source, None))} == {meta.source}
        assert {str(o) for _, _, o in kg.triples((None, KGF.sentence, None))} == {text}


@pytest.mark.parametrize("bad", ["http://x.org/a b", "http://x.org/a>b", "no-scheme"])
def test_an_iri_that_is_not_one_is_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        iri(bad)
    assert iri("http://x.org/café") == "<http://x.org/café>"
