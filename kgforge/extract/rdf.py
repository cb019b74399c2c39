"""The RDF written for one document, and the consolidated entity records built from it.

A document's named graph (``document_iri(doc_id)``) holds, all in that one graph:

- document metadata: ``<doc> a kgf:Document ; kgf:docId ; kgf:contentHash ; kgf:source ;
  kgf:corpus ; kgf:pipeline ; kgf:pipelineHash`` (the pipeline that parsed it) and
  ``kgf:resolvedWith ; kgf:resolutionHash`` (the pipeline whose ``resolution`` settings, and
  reference graph, last named its entities: ``kgforge resolve`` rewrites these two);
- the plain facts ``<ent:s> <rel:p> <ent:o>``, and type statements ``<ent:s> kgf:isA <type:c>``
  for "X, a C" / "X is a C" (``rdf:type`` with ``resolution.is_a: rdf:type``), with
  ``<type:c> rdfs:label "c" ; a kgf:Class``;
- one provenance node per fact (reification + PROV-O): ``<stmt:..> a kgf:Statement ;
  rdf:subject ; rdf:predicate ; rdf:object ; prov:wasDerivedFrom <doc> ; kgf:sentence ;
  kgf:sentenceStart ; kgf:subjectStart ; kgf:subjectEnd ; kgf:objectStart ; kgf:objectEnd ;
  kgf:confidence ; kgf:extractor`` (offsets are character offsets into the document text), and
  ``kgf:surfacePredicate "held_at"`` when the predicate is a canonical one (``canonical.py``);
- per entity mentioned, ``<ent:e> kgf:mentions "{...}"^^rdf:JSON``: the evidence its record is
  rebuilt from, ``{"label": full name, "type": its type, "types": {type: mentions},
  "aliases": [other names], "contexts": [sentences that mention it], "resolution": [rule, score,
  matched name]}``, as one literal;
- a ``kgf:MergeDecision`` node per entity merged into (or split off) a known one by more than its
  plain name: ``kgf:entity ; kgf:mentionLabel ; kgf:rule ; kgf:score ; kgf:matchedLabel``.

Entity records in ``ENTITIES_GRAPH`` merge that evidence over all documents:
``<ent:e> a kgf:Entity , <type:t> ; kgf:typeConfidence ; rdfs:label ; skos:altLabel* ;
dcterms:description`` (``<type:t>`` the type most mentions voted for), with
``<type:t> rdfs:label "Type"``. Evidence is one JSON literal per entity on purpose: it would
otherwise be most of what a document writes, and every quad costs six index entries in the store.

The quads are produced as N-Quads lines and parsed in memory by the store (``KnowledgeGraph.load_data``):
building rdflib terms and converting them again for Oxigraph cost more than the parse. Every term
in them is written by pyoxigraph (``str`` of a ``NamedNode`` or ``Literal`` is its N-Triples
form), which escapes literals and refuses an IRI that is not one.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Protocol

import pyoxigraph as ox
from rdflib import Literal, URIRef
from rdflib.namespace import DCTERMS, PROV, RDF, RDFS, SKOS, XSD
from rdflib.term import Node

from kgforge.extract.resolve import NOT_NAMES, Decision, display_label, name_key
from kgforge.extract.types import CLASS_LABEL, IS_A, DocExtraction, Mention
from kgforge.graph.namespaces import KGF, relation_iri, statement_iri, type_iri


class DocumentResolver(Protocol):
    """Names the entities of one document from their evidence (``EntityResolver``)."""

    def resolve_document(self, doc_id: str, entities: list[dict]) -> list[Decision]: ...


@lru_cache(maxsize=1 << 16)
def iri(term: str) -> str:
    """An IRI in N-Quads syntax; ``ValueError`` if ``term`` is not a valid IRI (cached: entity
    and predicate IRIs recur in every statement)."""
    return str(ox.NamedNode(term))


def literal(text: str) -> str:
    """A plain (xsd:string) literal in N-Quads syntax, escaped."""
    return str(ox.Literal(text))


def typed(text: str, datatype: ox.NamedNode) -> str:
    """A literal of ``datatype`` in N-Quads syntax."""
    return str(ox.Literal(text, datatype=datatype))


@lru_cache(maxsize=1 << 16)
def integer(value: int) -> str:
    return typed(str(value), _INTEGER)


@lru_cache(maxsize=1 << 12)
def double(value: float) -> str:
    return typed(repr(float(value)), _DOUBLE)


_TYPE, _LABEL = iri(RDF.type), iri(RDFS.label)
_SUBJECT, _PREDICATE, _OBJECT = iri(RDF.subject), iri(RDF.predicate), iri(RDF.object)
_ALT_LABEL, _DESCRIPTION = iri(SKOS.altLabel), iri(DCTERMS.description)
_DERIVED_FROM = iri(PROV.wasDerivedFrom)
_INTEGER, _DOUBLE, _JSON = (ox.NamedNode(t) for t in (XSD.integer, XSD.double, RDF.JSON))
_K = {name: iri(KGF[name]) for name in (
    "Document", "Entity", "Statement", "docId", "contentHash", "source", "corpus", "pipeline",
    "pipelineHash", "mentions", "sentence", "sentenceStart", "subjectStart",
    "subjectEnd", "objectStart", "objectEnd", "confidence", "extractor", "Class",
    "MergeDecision", "entity", "mentionLabel", "rule", "score", "matchedLabel", "typeConfidence",
    "surfacePredicate", "resolvedWith", "resolutionHash",
)}  # fmt: skip

MENTIONS = KGF.mentions
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
    resolution: str = ""  # the pipeline whose resolution settings named its entities
    resolution_hash: str = ""  # ``ExtractionPipeline.resolution_fingerprint``


@dataclass
class DocQuads:
    """One document's graph as N-Quads lines, with what the entity records need from it."""

    lines: list[str]
    entities: set[URIRef]
    statements: int
    evidence: list[tuple[URIRef, dict]]  # (entity, {"label", "type", "aliases", "contexts"})


def document_quads(
    doc_iri: URIRef,
    meta: DocMeta,
    extraction: DocExtraction,
    resolver: DocumentResolver,
    description_sentences: int = 3,
    is_a: URIRef = KGF.isA,
) -> DocQuads:
    """All quads of one document's graph (see the module docstring); ``resolver`` names the
    document's entities from their evidence, ``is_a`` is the predicate of type statements."""
    text = extraction.text
    d, g = iri(doc_iri), f" {iri(doc_iri)} .\n"
    k = _K
    lines = [
        d + " " + _TYPE + " " + k["Document"] + g,
        d + " " + k["docId"] + " " + literal(meta.doc_id) + g,
        d + " " + k["contentHash"] + " " + literal(meta.content_hash) + g,
        d + " " + k["source"] + " " + literal(meta.source) + g,
        d + " " + k["corpus"] + " " + literal(meta.corpus) + g,
        d + " " + k["pipeline"] + " " + literal(meta.pipeline) + g,
        d + " " + k["pipelineHash"] + " " + literal(meta.pipeline_hash) + g,
    ]
    if meta.resolution_hash:
        lines += resolution_meta_lines(d, meta.resolution, meta.resolution_hash, g)
    # one local entity per canonical mention: the names, type votes and sentences of its mentions
    mentions, canonical, sentences = extraction.mentions, extraction.canonical, extraction.sentences
    local: dict[int, tuple[str, Counter, set[str], list[tuple[int, int]]]] = {}
    j = 0
    for i, m in enumerate(mentions):
        c = canonical[i]
        while j < len(sentences) - 1 and m.start >= sentences[j][1]:
            j += 1
        if m.coreferent:  # "he" is no name of the entity, and "He moved ..." no description
            continue
        ev = local.get(c)
        if ev is None:
            label = display_label(mentions[c].text)
            if name_key(label) in NOT_NAMES:
                continue
            ev = local[c] = (label, Counter(), set(), [])
        ev[1][m.label] += 1
        ev[2].add(display_label(m.text))
        if len(ev[3]) < description_sentences and sentences[j] not in ev[3]:
            ev[3].append(sentences[j])
    # what resolution also compares: "X is a C" classes, and whether X opens the document
    index_at = {(m.start, m.end): canonical[i] for i, m in enumerate(mentions)}
    classes: dict[int, set[str]] = {}
    for st in extraction.statements:
        c = index_at.get((st.subject.start, st.subject.end))
        if c is not None and st.predicate == IS_A and st.object.label == CLASS_LABEL:
            classes.setdefault(c, set()).add(st.object.text.lower())
    first = len(text) - len(text.lstrip())
    blobs = []
    for c, (label, types, surfaces, sents) in local.items():
        blob = {
            "label": label,
            "type": min(types.items(), key=lambda kv: (-kv[1], kv[0]))[0],
            "types": dict(sorted(types.items())),
            "aliases": sorted(surfaces - {label}),
            "contexts": [text[a:b].strip() for a, b in sents],
        }
        if c in classes:
            blob["classes"] = sorted(classes[c])
        if mentions[c].start == first:
            blob["topic"] = True
        blobs.append(blob)
    decisions = resolver.resolve_document(meta.doc_id, blobs)
    iri_of_index = {c: dec.iri for c, dec in zip(local, decisions, strict=True)}
    evidence, entity_lines = resolved_lines(meta.doc_id, blobs, decisions, g)
    lines += entity_lines
    iri_of_index.update({i: iri_of_index[c] for i, c in enumerate(canonical) if c in iri_of_index})
    iri_at = {
        (m.start, m.end): iri_of_index[i] for i, m in enumerate(mentions) if i in iri_of_index
    }
    class_labels: dict[URIRef, str] = {}
    sentence_literals: dict[tuple[int, int], str] = {}
    nodes: set[URIRef] = set()
    for st in extraction.statements:
        subj = iri_at.get((st.subject.start, st.subject.end))
        if subj is None:
            continue
        if st.predicate == IS_A and st.object.label == CLASS_LABEL:
            pred, obj = is_a, _class_iri(st.object)
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
        if node in nodes:
            continue
        nodes.add(node)
        sent = sentence_literals.get(st.sentence)
        if sent is None:
            a, b = st.sentence
            sent = sentence_literals[st.sentence] = literal(text[a:b])
        s, p, o, n = iri(subj), iri(pred), iri(obj), iri(node) + " "
        lines += [
            f"{s} {p} {o}{g}",
            n + _TYPE + " " + k["Statement"] + g,
            n + _SUBJECT + " " + s + g,
            n + _PREDICATE + " " + p + g,
            n + _OBJECT + " " + o + g,
            n + _DERIVED_FROM + " " + d + g,
            n + k["sentence"] + " " + sent + g,
            n + k["sentenceStart"] + " " + integer(st.sentence[0]) + g,
            n + k["subjectStart"] + " " + integer(st.subject.start) + g,
            n + k["subjectEnd"] + " " + integer(st.subject.end) + g,
            n + k["objectStart"] + " " + integer(st.object.start) + g,
            n + k["objectEnd"] + " " + integer(st.object.end) + g,
            n + k["confidence"] + " " + double(st.confidence) + g,
            n + k["extractor"] + " " + literal(st.extractor) + g,
        ]
        if st.surface:  # canonicalised: the predicate as found ("held_at")
            lines.append(n + k["surfacePredicate"] + " " + literal(st.surface) + g)
    for t, label in class_labels.items():
        lines += [f"{iri(t)} {_LABEL} {literal(label)}{g}", f"{iri(t)} {_TYPE} {k['Class']}{g}"]
    return DocQuads(lines, {e for e, _ in evidence}, len(nodes), evidence)


def resolution_meta_lines(doc: str, pipeline: str, resolution_hash: str, g: str) -> list[str]:
    """``<doc> kgf:resolvedWith "pipeline" ; kgf:resolutionHash "..."`` (``doc`` and ``g`` in
    N-Quads syntax): the settings the document's entities were last resolved with."""
    k = _K
    return [
        doc + " " + k["resolvedWith"] + " " + literal(pipeline) + g,
        doc + " " + k["resolutionHash"] + " " + literal(resolution_hash) + g,
    ]


def resolved_lines(
    doc_id: str, blobs: list[dict], decisions: list[Decision], g: str
) -> tuple[list[tuple[URIRef, dict]], list[str]]:
    """The evidence of a document's entities once resolved (entities that resolved to one IRI
    merged: "USA" and "United States"), and its lines: ``kgf:mentions`` and merge decisions."""
    found: dict[URIRef, dict] = {}
    lines: list[str] = []
    for blob, dec in zip(blobs, decisions, strict=True):
        have = found.get(dec.iri)
        if have is None:
            found[dec.iri] = {**blob, "resolution": [dec.rule, dec.score, dec.matched]}
            if dec.rule not in ("new", "name"):
                lines += _decision_lines(doc_id, dec, blob["label"], g)
            continue
        have["aliases"] = sorted(set(have["aliases"]) | set(blob["aliases"]) | {blob["label"]})
        have["types"] = dict(sorted((Counter(have["types"]) + Counter(blob["types"])).items()))
        have["contexts"] += [c for c in blob["contexts"] if c not in have["contexts"]]
        lines += _decision_lines(doc_id, dec, blob["label"], g)
    evidence = list(found.items())
    mentions = _K["mentions"]
    lines += [iri(e) + " " + mentions + " " + typed(json.dumps(b), _JSON) + g for e, b in evidence]
    return evidence, lines


def term(node: Node) -> str:
    """An rdflib IRI or literal in N-Quads syntax (through pyoxigraph, which escapes it)."""
    if isinstance(node, URIRef):
        return iri(node)
    if isinstance(node, Literal):
        if node.language:
            return str(ox.Literal(str(node), language=node.language))
        return str(ox.Literal(str(node), datatype=ox.NamedNode(node.datatype or XSD.string)))
    raise ValueError(f"not an IRI or a literal: {node!r}")


def _decision_lines(doc_id: str, dec: Decision, label: str, g: str) -> list[str]:
    """A ``kgf:MergeDecision`` node: which entity a mention was merged into (or split off), by
    which rule, with what score, matched by which name."""
    node = iri(statement_iri(doc_id, "resolution", str(dec.iri), label)) + " "
    k = _K
    return [
        node + _TYPE + " " + k["MergeDecision"] + g,
        node + k["entity"] + " " + iri(dec.iri) + g,
        node + k["mentionLabel"] + " " + literal(label) + g,
        node + k["rule"] + " " + literal(dec.rule) + g,
        node + k["score"] + " " + typed(repr(float(dec.score)), _DOUBLE) + g,
        node + k["matchedLabel"] + " " + literal(dec.matched) + g,
    ]


def _class_iri(mention: Mention) -> URIRef:
    return type_iri(mention.text.lower())


@dataclass
class EntityRecord:
    """An entity's consolidated record, merged from the evidence of every document.

    Its size does not grow with the documents that mention the entity: labels, types and
    surfaces are the distinct names and type votes, and of the context sentences it keeps only
    the ``MAX_DESCRIPTION_SENTENCES`` that the description takes (each with the first document
    graph, in IRI order, that has it), so a run can keep every record of a fresh store in memory.
    """

    labels: Counter = field(default_factory=Counter)
    types: Counter = field(default_factory=Counter)  # type -> mentions that voted for it
    surfaces: set[str] = field(default_factory=set)
    contexts: dict[str, str] = field(default_factory=dict)  # sentence -> first document graph

    def add(self, graph: str, blob: dict) -> None:
        self.types.update(blob.get("types") or {blob["type"]: 1})
        self.labels[blob["label"]] += 1
        self.surfaces.update(blob["aliases"])
        contexts = self.contexts
        for sentence in blob["contexts"]:
            have = contexts.get(sentence)
            if have is None or graph < have:
                contexts[sentence] = graph
        if len(contexts) > 2 * MAX_DESCRIPTION_SENTENCES:
            # a sentence dropped here has MAX others before it, which only move up later
            self.contexts = dict(self._first_sentences())

    def _first_sentences(self) -> list[tuple[str, str]]:
        """The description's sentences: ordered by (first graph, sentence), the first
        ``MAX_DESCRIPTION_SENTENCES``."""
        ranked = sorted(self.contexts.items(), key=lambda kv: (kv[1], kv[0]))
        return ranked[:MAX_DESCRIPTION_SENTENCES]

    @property
    def type(self) -> tuple[str, int]:
        """The type most mentions voted for (ties: alphabetical) and its votes."""
        return min(self.types.items(), key=lambda kv: (-kv[1], kv[0]))

    def lines(self, entity: URIRef, graph: URIRef) -> list[str]:
        """The record as N-Quads lines in ``graph``."""
        # most frequent label, then the longest, then alphabetical: deterministic
        label = min(self.labels.items(), key=lambda kv: (-kv[1], -len(kv[0]), kv[0]))[0]
        e, g = iri(entity) + " ", f" {iri(graph)} .\n"
        out = [e + _TYPE + " " + _K["Entity"] + g, e + _LABEL + " " + literal(label) + g]
        if self.types:
            top, votes = self.type
            share = round(votes / sum(self.types.values()), 4)
            out += [
                e + _TYPE + " " + iri(type_iri(top)) + g,
                e + _K["typeConfidence"] + " " + typed(repr(float(share)), _DOUBLE) + g,
            ]
        aliases = (self.surfaces | set(self.labels)) - {label}
        out += [e + _ALT_LABEL + " " + literal(a) + g for a in sorted(aliases)]
        sentences = [s for s, _ in self._first_sentences()]
        if sentences:
            out.append(e + _DESCRIPTION + " " + literal(" ".join(sentences)) + g)
        return out


def merge_evidence(rows: Iterable[tuple[str, URIRef, dict]]) -> dict[URIRef, EntityRecord]:
    """Entity records from ``(document graph, entity, evidence)`` rows."""
    records: dict[URIRef, EntityRecord] = defaultdict(EntityRecord)
    for graph, entity, blob in rows:
        records[entity].add(graph, blob)
    return records


def type_label_lines(records: Mapping[URIRef, EntityRecord], graph: URIRef) -> list[str]:
    """``<type:t> rdfs:label "t"`` for the types of some entity records (each once)."""
    types = {rec.type[0] for rec in records.values() if rec.types}
    return [f"{iri(type_iri(t))} {_LABEL} {literal(t)} {iri(graph)} .\n" for t in sorted(types)]
