"""``KnowledgeGraph``: one API over an embedded Oxigraph store, rdflib memory, or a SPARQL endpoint.

Writes are transactional. Outside ``with kg.transaction():`` each call is applied on its own and
atomically; inside, the calls are buffered and handed to the backend in one piece when the block
ends normally, and dropped if it raises, so a failed batch leaves the store as it was. Reads
inside a transaction see the store as it was committed (the batch is not visible until commit).

Query bindings go to the engine as bound values (pyoxigraph ``substitutions``, rdflib
``initBindings``, an escaped ``VALUES`` block for remote endpoints), never into the query text.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, cast

import pyoxigraph as ox
from rdflib import BNode, Dataset, Graph, Literal, URIRef
from rdflib.query import Result
from rdflib.term import Node

from kgforge.errors import KGForgeError, QueryError
from kgforge.graph.backends import (
    BACKENDS,
    MEMORY,
    Add,
    AddParsed,
    Backend,
    DropGraph,
    Op,
    Remove,
    Update,
    backend_resolver,
    check_binding_names,
    infer_backend,
)
from kgforge.graph.backends.base import (
    BulkLoading,
    NativeExport,
    StreamedResults,
    StreamLoading,
)
from kgforge.graph.formats import parse_data, parse_file, rdf_format
from kgforge.graph.namespaces import ENT, PREFIXES, REL
from kgforge.graph.terms import Quad, sparql_term, to_ox, to_ox_quad, to_terms

if TYPE_CHECKING:
    import networkx as nx

TripleOrQuad = tuple[Node, Node, Node] | tuple[Node, Node, Node, Node | None]
"""What `add` takes: ``(s, p, o)`` (into the graph argument) or ``(s, p, o, g)``."""
_LINE_FORMATS = (ox.RdfFormat.N_QUADS, ox.RdfFormat.N_TRIPLES)  # one statement per line

# the first keyword after the prologue (comments, PREFIX and BASE declarations)
_PROLOGUE = r"(?:\s+|#[^\n]*|PREFIX\s+[^\s:]*:\s*<[^>]*>|BASE\s*<[^>]*>)*"
_FORM = re.compile(
    _PROLOGUE + r"(SELECT|ASK|CONSTRUCT|DESCRIBE|INSERT|DELETE|LOAD|CLEAR|CREATE|DROP|COPY|MOVE"
    r"|ADD|WITH)\b",
    re.IGNORECASE,
)
UPDATE_FORMS = {
    "INSERT",
    "DELETE",
    "LOAD",
    "CLEAR",
    "CREATE",
    "DROP",
    "COPY",
    "MOVE",
    "ADD",
    "WITH",
}


def query_form(sparql: str) -> str | None:
    """``SELECT``, ``ASK``, ... or an update keyword (``INSERT``, ``DROP``, ...) that ``sparql``
    starts with, upper-cased; None if it starts with neither."""
    match = _FORM.match(sparql)
    return match.group(1).upper() if match else None


class KnowledgeGraph:
    """An RDF dataset with named graphs (one per source document, one for predicted links).

    Open one with :meth:`KnowledgeGraph.open` rather than the constructor; it is a context
    manager (``with KnowledgeGraph.open("kg") as kg: ...``).

    Args:
        backend: the store behind it (one of ``kgforge.graph.backends``).
        location: where it is, as given to ``open`` (shown in messages).
        read_only: refuse writes.
    """

    def __init__(self, backend: Backend, location: str, read_only: bool = False) -> None:
        self._backend = backend
        self.location = location
        self.read_only = read_only
        self._batch: list[Op] | None = None

    @classmethod
    def open(
        cls,
        location: str | Path,
        backend: str | None = None,
        *,
        read_only: bool = False,
        create: bool = True,
        **options: Any,
    ) -> KnowledgeGraph:
        """Open (or create) a store.

        ``location``: a directory (on-disk Oxigraph, the default), ``":memory:"`` (rdflib memory)
        or an ``http(s)://`` URL of a SPARQL 1.1 endpoint (see ``SparqlBackend``; credentials
        may be in the URL as ``user:password@``, or in the environment). ``backend`` names one
        of ``BACKENDS`` (default: from the location).

        Backend options: ``memory_cache`` (Oxigraph) keeps a copy of the whole store in
        Oxigraph's in-memory engine and answers reads from it: join-heavy queries run several
        times faster, at the cost of memory (about 0.4 GB per million triples) and a load at
        open; writes still go to disk first. ``query_endpoint``, ``update_endpoint``,
        ``union_default_graph`` (ask a remote Oxigraph server to answer queries over the union
        of all graphs, like the embedded backends do), ``timeout``, ``deadline`` and
        ``retries`` (sparql).

        Args:
            location: a directory, ``":memory:"`` or an ``http(s)://`` endpoint URL.
            backend: a backend name (default: from the location).
            read_only: open without the write lock; writes are refused.
            create: create an on-disk store that does not exist yet.
            **options: the backend options above.

        Returns:
            The open store.
        """
        name = backend or infer_backend(location)
        try:
            backend_cls = backend_resolver.lookup(name)
        except (KeyError, ValueError):
            raise KGForgeError(
                f"unknown backend {name!r}: use one of {', '.join(BACKENDS)}"
            ) from None
        own = {}
        for key, value in options.items():
            if key in backend_cls.options:
                own[key] = value
            elif value is not None and value is not False:  # an unset option is no conflict
                owners = [c.title for c in backend_resolver if key in c.options]
                if not owners:
                    raise TypeError(f"KnowledgeGraph.open() got an unexpected option {key!r}")
                raise KGForgeError(f"{key} applies to {owners[0]}, not the {name} backend")
        store = backend_cls.open(str(location), read_only=read_only, create=create, **own)
        return cls(store, getattr(store, "location", str(location)), read_only=read_only)

    # ---- basics -----------------------------------------------------------------------------

    @property
    def backend(self) -> str:
        return self._backend.name

    @property
    def dataset(self) -> Dataset:
        """rdflib's ``Dataset`` over the same store (union default graph), for rdflib tooling."""
        return self._backend.dataset

    def __len__(self) -> int:
        """The number of quads in all graphs (the default graph and the named graphs)."""
        return len(self._backend)

    def __repr__(self) -> str:
        return f"KnowledgeGraph({self.location!r}, backend={self.backend!r})"

    @property
    def threaded_loads(self) -> bool:
        """Whether ``load_data`` of N-Quads outside a transaction is written by the engine
        without holding the GIL, safely from a thread while others read (Oxigraph)."""
        return self._backend.capabilities.text_load and not self.read_only

    def flush(self) -> None:
        """Write what the engine buffers in memory to disk (Oxigraph: RocksDB's memtables).

        Oxigraph's RocksDB keeps recent writes in memtables that, on a long stream of
        transactions, grow with everything written (some 24 KB per extracted document) before
        it flushes them itself; a long writer calls this every few MiB written so that its
        memory stays flat. A no-op on backends without such buffers and on read-only stores.
        """
        flush = getattr(self._backend, "flush", None)
        if flush is not None and not self.read_only:
            flush()

    def close(self) -> None:
        if self._batch:
            raise KGForgeError("close() inside an open transaction: its changes would be lost")
        self._backend.close()

    def __enter__(self) -> KnowledgeGraph:
        return self

    def __exit__(self, *exc: object) -> None:
        self._batch = None
        self.close()

    # ---- writes ------------------------------------------------------------------------------

    def _write(self, op: Op) -> None:
        if self.read_only:
            raise KGForgeError(f"{self.location} is open read-only")
        if self._batch is not None:
            self._batch.append(op)
        else:
            self._backend.apply([op])

    @contextmanager
    def transaction(self) -> Iterator[KnowledgeGraph]:
        """All-or-nothing batch: committed when the block ends, dropped if it raises.

        Nested blocks join the outermost one.
        """
        if self._batch is not None:
            yield self
            return
        if self.read_only:
            raise KGForgeError(f"{self.location} is open read-only")
        self._batch = []
        try:
            yield self
        except BaseException:
            self._batch = None
            raise
        ops, self._batch = self._batch, None
        if ops:
            self._backend.apply(ops)

    def add(self, statement: TripleOrQuad, graph: Node | None = None) -> None:
        """Add a triple (to ``graph``, None = the default graph) or a quad ``(s, p, o, g)``."""
        self._write(Add([_quad(statement, graph)]))

    def add_many(
        self, statements: Iterable[TripleOrQuad], graph: Node | None = None, *, bulk: bool = False
    ) -> int:
        """Add triples/quads in one atomic write; returns how many were given.

        ``bulk=True`` (Oxigraph, outside a transaction) streams them through pyoxigraph's bulk
        loader: several times faster, but a crash midway leaves part of them in the store.
        """
        if bulk and self._batch is None and self._backend.capabilities.bulk_load:
            if self.read_only:
                raise KGForgeError(f"{self.location} is open read-only")
            count = 0

            def stream() -> Iterator[ox.Quad]:
                nonlocal count
                for statement in statements:
                    count += 1
                    yield to_ox_quad(_quad(statement, graph))

            cast(BulkLoading, self._backend).extend_ox(stream(), bulk=True)
            return count
        if bulk and self._batch is None and self._backend.capabilities.stream_load:
            if self.read_only:
                raise KGForgeError(f"{self.location} is open read-only")
            counted = [0]

            def counting() -> Iterator[ox.Quad]:
                for statement in statements:
                    counted[0] += 1
                    yield to_ox_quad(_quad(statement, graph))

            cast(StreamLoading, self._backend).load_stream(
                _nquads_chunks(counting()), ox.RdfFormat.N_QUADS, None
            )
            return counted[0]
        quads = [_quad(statement, graph) for statement in statements]
        if quads:
            self._write(Add(quads))
        return len(quads)

    def remove(
        self, pattern: tuple[Node | None, Node | None, Node | None], graph: Node | None = None
    ) -> None:
        """Remove the statements matching ``pattern`` (None = any term) from ``graph`` (None:
        from every graph)."""
        self._write(Remove(pattern, graph))

    def update(self, sparql: str, **bindings: Any) -> None:
        """Run a SPARQL 1.1 UPDATE (kgforge's prefixes predeclared; bindings as bound values)."""
        if query_form(sparql) in ("SELECT", "ASK", "CONSTRUCT", "DESCRIBE"):
            raise QueryError("this is a SPARQL query, not an update: run it with query()")
        self._write(Update(sparql, _bindings(bindings)))

    def drop_graph(self, iri: Node) -> None:
        self._write(DropGraph(iri))

    def replace_graph(self, iri: Node, triples: Iterable[tuple[Node, Node, Node]]) -> int:
        """Replace a named graph's content atomically (e.g. re-extracting one document)."""
        quads = [_quad(t, iri) for t in triples]
        with self.transaction():
            self._write(DropGraph(iri))
            self._write(Add(quads))
        return len(quads)

    def load(
        self,
        path: str | Path,
        format: str | None = None,
        graph: Node | None = None,
        *,
        bulk: bool = False,
    ) -> int:
        """Load an RDF file (format from the extension unless given) atomically; returns the
        number of statements read. The file is parsed completely before anything is written, so
        a malformed file changes nothing; ``bulk=True`` (Oxigraph, outside a transaction) then
        writes through the bulk loader (faster, not atomic if the process dies while writing)."""
        path = Path(path)
        fmt = rdf_format(format, path)
        if not path.is_file():
            raise KGForgeError(f"{path}: no such file")
        if self.read_only:
            raise KGForgeError(f"{self.location} is open read-only")
        if bulk and self._batch is None and self._backend.capabilities.stream_load:
            return self._stream_file(path, fmt, graph)
        quads = parse_file(path, fmt, graph)
        if bulk and self._batch is None and self._backend.capabilities.bulk_load:
            cast(BulkLoading, self._backend).extend_ox(quads, bulk=True)
        elif quads:
            self._write(AddParsed(quads))
        return len(quads)

    def _stream_file(self, path: Path, fmt: ox.RdfFormat, graph: Node | None) -> int:
        """``load(bulk=True)`` on a backend that takes streamed RDF (a remote endpoint's Graph
        Store protocol): N-Triples and N-Quads files go out as their own bytes, read 1 MiB at
        a time (memory stays flat; statements are counted by line); other formats are parsed
        here (their errors located in the file) and go out as N-Quads."""
        loader = cast(StreamLoading, self._backend)
        raw = fmt == ox.RdfFormat.N_TRIPLES or (fmt == ox.RdfFormat.N_QUADS and graph is None)
        if not raw:
            quads = parse_file(path, fmt, graph)
            loader.load_stream(_nquads_chunks(iter(quads)), ox.RdfFormat.N_QUADS, None)
            return len(quads)
        count = 0

        def blocks() -> Iterator[bytes]:
            nonlocal count
            with open(path, "rb") as f:
                while lines := f.readlines(1 << 20):
                    count += sum(1 for line in lines if line.strip() and line.lstrip()[:1] != b"#")
                    yield b"".join(lines)

        try:
            loader.load_stream(blocks(), fmt, graph)
        except OSError as exc:
            raise KGForgeError(f"cannot read {path}: {exc.strerror or exc}") from None
        return count

    def load_data(self, data: str | bytes, format: str, graph: Node | None = None) -> int:
        """Add RDF text held in memory (N-Quads, Turtle, ...: ``format`` as for :meth:`load`)
        in one atomic write; returns the number of statements. Parsed completely first, so
        malformed text changes nothing."""
        if self.read_only:
            raise KGForgeError(f"{self.location} is open read-only")
        fmt = rdf_format(format)
        if (
            self.threaded_loads and self._batch is None and graph is None and fmt in _LINE_FORMATS
        ):  # parsed and written in one transaction by the engine, off the GIL
            self._backend.load_text(data, fmt)  # type: ignore[attr-defined]
            text = data.decode("utf-8") if isinstance(data, bytes) else data
            return sum(1 for line in map(str.strip, text.splitlines()) if line and line[0] != "#")
        quads = parse_data(data, fmt, graph)
        if quads:
            self._write(AddParsed(quads))
        return len(quads)

    # ---- reads -------------------------------------------------------------------------------

    def query(self, sparql: str, **bindings: Any) -> Result:
        """Run a SPARQL query over the union of all graphs.

        kgforge's prefixes (ent:, rel:, kgf:, rdfs:, ...) are predeclared; ``bindings`` fix
        variables to values (str/int/float/bool become literals, rdflib terms are kept).
        """
        _refuse_update(sparql)
        return self._backend.query(sparql, _bindings(bindings))

    def write_results(self, sparql: str, out: BinaryIO, format: str, **bindings: Any) -> bool:
        """Run a SELECT query and write its results to ``out`` as SPARQL CSV, TSV or JSON,
        row by row where the backend streams (Oxigraph, remote endpoints), so memory stays
        flat however many rows there are. Returns False, writing nothing, for other queries
        (ASK, CONSTRUCT, DESCRIBE): run those with ``query``."""
        _refuse_update(sparql)
        terms = _bindings(bindings)
        if query_form(sparql) != "SELECT":
            return False
        if self._backend.capabilities.stream_results:
            return cast(StreamedResults, self._backend).write_results(sparql, terms, format, out)
        result = self._backend.query(sparql, terms)
        if format == "tsv":  # rdflib has no TSV serialiser; SPARQL TSV is terms in N-Triples form
            names = [str(v) for v in result.vars or []]
            out.write(("\t".join(f"?{v}" for v in names) + "\n").encode("utf-8"))
            for row in result:
                cells = ("" if t is None else t.n3() for t in row)
                out.write(("\t".join(cells) + "\n").encode("utf-8"))
        else:
            result.serialize(destination=out, format=format, encoding="utf-8")
        return True

    def quads(self, pattern: tuple[Node | None, ...] = (None, None, None, None)) -> Iterator[Quad]:
        """Quads matching ``(s, p, o, g)``; g None matches every graph, and a quad of the default
        graph has g None."""
        s, p, o, *rest = pattern
        g = rest[0] if rest else None
        return self._backend.quads(s, p, o, g, g is None)

    def triples(
        self,
        pattern: tuple[Node | None, Node | None, Node | None] = (None, None, None),
        graph: Node | None = None,
    ) -> Iterator[tuple[Node, Node, Node]]:
        """Triples matching ``pattern`` in ``graph``, or in the union of all graphs (each once)."""
        if graph is not None:
            for s, p, o, _ in self._backend.quads(*pattern, graph, False):
                yield s, p, o
            return
        seen: set[tuple[Node, Node, Node]] = set()
        for s, p, o, _ in self._backend.quads(*pattern, None, True):
            if (s, p, o) not in seen:
                seen.add((s, p, o))
                yield s, p, o

    def graph(self, iri: Node) -> Graph:
        """One named graph as an rdflib ``Graph`` on the same store (writes bypass transactions)."""
        return Graph(store=self.dataset.store, identifier=iri)

    def graphs(self) -> list[Node]:
        """Names of the named graphs that hold at least one statement."""
        return sorted(self._backend.graphs(), key=str)

    def stats(self) -> dict[str, int]:
        """Counts: quads, entities, relation predicates, documents and named graphs."""
        ent = sparql_term(Literal(str(ENT)))
        rel = sparql_term(Literal(str(REL)))
        entities = f"""SELECT (COUNT(DISTINCT ?e) AS ?n) WHERE {{
            {{ ?e a kgf:Entity }}
            UNION {{ ?e ?p ?o FILTER(isIRI(?e) && STRSTARTS(STR(?e), {ent})) }}
            UNION {{ ?s ?p ?e FILTER(isIRI(?e) && STRSTARTS(STR(?e), {ent})) }} }}"""
        relations = f"""SELECT (COUNT(DISTINCT ?p) AS ?n)
            WHERE {{ ?s ?p ?o FILTER(STRSTARTS(STR(?p), {rel})) }}"""
        documents = "SELECT (COUNT(DISTINCT ?d) AS ?n) WHERE { ?d a kgf:Document }"
        return {
            "triples": len(self),
            "entities": self._count(entities),
            "relations": self._count(relations),
            "documents": self._count(documents),
            "graphs": len(self.graphs()),
        }

    def _count(self, sparql: str) -> int:
        row = next(iter(self.query(sparql)))
        return int(row[0]) if row[0] is not None else 0

    def to_networkx(self, graph: Node | None = None) -> nx.MultiDiGraph:
        """Entity-level graph: one edge per ``<s> rel:p <o>`` statement between IRIs (key = the
        predicate); nodes carry their ``rdfs:label`` when there is one."""
        import networkx as nx

        rel = sparql_term(Literal(str(REL)))
        body = f"?s ?p ?o FILTER(isIRI(?o) && STRSTARTS(STR(?p), {rel}))"
        where = body if graph is None else f"GRAPH ?g {{ {body} }}"
        bindings = {} if graph is None else {"g": graph}
        out = nx.MultiDiGraph()
        for s, p, o in self.query(f"SELECT DISTINCT ?s ?p ?o WHERE {{ {where} }}", **bindings):
            out.add_edge(s, o, key=p)
        labels = self.query(
            "SELECT ?e (SAMPLE(?l) AS ?label) WHERE { ?e rdfs:label ?l } GROUP BY ?e"
        )
        for node, label in labels:
            if node in out:
                out.nodes[node]["label"] = str(label)
        return out

    def export(
        self,
        path: str | Path | BinaryIO,
        format: str | None = None,
        graph: Node | None = None,
        *,
        union: bool = False,
    ) -> Path:
        """Write the store (or one named graph) to an RDF file; the format comes from the file
        extension unless given. ``path`` may be a binary file object (``format`` then needed).

        Triple formats (ttl, nt) cannot hold graph names, so on a store with named graphs they
        need a choice, as Oxigraph's own dump does: ``graph`` (that graph only) or
        ``union=True`` (the union of all graphs, graph names dropped); without one a
        ``KGForgeError`` says so and nothing is written.
        """
        output = path if hasattr(path, "write") else Path(path)  # type: ignore[arg-type]
        fmt = rdf_format(format, output if isinstance(output, Path) else None)
        if not fmt.supports_datasets and graph is None and not union:
            named = self.graphs()
            if named:
                raise KGForgeError(
                    f"{getattr(output, 'name', output)}: {fmt.name} holds triples only, and this store has {len(named)} "
                    "named graph(s) whose names would be lost: export nq or trig, pick one "
                    "graph (--graph IRI / graph=), or merge them all (--union / union=True)"
                )
        try:
            if self._backend.capabilities.native_export:
                cast(NativeExport, self._backend).export(output, fmt, graph)  # type: ignore[arg-type]
            else:
                ox.serialize(
                    self._export_statements(fmt, graph),
                    str(output) if isinstance(output, Path) else output,
                    format=fmt,
                    prefixes={k: str(v) for k, v in PREFIXES.items()},
                )
        except OSError as exc:
            raise KGForgeError(f"cannot write {output}: {exc.strerror or exc}") from None
        return output  # type: ignore[return-value]

    def _export_statements(self, fmt: ox.RdfFormat, graph: Node | None) -> Iterator[Any]:
        if fmt.supports_datasets and graph is None:
            for quad in self._backend.quads(None, None, None, None, True):
                yield to_ox_quad(quad)
            return
        for s, p, o in self.triples((None, None, None), graph):
            yield ox.Triple(to_ox(s), to_ox(p), to_ox(o))


def _bindings(bindings: dict[str, Any]) -> dict[str, Any]:
    terms = to_terms(bindings)
    check_binding_names(terms)
    return terms


def _refuse_update(sparql: str) -> None:
    form = query_form(sparql)
    if form in UPDATE_FORMS:
        raise QueryError(
            f"this is a SPARQL UPDATE ({form} ...), not a query: run it with `kgforge update` "
            "(KnowledgeGraph.update in Python)"
        )


def _quad(statement: TripleOrQuad, graph: Node | None) -> Quad:
    if len(statement) == 4:
        s, p, o, g = statement  # type: ignore[misc]
    elif len(statement) == 3:
        (s, p, o), g = statement, graph
    else:
        raise TypeError(f"expected a triple or a quad, got {statement!r}")
    if not isinstance(s, URIRef | BNode) or not isinstance(p, URIRef):
        raise TypeError(f"not an RDF statement (IRI/blank subject, IRI predicate): {statement!r}")
    if not isinstance(o, URIRef | BNode | Literal):
        raise TypeError(f"not an RDF term in object position: {o!r}")
    return s, p, o, g


__all__ = ["BACKENDS", "MEMORY", "KnowledgeGraph", "infer_backend", "query_form"]


def _nquads_chunks(quads: Iterator[ox.Quad], per_chunk: int = 20_000) -> Iterator[bytes]:
    """Quads as N-Quads bytes, ``per_chunk`` statements at a time (for a streamed upload)."""
    while chunk := list(itertools.islice(quads, per_chunk)):
        yield ox.serialize(chunk, format=ox.RdfFormat.N_QUADS)
