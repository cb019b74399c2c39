"""Extracted statements as JSON lines, with mention offsets into the document text."""

from __future__ import annotations

import json
from pathlib import Path
from typing import IO, Any

from rdflib.namespace import RDF

from kgforge.extract.types import CLASS_LABEL, IS_A
from kgforge.graph.namespaces import KGF, REL
from kgforge.graph.store import KnowledgeGraph

STATEMENTS_QUERY = """
SELECT ?docId ?sentence ?sentStart ?p ?subjStart ?subjEnd ?subjType ?objStart ?objEnd ?objType
       ?confidence ?extractor
WHERE { GRAPH ?g {
  ?g kgf:docId ?docId .
  ?st a kgf:Statement ; rdf:subject ?s ; rdf:predicate ?p ; rdf:object ?o ;
      kgf:sentence ?sentence ; kgf:sentenceStart ?sentStart ;
      kgf:subjectStart ?subjStart ; kgf:subjectEnd ?subjEnd ;
      kgf:objectStart ?objStart ; kgf:objectEnd ?objEnd ;
      kgf:confidence ?confidence ; kgf:extractor ?extractor .
  }
  OPTIONAL { GRAPH graph:entities { ?s a ?sc . ?sc rdfs:label ?subjType } }
  OPTIONAL { GRAPH graph:entities { ?o a ?oc . ?oc rdfs:label ?objType } }
}
ORDER BY ?docId ?sentStart ?subjStart ?objStart ?p
"""


def _mention(sentence: str, offset: int, start: int, end: int, type_: Any) -> dict[str, Any]:
    label = sentence[start - offset : end - offset]
    return {"label": label, "type": str(type_), "start": start, "end": end}


def export_jsonl(kg: KnowledgeGraph, out: str | Path | IO[str]) -> int:
    """Write one extracted statement per line; returns the number of lines.

    Each line: ``{"doc_id", "sentence", "subject": {"label", "type", "start", "end"},
    "predicate", "object": {...}, "confidence", "extractor"}`` with ``start``/``end`` character
    offsets into the document text; ``label`` is the mention as written. Type statements
    ("X, a physicist") have predicate ``is_a`` and an object of type ``Class``.
    """
    if isinstance(out, (str, Path)):
        with Path(out).open("w", encoding="utf-8") as fh:
            return export_jsonl(kg, fh)
    count = 0
    for row in kg.query(STATEMENTS_QUERY):
        sentence, offset = str(row.sentence), int(row.sentStart)

        def mention(start: Any, end: Any, type_: Any) -> dict[str, Any]:
            return _mention(sentence, offset, int(start), int(end), type_)  # noqa: B023

        if row.p in (KGF.isA, RDF.type):  # rdf:type with resolution.is_a: rdf:type
            predicate, obj_type = IS_A, CLASS_LABEL
        else:
            predicate, obj_type = str(row.p).removeprefix(str(REL)), row.objType
        record = {
            "doc_id": str(row.docId),
            "sentence": sentence,
            "subject": mention(row.subjStart, row.subjEnd, row.subjType),
            "predicate": predicate,
            "object": mention(row.objStart, row.objEnd, obj_type),
            "confidence": float(row.confidence),
            "extractor": str(row.extractor),
        }
        out.write(json.dumps(record, ensure_ascii=False) + "\n")
        count += 1
    return count
