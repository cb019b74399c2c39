"""Extraction runs: corpus -> pipeline -> one named graph per document, incrementally.

A run skips documents whose content hash and pipeline fingerprint are already in the store,
replaces the graph of changed ones, and with ``prune=True`` drops documents of the same corpus
that are gone. Each batch of documents is written in one transaction together with its
``kgf:contentHash`` records, so a run killed midway resumes where it stopped, with no duplicate
and no lost statements.

A document id names one document of one corpus: an id that is already in the store from another
corpus (``a.txt`` in two folders) is a located ``CorpusError`` (fatal, or skipped and counted
with ``on_error="skip"``), never a silent replacement; ``id_prefix`` keeps both.

Entity records (``ENTITIES_GRAPH``) are rebuilt at the end of the run for every entity whose
evidence changed, from the evidence of every document in the store. The entities to rebuild are
written to a small state graph in the same transactions as the documents and cleared only after
their records are written, so a killed run hands them on to the next one. Runs writing to one
store at the same time (a SPARQL endpoint) each rebuild the records they touched and check
that no documents were written while they did; if some were, they rebuild again from the store.
"""

from __future__ import annotations

import contextlib
import gc
import json
import logging
import time
from collections import deque
from collections.abc import Iterable, Iterator, MutableMapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from rdflib import URIRef
from rdflib.namespace import RDF

from kgforge.corpus import CorpusReader, Document, read_corpus
from kgforge.corpus.reader import Format, OnError
from kgforge.errors import CorpusError
from kgforge.extract.canonical import MAPPING_QUERY, relation_lines
from kgforge.extract.config import ContextConfig
from kgforge.extract.link import load_reference
from kgforge.extract.merge import EmbeddingMerger
from kgforge.extract.pipeline import ExtractionPipeline, load_pipeline
from kgforge.extract.rdf import (
    MENTIONS,
    DocMeta,
    DocQuads,
    EntityRecord,
    document_quads,
    iri,
    merge_evidence,
    resolution_meta_lines,
    resolved_lines,
    term,
    type_label_lines,
)
from kgforge.extract.resolve import EntityResolver, context_bag, full_names, name_key
from kgforge.graph.namespaces import (
    ENTITIES_GRAPH,
    GRAPH,
    KGF,
    RELATIONS_GRAPH,
    document_iri,
    relation_iri,
)
from kgforge.graph.store import KnowledgeGraph
from kgforge.progress import progress
from kgforge.spill import SpillDict

if TYPE_CHECKING:
    from kgforge.extract.context import ContextVectors
    from kgforge.extract.ray_engine import RayEngine

log = logging.getLogger(__name__)
Engine = Literal["local", "ray"]

STATE_GRAPH = GRAPH["extraction-state"]  # entities whose records are waiting to be rebuilt
PENDING = KGF.pendingEntity
ALL_ENTITIES = KGF.allEntities  # pending marker: rebuild every record
_PENDING = iri(PENDING)
_SCAN_ABOVE = 200  # pending entities above which evidence is read in one scan
_REBUILD_ROUNDS = 10  # rebuilds of the entity records while other runs keep writing documents
_FLUSH_BYTES = 8 << 20  # N-Quads characters written between flushes of the store's memtables
_RECORDS_PER_WRITE = 5000  # entity records per transaction of a rebuild
_GC_YOUNG = 20_000  # allocations between young-generation collections during a run
ENTITIES_IN_MEMORY = 20_000  # default: entities a run's resolver and records keep in memory


@dataclass
class RunSummary:
    """What a run did (printed by the CLI, returned by ``kgforge.extract_corpus``)."""

    pipeline: str
    documents: int = 0  # read from the corpus
    extracted: int = 0  # new or changed, run through the pipeline
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    dropped: int = 0
    skipped: int = 0  # broken records skipped with on_error="skip"
    statements: int = 0
    entities_updated: int = 0
    seconds: float = 0.0
    errors: list[str] = field(default_factory=list)

    @property
    def docs_per_second(self) -> float:
        return self.extracted / self.seconds if self.seconds else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "docs_per_second": round(self.docs_per_second, 2)}

    def __str__(self) -> str:
        text = (
            f"{self.documents} documents: {self.extracted} extracted ({self.new} new, "
            f"{self.changed} changed), {self.unchanged} unchanged, {self.dropped} dropped, "
            f"{self.skipped} skipped; {self.statements} statements, {self.entities_updated} "
            f"entity records updated in {self.seconds:.1f}s ({self.docs_per_second:.1f} docs/s)"
        )
        return "\n".join([text, *(f"skipped: {e}" for e in self.errors)])


@dataclass
class _Known:
    graph: URIRef
    content_hash: str
    pipeline_hash: str
    corpus: str


def _known_documents(kg: KnowledgeGraph) -> dict[str, _Known]:
    rows = kg.query(
        """SELECT ?g ?id ?h ?fp ?c WHERE { GRAPH ?g { ?g a kgf:Document ; kgf:docId ?id ;
           kgf:contentHash ?h ; kgf:pipelineHash ?fp ; kgf:corpus ?c } }"""
    )
    return {str(r[1]): _Known(r[0], str(r[2]), str(r[3]), str(r[4])) for r in rows}


def _entities_of(kg: KnowledgeGraph, graph: URIRef) -> set[URIRef]:
    return {s for s, _, _ in kg.triples((None, MENTIONS, None), graph=graph)}


class ExtractionRun:
    """One run of a pipeline over a corpus into a store (use ``extract`` for the common case)."""

    def __init__(
        self,
        kg: KnowledgeGraph,
        pipeline: ExtractionPipeline,
        *,
        batch_size: int = 64,
        workers: int = 1,
        link_to: str | Path | None = None,
        engine: RayEngine | None = None,
        entities_in_memory: int | None = ENTITIES_IN_MEMORY,
    ) -> None:
        self.kg = kg
        self.entities_in_memory = entities_in_memory
        self.pipeline = pipeline
        self.batch_size = batch_size
        self.workers = workers
        self.engine = engine
        resolution = pipeline.config.resolution
        self.cross_document = resolution.cross_document
        self.description_sentences = resolution.description_sentences
        self._mark_entities = True  # record pending entities per batch (off in fresh stores)
        self._touched: set[URIRef] = set()  # entities whose evidence this run changed
        self._written = [0, 0]  # documents and evidence rows this run wrote
        self._unflushed = 0  # N-Quads characters written since the store's last flush
        self._relations: dict[str, str] = {}  # canonical mapping in the store: surface -> canonical
        self._writer: ThreadPoolExecutor | None = None  # the document writes of ``run``
        self._writes: deque[Future] = deque()
        self.merger = (
            EmbeddingMerger(kg, resolution.embedding) if resolution.embedding is not None else None
        )
        self.is_a = RDF.type if resolution.is_a == "rdf:type" else KGF.isA
        self.resolver = EntityResolver(
            split_below=resolution.split_below,
            acronyms=resolution.acronyms,
            surnames=resolution.surnames,
            person_types=resolution.person_types,
            cross_document=resolution.cross_document,
            fallback=self.merger.resolve if self.merger is not None else None,
            link_min_score=resolution.link_min_score,
            split_classes=resolution.split_classes,
            split_topics=resolution.split_topics,
            context=_context_vectors(resolution.context),
            context_weight=resolution.context.weight if resolution.context else 0.5,
            entities_in_memory=entities_in_memory,
            max_senses=resolution.max_senses,
        )
        self.resolution_hash = pipeline.resolution_fingerprint(link_to)
        if link_to is not None:
            linked = load_reference(link_to, self.resolver)
            log.info("%d reference entities to link to from %s", linked, link_to)

    def run(self, reader: CorpusReader, corpus_key: str, prune: bool = False) -> RunSummary:
        started = time.perf_counter()
        summary = RunSummary(pipeline=self.pipeline.name)
        fingerprint = self.pipeline.fingerprint()
        known = _known_documents(self.kg)
        if self.pipeline.canonical is not None:  # keep the names earlier runs gave
            self._relations = {str(a): str(b) for a, b in self.kg.query(MAPPING_QUERY)}
            self.pipeline.canonical.seed(self._relations.items())
        # Into a store with no documents and nothing pending, all evidence an entity record needs
        # is what this run writes: merge it into the records as it comes rather than read it
        # back at the end (a record's size does not grow with its mentions: ``EntityRecord``).
        fresh = not known and next(self.kg.triples((STATE_GRAPH, PENDING, None)), None) is None
        records: MutableMapping[URIRef, EntityRecord] | None = (
            SpillDict(self.entities_in_memory, EntityRecord) if fresh else None
        )
        if fresh:  # one marker instead of one per entity; a killed run leaves it for the next
            with self.kg.transaction():
                self._load(_pending_lines([ALL_ENTITIES]))
        self._mark_entities = not fresh
        if not fresh:
            seed_resolver(self.resolver, self._stored_evidence(None))
        seen: set[str] = set()  # document ids read: only ``prune`` needs them

        def todo() -> Iterator[tuple[str, tuple[Document, _Known | None]]]:
            for doc in reader:
                old = known.get(doc.id)
                if old is not None and old.corpus != corpus_key:
                    reader.reject(
                        CorpusError(
                            f"document id {doc.id!r} is already in the store from another "
                            f"corpus ({old.corpus}); give this corpus an id prefix "
                            "(--id-prefix) to keep both",
                            doc.source,
                            doc.line,
                        )
                    )
                    continue
                summary.documents += 1
                if prune:
                    seen.add(doc.id)
                if old and (old.content_hash, old.pipeline_hash) == (
                    doc.content_hash,
                    fingerprint,
                ):
                    summary.unchanged += 1
                    continue
                yield doc.text, (doc, old)

        results = self.pipeline.process_tuples(
            todo(), batch_size=self.batch_size, n_process=self.workers, engine=self.engine
        )
        bar = progress(unit="doc", desc="extract", smoothing=0.1)
        batch: list[tuple[URIRef, DocQuads, bool]] = []
        if self.kg.threaded_loads:
            self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kgforge-write")
        try:
            for extraction, (doc, old) in results:
                doc_iri = document_iri(doc.id)
                meta = DocMeta(
                    doc.id,
                    doc.content_hash,
                    doc.source,
                    corpus_key,
                    self.pipeline.name,
                    fingerprint,
                    self.pipeline.name,
                    self.resolution_hash,
                )
                quads = document_quads(
                    doc_iri, meta, extraction, self.resolver, self.description_sentences, self.is_a
                )
                if old is not None:
                    quads.entities |= _entities_of(self.kg, old.graph)
                batch.append((doc_iri, quads, old is not None))
                if records is not None:
                    graph = str(doc_iri)
                    for entity, blob in quads.evidence:
                        records[entity].add(graph, blob)
                self._written[0] += 1
                self._written[1] += len(quads.evidence)
                summary.statements += quads.statements
                summary.new += old is None
                summary.changed += old is not None
                if len(batch) >= self.batch_size:
                    self._write(batch)
                    bar.update(len(batch))
                    batch = []
            self._write(batch)
            bar.update(len(batch))
            self._drain()
        finally:
            bar.close()
            if self._writer is not None:  # a failed run still ends its last write first
                self._writer.shutdown(wait=True)
            self._writer, self._writes = None, deque()
        summary.extracted = summary.new + summary.changed
        summary.skipped = reader.stats.skipped
        summary.errors = list(reader.stats.errors)
        if prune:
            summary.dropped = self._prune(known, seen, corpus_key)
        summary.entities_updated = self.rebuild_entities(records)
        summary.seconds = time.perf_counter() - started
        return summary

    def _load(self, lines: Iterable[str]) -> None:
        """Add N-Quads lines through the store's parser (inside the caller's transaction)."""
        text = "".join(lines)
        self.kg.load_data(text, "nq")
        self._unflushed += len(text)

    def _flush_if_due(self) -> None:
        """Flush the store's write buffers after every ``_FLUSH_BYTES`` of N-Quads written
        (after a commit): RocksDB's memtables would otherwise grow with the whole run."""
        if self._unflushed >= _FLUSH_BYTES:
            self._unflushed = 0
            self.kg.flush()

    def _load_and_flush(self, lines: list[str]) -> None:
        """The writer thread's job: one batch in one transaction, then a flush if due."""
        self._load(lines)
        self._flush_if_due()

    def _write(self, batch: list[tuple[URIRef, DocQuads, bool]]) -> None:
        """Documents and their pending entities in one transaction; changed documents have
        their graph dropped first.

        A batch that only adds (new documents) is handed to the writer thread as one N-Quads
        text that the store parses and writes in one transaction without holding the GIL, so
        the write overlaps the parsing of the next batch; at most two such writes wait, and any
        other write first waits for them (the store's transactions are not shared by threads).
        """
        if not batch:
            return
        pending: set[URIRef] = set()
        lines: list[str] = []
        drops = [doc_iri for doc_iri, _, replace in batch if replace]
        for _, quads, _ in batch:
            lines += quads.lines
            pending |= quads.entities
        relation, remapped = self._relation_lines()
        lines += relation
        self._touched |= pending
        if self._mark_entities:
            lines += _pending_lines(pending)
        if drops or remapped or self._writer is None:
            self._drain()
            with self.kg.transaction():
                for doc_iri in drops:
                    self.kg.drop_graph(doc_iri)
                for surface in remapped:
                    self.kg.remove(
                        (relation_iri(surface), KGF.canonicalRelation, None), RELATIONS_GRAPH
                    )
                self._load(lines)
            self._flush_if_due()
            return
        while len(self._writes) >= 2:
            self._writes.popleft().result()  # re-raises the write's error here
        self._writes.append(self._writer.submit(self._load_and_flush, lines))

    def _drain(self) -> None:
        """Wait for the writer thread's writes (raising the first that failed)."""
        while self._writes:
            self._writes.popleft().result()

    def _relation_lines(self) -> tuple[list[str], list[str]]:
        """The canonical mapping's pairs not yet in the store, and the surfaces whose stored
        pair the config now maps elsewhere (``_write`` removes those first)."""
        canonical = self.pipeline.canonical
        if canonical is None:
            return [], []
        new = {s: c for s, c in canonical.mapping().items() if self._relations.get(s) != c}
        remapped = sorted(new.keys() & self._relations.keys())
        self._relations.update(new)
        return relation_lines(new), remapped

    def _replace_graphs(self, graphs: list[tuple[URIRef, list[str]]]) -> int:
        """Replace whole document graphs with new lines, in one transaction."""
        if not graphs:
            return 0
        with self.kg.transaction():
            for graph, _ in graphs:
                self.kg.drop_graph(graph)
            self._load([line for _, lines in graphs for line in lines])
        return len(graphs)

    def _prune(self, known: dict[str, _Known], seen: set[str], corpus_key: str) -> int:
        gone = [k for doc_id, k in known.items() if k.corpus == corpus_key and doc_id not in seen]
        if gone:
            with self.kg.transaction():
                pending: set[URIRef] = set()
                for k in gone:
                    pending |= _entities_of(self.kg, k.graph)
                    self.kg.drop_graph(k.graph)
                self._load(_pending_lines(pending))
            self._touched |= pending
        return len(gone)

    def rebuild_entities(self, records: MutableMapping[URIRef, EntityRecord] | None = None) -> int:
        """Rewrite the records of the entities this run touched and of those pending in the
        store, from the evidence in all document graphs (``records``: those merged from all of
        it, used while the store holds only this run's documents)."""
        markers = {o for _, _, o in self.kg.triples((STATE_GRAPH, PENDING, None))}
        targets = (markers | self._touched) - {ALL_ENTITIES}
        everything = ALL_ENTITIES in markers
        if not targets and not everything:
            return 0
        updated = 0  # records written in the last round (each round rewrites all of them)
        for _ in range(_REBUILD_ROUNDS):
            before = self._store_state()
            if records is None or before != tuple(self._written):
                records = merge_evidence(self._stored_evidence(None if everything else targets))
            known = {s for s, _, _ in self.kg.triples((None, RDF.type, KGF.Entity), ENTITIES_GRAPH)}
            stale = known if everything else known & targets
            if stale:
                with self.kg.transaction():
                    if everything:
                        self.kg.drop_graph(ENTITIES_GRAPH)
                    else:
                        for entity in stale:
                            self.kg.remove((entity, None, None), graph=ENTITIES_GRAPH)
            # additions alone take the store's fast path; records in chunks of transactions
            # (a kill between them leaves the pending markers: the next run redoes them all)
            entries = iter(records.items())  # read where they lie (a SpillDict: also on disk)
            while chunk := list(islice(entries, _RECORDS_PER_WRITE)):
                lines = [line for e, record in chunk for line in record.lines(e, ENTITIES_GRAPH)]
                with self.kg.transaction():
                    self._load(lines)
                self._flush_if_due()
            with self.kg.transaction():
                self._load(type_label_lines(records, ENTITIES_GRAPH))
            updated = len(records) + sum(e not in records for e in stale)
            if self._store_state() == before:
                break
            records = None  # another run wrote documents meanwhile: read them all back
        else:
            log.warning(
                "entity records rebuilt %d times while other runs kept writing; "
                "the next run completes them",
                _REBUILD_ROUNDS,
            )
            return updated
        # pending entries are cleared only after the records are written (a kill in between
        # redoes them), and only those this run found: another run's are its own to clear
        with self.kg.transaction():
            for entity in markers:
                self.kg.remove((STATE_GRAPH, PENDING, entity), graph=STATE_GRAPH)
        return updated

    def _store_state(self) -> tuple[int, int]:
        """How many documents and evidence rows the store holds: what tells a rebuild that
        another run wrote documents while it read or wrote entity records."""
        (docs,) = next(
            iter(self.kg.query("SELECT (COUNT(?g) AS ?n) WHERE { GRAPH ?g { ?g a kgf:Document } }"))
        )
        (rows,) = next(
            iter(self.kg.query("SELECT (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?e kgf:mentions ?m } }"))
        )
        return int(docs), int(rows)

    def _stored_evidence(self, pending: set[URIRef] | None) -> Iterator[tuple[str, URIRef, dict]]:
        """The evidence rows of the ``pending`` entities (None: all) in the document graphs,
        read as they are consumed (a store's evidence need not fit in memory at once)."""
        if pending is None or len(pending) > _SCAN_ABOVE:  # one pass beats many lookups
            quads: Iterable = (
                q
                for q in self.kg.quads((None, MENTIONS, None, None))
                if pending is None or q[0] in pending
            )
        else:
            quads = (q for e in pending for q in self.kg.quads((e, MENTIONS, None, None)))
        return ((str(g), s, json.loads(str(o))) for s, _, o, g in quads if g != ENTITIES_GRAPH)


def resolve_store(
    store: str | Path | KnowledgeGraph,
    pipeline: str | Path | ExtractionPipeline = "default",
    *,
    link_to: str | Path | None = None,
    batch_size: int = 64,
) -> int:
    """Resolve a store's entities again with a pipeline's ``resolution`` settings (and an
    optional reference graph), from the evidence its document graphs keep: nothing is parsed.

    Documents are taken in the order of their graph IRIs; each one whose entities change IRI
    has its graph rewritten (facts, provenance, evidence, merge decisions), a batch of documents
    per transaction, and then every entity record is rebuilt. Every document graph then records
    the pipeline and settings it was resolved with (``kgf:resolvedWith``,
    ``kgf:resolutionHash``); ``kgf:pipelineHash`` keeps naming the pipeline that parsed it.
    Also ``kgforge resolve``.

    Returns:
        The number of documents whose graph was rewritten.
    """
    pipe = pipeline if isinstance(pipeline, ExtractionPipeline) else load_pipeline(pipeline)
    kg = store if isinstance(store, KnowledgeGraph) else KnowledgeGraph.open(store, create=False)
    try:
        runner = ExtractionRun(kg, pipe, batch_size=batch_size, link_to=link_to)
        doc_ids = {k.graph: doc_id for doc_id, k in _known_documents(kg).items()}
        by_graph: dict[URIRef, list[tuple[URIRef, dict]]] = {}
        for graph, entity, blob in runner._stored_evidence(None):
            by_graph.setdefault(URIRef(graph), []).append((entity, blob))
        changed: list[tuple[URIRef, list[str]]] = []
        rewritten = 0
        meta = (pipe.name, runner.resolution_hash)
        stale = {g for g, *old in kg.query(_RESOLVED_QUERY) if (str(old[0]), str(old[1])) != meta}
        stale |= doc_ids.keys() - {g for g, _, _ in kg.query(_RESOLVED_QUERY)}
        for graph in sorted(by_graph):
            if graph not in doc_ids:
                continue
            rows = sorted(by_graph[graph], key=lambda r: str(r[0]))
            blobs = [{k: v for k, v in b.items() if k != "resolution"} for _, b in rows]
            decisions = runner.resolver.resolve_document(doc_ids[graph], blobs)
            if all(
                d.iri == e and b.get("resolution") == [d.rule, d.score, d.matched]
                for (e, b), d in zip(rows, decisions, strict=True)
            ):
                continue
            moved = {e: d.iri for (e, _), d in zip(rows, decisions, strict=True)}
            lines = _rewritten_graph(kg, graph, doc_ids[graph], blobs, decisions, moved)
            lines += resolution_meta_lines(iri(graph), *meta, f" {iri(graph)} .\n")
            changed.append((graph, lines))
            stale.discard(graph)
            runner._touched |= set(moved) | set(moved.values())
            if len(changed) >= batch_size:
                rewritten += runner._replace_graphs(changed)
                changed = []
        rewritten += runner._replace_graphs(changed)
        with kg.transaction():  # the other documents: only their resolution metadata
            lines = []
            for graph in sorted(stale):
                for p in (KGF.resolvedWith, KGF.resolutionHash):
                    kg.remove((graph, p, None), graph)
                lines += resolution_meta_lines(iri(graph), *meta, f" {iri(graph)} .\n")
            runner._load(lines + _pending_lines([ALL_ENTITIES]))
        runner.rebuild_entities()
        return rewritten
    finally:
        if not isinstance(store, KnowledgeGraph):
            kg.close()


def _rewritten_graph(
    kg: KnowledgeGraph,
    graph: URIRef,
    doc_id: str,
    blobs: list[dict],
    decisions: list,
    moved: dict[URIRef, URIRef],
) -> list[str]:
    """A document graph's lines with entity IRIs moved and new evidence and merge decisions."""
    g = f" {iri(graph)} .\n"
    decision_nodes = {s for s, _, _ in kg.triples((None, RDF.type, KGF.MergeDecision), graph=graph)}
    lines = []
    for s, p, o in kg.triples((None, None, None), graph=graph):
        if p in _REPLACED or s in decision_nodes:
            continue
        s, o = moved.get(s, s), moved.get(o, o)  # type: ignore[arg-type]
        lines.append(f"{term(s)} {term(p)} {term(o)}{g}")
    return lines + resolved_lines(doc_id, blobs, decisions, g)[1]


def _context_vectors(config: ContextConfig | None) -> ContextVectors | None:
    if config is None:
        return None
    from kgforge.extract.context import context_vectors

    return context_vectors(config.model)


_REPLACED = (MENTIONS, KGF.resolvedWith, KGF.resolutionHash)  # written anew by a re-resolve
_RESOLVED_QUERY = """SELECT ?g ?p ?h WHERE { GRAPH ?g { ?g a kgf:Document ;
  kgf:resolvedWith ?p ; kgf:resolutionHash ?h } }"""


def seed_resolver(resolver: EntityResolver, evidence: Iterable[tuple[str, URIRef, dict]]) -> None:
    """Register stored evidence rows ``(document graph, entity, evidence)`` with a resolver, in
    document order: a run into a store with documents then resolves new mentions as a run that
    had extracted them all would (also after a kill, before the entity records were rebuilt)."""
    by_graph: dict[str, list[tuple[URIRef, dict]]] = {}
    for graph, entity, blob in evidence:
        by_graph.setdefault(graph, []).append((entity, blob))
    for graph in sorted(by_graph):
        rows = sorted(by_graph[graph], key=lambda r: str(r[0]))
        keys = [name_key(blob["label"]) for _, blob in rows]
        for i, (entity, blob) in enumerate(rows):
            names = full_names(blob["label"], blob.get("aliases", ()))
            others = [k for j, k in enumerate(keys) if j != i and k != keys[i]]
            bag = context_bag(blob.get("contexts", ()), names, others)
            types = blob.get("types") or {blob.get("type", ""): 1}
            topic = graph if blob.get("topic") else None
            resolver.known(
                entity,
                names,
                types,
                bag,
                classes=blob.get("classes", ()),
                topic=topic,
                contexts=blob.get("contexts", ()),
            )


def _pending_lines(entities: Iterable[URIRef]) -> list[str]:
    state = iri(STATE_GRAPH)
    return [f"{state} {_PENDING} {iri(e)} {state} .\n" for e in entities]


def extract(
    corpus: str | Path | CorpusReader,
    store: str | Path | KnowledgeGraph,
    pipeline: str | Path | ExtractionPipeline = "default",
    *,
    workers: int | None = None,
    batch_size: int = 64,
    on_error: OnError = "fail",
    prune: bool = False,
    fmt: Format = "auto",
    id_field: str = "id",
    text_field: str = "text",
    id_prefix: str = "",
    link_to: str | Path | None = None,
    engine: Engine = "local",
    address: str | None = None,
    entities_in_memory: int | None = ENTITIES_IN_MEMORY,
) -> RunSummary:
    """Extract a corpus into a store; re-running skips unchanged documents.

    Also ``kgforge.extract_corpus``. Each batch of documents is one transaction, so an
    interrupted run keeps what it committed and the next run resumes from there.

    Args:
        corpus: a folder or file (``.txt``/``.md`` files, JSONL, CSV, optionally ``.gz``) or a
            ``CorpusReader``.
        store: a store location (see ``KnowledgeGraph.open``) or an open ``KnowledgeGraph``.
        pipeline: a name ("default", "conll04"), a YAML path or a loaded pipeline.
        workers: spaCy processes (``nlp.pipe(n_process=...)``, default 1); with ``engine="ray"``, Ray
            actors (default: the cluster's CPUs).
        batch_size: documents per batch (and per transaction).
        on_error: broken corpus records: "fail" stops with a located error, "skip" counts them.
        prune: drop the documents of this corpus that are no longer in it.
        fmt: the corpus format; "auto" goes by file extension.
        id_field: JSONL key / CSV column of the document id.
        text_field: JSONL key / CSV column of the text.
        id_prefix: put before every document id (see ``CorpusReader``).
        link_to: a store or RDF file whose entities mentions link to before new ones are
            minted (``kgforge.extract.link``).
        engine: "local" (this machine, ``workers`` processes) or "ray": texts are parsed and
            extracted by Ray actors, everything else stays here, so the store gets the same
            statements (``kgforge.extract.ray_engine``; ``pip install 'kgforge[ray]'``).
        address: the Ray cluster (``auto``, ``ray://host:10001``); default: the one this
            process joined, else a new local one.
        entities_in_memory: the resolver's entities (and a fresh store's entity records) held
            in memory; the others wait in a temporary file (``kgforge.spill.SpillDict``), so
            memory stays bounded as the corpus grows. None: all in memory. The statements
            written do not depend on it.

    Returns:
        What the run did: documents new, changed, unchanged, dropped and skipped, statements.
    """
    workers_given = workers is not None
    workers = 1 if workers is None else workers
    if workers < 1 or batch_size < 1 or (entities_in_memory is not None and entities_in_memory < 1):
        raise CorpusError("workers, batch_size and entities_in_memory must be at least 1")
    if engine not in ("local", "ray"):
        raise CorpusError(f"unknown engine {engine!r}: local or ray")
    if address is not None and engine != "ray":
        raise CorpusError("address is the Ray cluster's: give it with engine='ray'")
    reader = (
        corpus
        if isinstance(corpus, CorpusReader)
        else read_corpus(
            corpus,
            fmt=fmt,
            id_field=id_field,
            text_field=text_field,
            on_error=on_error,
            id_prefix=id_prefix,
        )
    )
    pipe = pipeline if isinstance(pipeline, ExtractionPipeline) else load_pipeline(pipeline)
    corpus_key = str(reader.path.resolve())
    kg = store if isinstance(store, KnowledgeGraph) else KnowledgeGraph.open(store)
    # The loaded models are long-lived objects that every full garbage collection would walk
    # again; freezing them leaves the collector only the run's own short-lived objects, and
    # collecting those every 20,000 allocations rather than 700 walks them less often (about 4%
    # of the run's own CPU time on bench/extract_bench.py's corpus; cycles are rare here).
    gc.freeze()
    thresholds = gc.get_threshold()
    gc.set_threshold(max(thresholds[0], _GC_YOUNG), *thresholds[1:])
    try:
        with contextlib.ExitStack() as stack:
            ray = None
            if engine == "ray":
                from kgforge.extract.ray_engine import RayEngine

                actors = workers if workers_given else None
                ray = stack.enter_context(RayEngine(address, actors))
            runner = ExtractionRun(
                kg,
                pipe,
                batch_size=batch_size,
                workers=workers,
                link_to=link_to,
                engine=ray,
                entities_in_memory=entities_in_memory,
            )
            return runner.run(reader, corpus_key, prune=prune)
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()
        if not isinstance(store, KnowledgeGraph):
            kg.close()
