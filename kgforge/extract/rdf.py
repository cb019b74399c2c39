"""The RDF written for one document, and the consolidated entity records built from it.

A document's named graph (``document_iri(doc_id)``) holds, all in that one graph:

- document metadata: ``<doc> a kgf:Document ; kgf:docId ; kgf:contentHash ; kgf:source ;
  kgf:corpus ; kgf:pipeline ; kgf:pipelineHash``;
- the plain facts ``<ent:s> <rel:p> <ent:o>``, and type statements ``<ent:s> rdf:type <type:c>``
  for "X, a C" / "X is a C";
- one provenance node per fact (reification + PROV-O): ``<stmt:..> a kgf:Statement ;
  rdf:subject ; rdf:predicate ; rdf:object ; prov:wasDerivedFrom <doc> ; kgf:sentence ;
  kgf:sentenceStart ; kgf:subjectStart ; kgf:subjectEnd ; kgf:objectStart ; kgf:objectEnd ;
  kgf:confidence ; kgf:extractor`` (offsets are character offsets into the document text);
- per entity mentioned, ``<ent:e> kgf:mentionType "Type" ; kgf:mentions "{...}"^^rdf:JSON``: the
  evidence its record is rebuilt from, ``{"label": full name, "aliases": [other names],
  "contexts": [sentences that mention it]}``, as one literal;
- ``<type:c> rdfs:label "c"`` for the classes of its type statements.

Entity records in ``ENTITIES_GRAPH`` merge that evidence over all documents:
``<ent:e> a kgf:Entity , <type:t> ; rdfs:label ; skos:altLabel* ; dcterms:description``, with
``<type:t> rdfs:label "Type"``. Evidence is one JSON literal per entity on purpose: it would
otherwise be most of what a document writes, and every quad costs six index entries in the store.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from types import SimpleNamespace

from rdflib import Literal, URIRef
from rdflib.namespace import DCTERMS, PROV, RDF, RDFS, SKOS, XSD

from kgforge.extract.resolve import display_label
from kgforge.extract.types import CLASS_LABEL, IS_A, DocExtraction, Mention
from kgforge.graph.namespaces import KGF, relation_iri, statement_iri, type_iri

# rdflib builds a new URIRef on every Namespace attribute access: bind the terms once
K = SimpleNamespace(
    **{
        n: KGF[n]
        for n in (
            "Document",
            "Entity",
            "Statement",
            "confidence",
            "contentHash",
            "corpus",
            "docId",
            "extractor",
            "mentions",
            "mentionType",
            "objectEnd",
            "objectStart",
            "pipeline",
            "pipelineHash",
            "sentence",
            "sentenceStart",
            "source",
            "subjectEnd",
            "subjectStart",
        )
    }
)
_TYPE = RDF.type
_SUBJECT = RDF.subject
_PREDICATE = RDF.predicate
_OBJECT = RDF.object
_LABEL = RDFS.label
_ALT_LABEL = SKOS.altLabel
_DESCRIPTION = DCTERMS.description
_DERIVED_FROM = PROV.wasDerivedFrom
_XSD_INTEGER = XSD.integer
_XSD_DOUBLE = XSD.double
_JSON = RDF.JSON

Triple = tuple[URIRef, URIRef, URIRef | Literal]
EntityNamer = Callable[[str, str], URIRef]  # (label, type) -> entity IRI

EVIDENCE = (K.mentionType, K.mentions)
MAX_DESCRIPTION_SENTENCES = 10


@dataclass
class DocMeta:
    """What the document graph records about the document itself."""

    doc_id: str
    content_hash: str
    source: str
    corpus: str
    pipeline: str
    pipeline_hash: str


@lru_cache(maxsize=1 << 16)
def _int(value: int) -> Literal:
    """Offsets repeat across documents; rdflib's ``Literal`` is costly to build."""
    return Literal(str(value), datatype=_XSD_INTEGER)


@lru_cache(maxsize=1 << 12)
def _double(value: float) -> Literal:
    return Literal(str(value), datatype=_XSD_DOUBLE)


def document_triples(
    doc_iri: URIRef,
    meta: DocMeta,
    extraction: DocExtraction,
    entity_of: EntityNamer,
    description_sentences: int = 3,
) -> tuple[list[Triple], set[URIRef], int]:
    """All triples of one document's graph, the entities it mentions, and its statement count."""
    text = extraction.text
    triples: list[Triple] = [
        (doc_iri, _TYPE, K.Document),
        (doc_iri, K.docId, Literal(meta.doc_id)),
        (doc_iri, K.contentHash, Literal(meta.content_hash)),
        (doc_iri, K.source, Literal(meta.source)),
        (doc_iri, K.corpus, Literal(meta.corpus)),
        (doc_iri, K.pipeline, Literal(meta.pipeline)),
        (doc_iri, K.pipelineHash, Literal(meta.pipeline_hash)),
    ]
    # entity evidence: one entity per canonical mention
    mentions, canonical = extraction.mentions, extraction.canonical
    iri_of_index: dict[int, URIRef] = {}
    evidence: dict[URIRef, tuple[str, str, set[str], list[tuple[int, int]]]] = {}
    sentences = extraction.sentences
    j = 0
    for i, m in enumerate(mentions):
        c = mentions[canonical[i]]
        label = display_label(c.text)
        iri = iri_of_index.get(canonical[i]) or entity_of(label, c.label)
        iri_of_index[canonical[i]] = iri
        iri_of_index[i] = iri
        while j < len(sentences) - 1 and m.start >= sentences[j][1]:
            j += 1
        ev = evidence.setdefault(iri, (label, c.label, set(), []))
        ev[2].add(display_label(m.text))
        if len(ev[3]) < description_sentences and sentences[j] not in ev[3]:
            ev[3].append(sentences[j])
    class_labels: dict[URIRef, str] = {}
    for iri, (label, type_, surfaces, sents) in evidence.items():
        blob = {
            "label": label,
            "aliases": sorted(surfaces - {label}),
            "contexts": [text[a:b].strip() for a, b in sents],
        }
        triples.append((iri, K.mentionType, Literal(type_)))
        triples.append((iri, K.mentions, Literal(json.dumps(blob), datatype=_JSON)))
    iri_at = {(m.start, m.end): iri_of_index[i] for i, m in enumerate(mentions)}
    sentence_literals: dict[tuple[int, int], Literal] = {}
    nodes: set[URIRef] = set()
    for st in extraction.statements:
        subj = iri_at.get((st.subject.start, st.subject.end))
        if subj is None:
            continue
        if st.predicate == IS_A and st.object.label == CLASS_LABEL:
            pred, obj = _TYPE, _class_iri(st.object)
            class_labels.setdefault(obj, st.object.text.lower())
        else:
            pred = relation_iri(st.predicate)
            obj = iri_at.get((st.object.start, st.object.end))  # type: ignore[assignment]
            if obj is None or obj == subj:
                continue
        node = statement_iri(
            meta.doc_id,
            str(subj),
            str(pred),
            str(obj),
            str(st.subject.start),
            str(st.object.start),
            st.extractor,
        )
        nodes.add(node)
        sent = sentence_literals.get(st.sentence)
        if sent is None:
            sent = sentence_literals[st.sentence] = Literal(text[st.sentence[0] : st.sentence[1]])
        triples += [
            (subj, pred, obj),
            (node, _TYPE, K.Statement),
            (node, _SUBJECT, subj),
            (node, _PREDICATE, pred),
            (node, _OBJECT, obj),
            (node, _DERIVED_FROM, doc_iri),
            (node, K.sentence, sent),
            (node, K.sentenceStart, _int(st.sentence[0])),
            (node, K.subjectStart, _int(st.subject.start)),
            (node, K.subjectEnd, _int(st.subject.end)),
            (node, K.objectStart, _int(st.object.start)),
            (node, K.objectEnd, _int(st.object.end)),
            (node, K.confidence, _double(st.confidence)),
            (node, K.extractor, Literal(st.extractor)),
        ]
    triples.extend((t, _LABEL, Literal(label)) for t, label in class_labels.items())
    return triples, set(evidence), len(nodes)


def _class_iri(mention: Mention) -> URIRef:
    return type_iri(mention.text.lower())


@dataclass
class EntityRecord:
    """An entity's consolidated record, merged from the evidence of every document."""

    labels: Counter = field(default_factory=Counter)
    types: set[str] = field(default_factory=set)
    surfaces: set[str] = field(default_factory=set)
    contexts: list[tuple[str, str]] = field(default_factory=list)  # (document graph, sentence)

    def triples(self, iri: URIRef) -> list[Triple]:
        # most frequent label, then the longest, then alphabetical: deterministic
        label = min(self.labels.items(), key=lambda kv: (-kv[1], -len(kv[0]), kv[0]))[0]
        out: list[Triple] = [(iri, _TYPE, K.Entity), (iri, _LABEL, Literal(label))]
        out += [(iri, _TYPE, type_iri(t)) for t in sorted(self.types)]
        aliases = (self.surfaces | set(self.labels)) - {label}
        out += [(iri, _ALT_LABEL, Literal(a)) for a in sorted(aliases)]
        sentences = list(dict.fromkeys(s for _, s in sorted(self.contexts)))
        if sentences:
            description = " ".join(sentences[:MAX_DESCRIPTION_SENTENCES])
            out.append((iri, _DESCRIPTION, Literal(description)))
        return out


def merge_evidence(rows: Iterable[tuple[URIRef, URIRef, URIRef, object]]) -> dict:
    """Entity records from ``(graph, entity, evidence predicate, value)`` rows."""
    records: dict[URIRef, EntityRecord] = defaultdict(EntityRecord)
    for graph, entity, pred, value in rows:
        rec = records[entity]
        if pred == K.mentionType:
            rec.types.add(str(value))
        else:
            blob = json.loads(str(value))
            rec.labels[blob["label"]] += 1
            rec.surfaces.update(blob["aliases"])
            rec.contexts += [(str(graph), c) for c in blob["contexts"]]
    return records


def type_label_triples(records: dict) -> list[Triple]:
    """``<type:t> rdfs:label "t"`` for the types of some entity records (each once)."""
    types = {t for rec in records.values() for t in rec.types}
    return [(type_iri(t), _LABEL, Literal(t)) for t in sorted(types)]
