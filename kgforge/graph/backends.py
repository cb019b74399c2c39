"""The three storage backends behind ``KnowledgeGraph``: embedded Oxigraph, rdflib memory, remote.

Each backend applies a list of write operations atomically (``apply``), so that a transaction is
buffered in ``KnowledgeGraph`` and handed over in one piece at commit:

- Oxigraph: adds only -> ``Store.extend`` (one RocksDB transaction); anything else -> one SPARQL
  UPDATE request, which pyoxigraph also runs as one transaction.
- memory: the operations are applied one by one with an undo log (a snapshot when a SPARQL
  update is involved, whose effects cannot be listed beforehand) and undone on failure.
- remote SPARQL: one UPDATE request, which the server runs as a unit.
"""

from __future__ import annotations

import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path
from typing import Any

import pyoxigraph as ox
from rdflib import Dataset, Graph, Variable
from rdflib.graph import DATASET_DEFAULT_GRAPH_ID
from rdflib.query import Result
from rdflib.term import Identifier, Node

from kgforge.errors import EndpointError, KGForgeError, QueryError, StoreLockedError
from kgforge.graph.formats import syntax_error
from kgforge.graph.namespaces import PREFIXES, sparql_prefixes
from kgforge.graph.terms import (
    Quad,
    from_ox,
    from_ox_quad,
    sparql_term,
    to_ox,
    to_ox_graph,
    to_ox_quad,
)

PREFIX_IRIS = {prefix: str(ns) for prefix, ns in PREFIXES.items()}
PREFIX_LINES = sparql_prefixes().count("\n")


# ---- write operations ------------------------------------------------------------------------


@dataclass
class Add:
    quads: list[Quad]


@dataclass
class AddParsed:
    """Statements parsed by pyoxigraph: the Oxigraph backend stores them without conversion."""

    quads: list[ox.Quad]

    def as_add(self) -> Add:
        return Add([from_ox_quad(q) for q in self.quads])


@dataclass
class Remove:
    """Remove the quads matching a pattern (``None`` = any term); ``graph`` None = every graph."""

    pattern: tuple[Node | None, Node | None, Node | None]
    graph: Node | None = None


@dataclass
class DropGraph:
    graph: Node


@dataclass
class Update:
    sparql: str
    bindings: dict[str, Identifier] = field(default_factory=dict)


Op = Add | AddParsed | Remove | DropGraph | Update

_POSITION = re.compile(r"(?:error at |line )(\d+)[:, column]+(\d+)")
# what cannot hold the WHERE keyword: strings, IRIs, comments
_SKIP = re.compile(
    r"'''.*?'''|\"\"\".*?\"\"\"|'(?:[^'\\\n]|\\.)*'|\"(?:[^\"\\\n]|\\.)*\"|#[^\n]*"
    r"|<[^<>\"{}|^`\\\s]*>",
    re.DOTALL,
)
_WHERE_WORD = re.compile(r"WHERE\s*\{", re.IGNORECASE)


def _group_starts(sparql: str, every: bool) -> list[int]:
    """Offsets just after the ``{`` that opens the WHERE group (of every operation of an update
    if ``every``), skipping strings, IRIs and comments; a query without the WHERE keyword
    (``SELECT * { ... }``, ``ASK { ... }``) opens its group with its first brace."""
    found: list[int] = []
    first_brace: int | None = None
    i = 0
    while i < len(sparql):
        skip = _SKIP.match(sparql, i)
        if skip:
            i = skip.end()
            continue
        where = _WHERE_WORD.match(sparql, i)
        if where and (i == 0 or not (sparql[i - 1].isalnum() or sparql[i - 1] in "_:?$")):
            found.append(where.end())
            if not every:
                return found
            i = where.end()
            continue
        if sparql[i] == "{" and first_brace is None:
            first_brace = i + 1
        i += 1
    if not found and first_brace is not None and not every:
        head = sparql[:first_brace].upper()
        if "CONSTRUCT" not in head and "DESCRIBE" not in head:
            found.append(first_brace)
    return found


def with_values(sparql: str, bindings: dict[str, Identifier], *, update: bool) -> str:
    """Bind variables with an inline ``VALUES`` block of escaped RDF terms placed first in the
    WHERE group (in every WHERE of an update), so that they hold before the pattern is evaluated
    as with rdflib's ``initBindings``. Used where the engine takes no bound values itself:
    remote endpoints, Oxigraph updates, Oxigraph queries binding a variable they do not select.
    """
    if not bindings:
        return sparql
    names = " ".join(f"?{name}" for name in bindings)
    values = " ".join(sparql_term(term) for term in bindings.values())
    block = f" VALUES ({names}) {{ ({values}) }}\n"
    starts = _group_starts(sparql, every=update)
    if not starts:
        raise QueryError("bindings need a WHERE clause to bind variables in")
    pieces, last = [], 0
    for at in starts:
        pieces += [sparql[last:at], block]
        last = at
    return "".join(pieces) + sparql[last:]


def _data_block(quads: Iterable[Quad]) -> str:
    by_graph: dict[Node | None, list[str]] = {}
    for s, p, o, g in quads:
        by_graph.setdefault(g, []).append(f"{sparql_term(s)} {sparql_term(p)} {sparql_term(o)} .")
    parts = []
    for g, lines in by_graph.items():
        body = "\n".join(lines)
        parts.append(body if g is None else f"GRAPH {sparql_term(g)} {{\n{body}\n}}")
    return "\n".join(parts)


def _pattern(pattern: tuple[Node | None, Node | None, Node | None]) -> str:
    names = ("?s", "?p", "?o")
    return " ".join(n if t is None else sparql_term(t) for n, t in zip(names, pattern, strict=True))


def op_to_sparql(op: Op) -> str:
    """One operation as SPARQL 1.1 Update text (prefixes are declared by the caller)."""
    if isinstance(op, AddParsed):
        op = op.as_add()
    if isinstance(op, Add):
        return f"INSERT DATA {{\n{_data_block(op.quads)}\n}}" if op.quads else ""
    if isinstance(op, Remove):
        pattern = _pattern(op.pattern)
        if op.graph is not None:
            return f"DELETE WHERE {{ GRAPH {sparql_term(op.graph)} {{ {pattern} }} }}"
        return f"DELETE WHERE {{ {pattern} }} ;\nDELETE WHERE {{ GRAPH ?g {{ {pattern} }} }}"
    if isinstance(op, DropGraph):
        return f"DROP SILENT GRAPH {sparql_term(op.graph)}"
    return with_values(op.sparql, op.bindings, update=True)


def ops_to_sparql(ops: Sequence[Op]) -> str:
    return " ;\n".join(text for text in map(op_to_sparql, ops) if text)


def query_error(message: str, line_offset: int = 0) -> QueryError:
    """A parser message as a ``QueryError`` with the line/column of the user's own text."""
    first = message.strip().splitlines()[0] if message.strip() else "invalid SPARQL"
    match = _POSITION.search(first)
    if match:
        line, column = int(match.group(1)) - line_offset, int(match.group(2))
        rest = first[match.end() :].lstrip(":) ")
        return QueryError(f"SPARQL syntax error at line {line}, column {column}: {rest}")
    return QueryError(f"SPARQL error: {first}")


def result_from_ox(result: Any) -> Result:
    """An rdflib ``Result`` from a pyoxigraph query result (fully read, so the store can change)."""
    if isinstance(result, ox.QueryBoolean):
        out = Result("ASK")
        out.askAnswer = bool(result)
    elif isinstance(result, ox.QuerySolutions):
        out = Result("SELECT")
        variables = [Variable(v.value) for v in result.variables]
        out.vars = variables
        out.bindings = [
            {var: from_ox(val) for var, val in zip(variables, row, strict=True) if val is not None}
            for row in result
        ]
    else:
        out = Result("CONSTRUCT")
        graph = Graph()
        for triple in result:
            graph.add((from_ox(triple.subject), from_ox(triple.predicate), from_ox(triple.object)))
        out.graph = graph
    return out


def parse_file(path: Path, fmt: ox.RdfFormat, graph: Node | None) -> list[ox.Quad]:
    """All statements of an RDF file (triples go to ``graph``); fails before any write."""
    target = to_ox_graph(graph)
    try:
        quads = list(ox.parse(path=str(path), format=fmt, base_iri=path.resolve().as_uri()))
    except SyntaxError as exc:
        raise syntax_error(exc, path) from None
    except OSError as exc:
        raise KGForgeError(f"cannot read {path}: {exc.strerror or exc}") from None
    if isinstance(target, ox.DefaultGraph):
        return quads
    return [
        ox.Quad(q.subject, q.predicate, q.object, target)
        if isinstance(q.graph_name, ox.DefaultGraph)
        else q
        for q in quads
    ]


# ---- Oxigraph ----------------------------------------------------------------------------------

# SPARQL that can mint terms (fresh blank nodes, random or time values): run twice, it would
# give the disk and the memory copy different statements. Matched loosely; a false hit only
# costs a reload of the copy.
_MINTS_TERMS = re.compile(r"_:|\[|\b(?:BNODE|UUID|STRUUID|RAND|NOW)\s*\(", re.IGNORECASE)


class MirroredStore:
    """An on-disk Oxigraph store with a full copy in Oxigraph's in-memory engine for reads.

    On disk, Oxigraph joins with one RocksDB seek per row and decodes every string of a result
    through another one; its in-memory engine does both with hash lookups, several times faster
    on join-heavy queries. Writes go to disk first (the durable copy; a failed write changes
    neither) and are then replayed on the copy; what cannot be replayed exactly (an update that
    mints blank nodes, UUIDs, random or time values) or fails on the copy reloads the copy from
    disk. The copy costs memory (about 0.4 GB per million triples) and a load at open.
    """

    def __init__(self, disk: ox.Store) -> None:
        self.disk = disk
        self.memory = self._copy()

    def _copy(self) -> ox.Store:
        memory = ox.Store()
        memory.bulk_extend(self.disk.quads_for_pattern(None, None, None, None))
        for graph in self.disk.named_graphs():
            memory.add_graph(graph)
        return memory

    def _write(self, method: str, *args: Any, replay: bool = True, **kwargs: Any) -> None:
        getattr(self.disk, method)(*args, **kwargs)
        if replay:
            try:
                getattr(self.memory, method)(*args, **kwargs)
                return
            except Exception:  # the disk has the write: rebuild the copy from it
                pass
        self.memory = self._copy()

    # writes: disk, then the copy
    def add(self, quad: ox.Quad) -> None:
        self._write("add", quad)

    def extend(self, quads: Iterable[ox.Quad]) -> None:
        self._write("extend", list(quads))

    def bulk_extend(self, quads: Iterable[ox.Quad]) -> None:
        self._write("bulk_extend", list(quads))

    def remove(self, quad: ox.Quad) -> None:
        self._write("remove", quad)

    def update(self, update: str, **kwargs: Any) -> None:
        self._write("update", update, replay=not _MINTS_TERMS.search(update), **kwargs)

    def add_graph(self, graph: Any) -> None:
        self._write("add_graph", graph)

    def remove_graph(self, graph: Any) -> None:
        self._write("remove_graph", graph)

    def clear_graph(self, graph: Any) -> None:
        self._write("clear_graph", graph)

    def clear(self) -> None:
        self._write("clear")

    def flush(self) -> None:
        self.disk.flush()

    # reads: the copy
    def query(self, query: str, **kwargs: Any) -> Any:
        return self.memory.query(query, **kwargs)

    def quads_for_pattern(self, *pattern: Any) -> Iterator[ox.Quad]:
        return self.memory.quads_for_pattern(*pattern)

    def named_graphs(self) -> Iterator[Any]:
        return self.memory.named_graphs()

    def contains_named_graph(self, graph: Any) -> bool:
        return self.memory.contains_named_graph(graph)

    def dump(self, *args: Any, **kwargs: Any) -> Any:
        return self.memory.dump(*args, **kwargs)

    def __iter__(self) -> Iterator[ox.Quad]:
        return iter(self.memory)

    def __contains__(self, quad: ox.Quad) -> bool:
        return quad in self.memory

    def __len__(self) -> int:
        return len(self.memory)


class OxigraphBackend:
    """On-disk Oxigraph (RocksDB) through pyoxigraph; ``dataset`` is the same store via oxrdflib.

    ``memory_cache`` answers reads from an in-memory copy (``MirroredStore``).
    """

    name = "oxigraph"

    def __init__(
        self, path: Path, *, read_only: bool, create: bool, memory_cache: bool = False
    ) -> None:
        from oxrdflib import OxigraphStore

        exists = path.is_dir() and any(path.iterdir())
        if path.exists() and not path.is_dir():
            raise KGForgeError(f"{path} is a file, not a store directory")
        if not exists and (read_only or not create):
            raise KGForgeError(f"no store at {path}")
        self.read_only = read_only
        if not read_only:
            path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.store = ox.Store.read_only(str(path)) if read_only else ox.Store(str(path))
        except (OSError, RuntimeError) as exc:  # RocksDB reports corruption as RuntimeError
            text = str(exc)
            if "lock" in text.lower():
                raise StoreLockedError(
                    f"{path} is already open for writing (by another process, or another "
                    "KnowledgeGraph in this one): close it there, or open this one read-only"
                ) from None
            raise KGForgeError(f"cannot open the store at {path}: {text}") from None
        if memory_cache:
            self.store = MirroredStore(self.store)  # type: ignore[assignment]
        self.dataset = Dataset(store=OxigraphStore(store=self.store), default_union=True)

    def query(self, sparql: str, bindings: dict[str, Identifier], union: bool = True) -> Result:
        try:
            try:
                result = self.store.query(
                    sparql,
                    use_default_graph_as_union=union,
                    prefixes=PREFIX_IRIS,
                    substitutions={ox.Variable(k): to_ox(v) for k, v in bindings.items()},
                )
            except RuntimeError as exc:  # Oxigraph substitutes only variables the query selects
                if "projection" not in str(exc):
                    raise
                result = self.store.query(
                    with_values(sparql, bindings, update=False),
                    use_default_graph_as_union=union,
                    prefixes=PREFIX_IRIS,
                )
            return result_from_ox(result)
        except SyntaxError as exc:
            raise query_error(str(exc)) from None
        except (ValueError, OSError, RuntimeError) as exc:
            raise QueryError(f"SPARQL error: {exc}") from None

    def apply(self, ops: Sequence[Op]) -> None:
        if all(isinstance(op, Add | AddParsed) for op in ops):
            quads = [
                q if isinstance(op, AddParsed) else to_ox_quad(q)  # type: ignore[arg-type]
                for op in ops
                for q in op.quads  # type: ignore[union-attr]
            ]
            self.store.extend(quads)
            return
        try:
            self.store.update(ops_to_sparql(ops), prefixes=PREFIX_IRIS)
        except SyntaxError as exc:
            raise query_error(str(exc)) from None
        except (ValueError, OSError, RuntimeError) as exc:
            raise QueryError(f"SPARQL update failed: {exc}") from None

    def extend_ox(self, quads: Iterable[ox.Quad], *, bulk: bool) -> None:
        if bulk:
            self.store.bulk_extend(quads)
        else:
            self.store.extend(list(quads))

    def quads(self, s: Any, p: Any, o: Any, graph: Any, any_graph: bool) -> Iterator[Quad]:
        pattern = [None if t is None else to_ox(t) for t in (s, p, o)]
        g = None if any_graph else to_ox_graph(graph)
        try:
            for quad in self.store.quads_for_pattern(*pattern, g):
                yield from_ox_quad(quad)
        except TypeError:  # a literal in subject/predicate position matches nothing
            return

    def __len__(self) -> int:
        return len(self.store)

    def graphs(self) -> list[Node]:
        return [
            from_ox(g)
            for g in self.store.named_graphs()
            if next(iter(self.store.quads_for_pattern(None, None, None, g)), None) is not None
        ]

    def export(self, path: Path, fmt: ox.RdfFormat, graph: Node | None) -> None:
        if fmt.supports_datasets and graph is None:
            self.store.dump(str(path), format=fmt, prefixes=PREFIX_IRIS)
        elif graph is not None:
            self.store.dump(
                str(path), format=fmt, from_graph=to_ox_graph(graph), prefixes=PREFIX_IRIS
            )
        else:
            union = self.store.query(
                "CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o }", use_default_graph_as_union=True
            )
            ox.serialize(union, str(path), format=fmt, prefixes=PREFIX_IRIS)

    def close(self) -> None:
        if not self.read_only:
            self.store.flush()
        del self.store
        self.dataset = None  # type: ignore[assignment]


# ---- rdflib memory -------------------------------------------------------------------------------


def _graph_id(graph: Node | None) -> Node:
    return DATASET_DEFAULT_GRAPH_ID if graph is None else graph


def _graph_name(context: Any) -> Node | None:
    ident = getattr(context, "identifier", context)
    return None if ident == DATASET_DEFAULT_GRAPH_ID else ident


class MemoryBackend:
    """rdflib's in-memory store; queries run on rdflib's own SPARQL engine.

    Reads and writes of statements go to the store itself with explicit graphs, because rdflib's
    union-default ``Dataset`` reads the default graph as the union and removes from it in every
    graph. Updates run on a non-union view, so that, as on the other backends, a pattern outside
    ``GRAPH`` in an update means the default graph.
    """

    name = "memory"

    def __init__(self) -> None:
        self.dataset = Dataset(store="Memory", default_union=True)
        self._store = self.dataset.store
        self._plain = Dataset(store=self._store, default_union=False)
        self._contexts: dict[Node | None, Graph] = {}

    def _context(self, graph: Node | None) -> Graph:
        context = self._contexts.get(graph)
        if context is None:
            context = self._contexts[graph] = Graph(store=self._store, identifier=_graph_id(graph))
        return context

    def query(self, sparql: str, bindings: dict[str, Identifier], union: bool = True) -> Result:
        from rdflib.plugins.sparql import prepareQuery

        try:
            prepared = prepareQuery(sparql, initNs=PREFIXES)
        except Exception as exc:  # pyparsing / rdflib raise assorted types for bad queries
            raise _rdflib_query_error(exc) from None
        return (self.dataset if union else self._plain).query(prepared, initBindings=bindings)

    def apply(self, ops: Sequence[Op]) -> None:
        has_update = any(isinstance(op, Update) for op in ops)
        snapshot = list(self.quads(None, None, None, None, True)) if has_update else None
        undo: list[tuple[str, Quad]] = []
        try:
            for op in ops:
                self._apply_one(op, undo)
        except BaseException:
            if snapshot is not None:
                for quad in list(self.quads(None, None, None, None, True)):
                    self._store.remove(quad[:3], context=self._context(quad[3]))
                for s, p, o, g in snapshot:
                    self._store.add((s, p, o), context=self._context(g))
            else:
                for action, (s, p, o, g) in reversed(undo):
                    if action == "added":
                        self._store.remove((s, p, o), context=self._context(g))
                    else:
                        self._store.add((s, p, o), context=self._context(g))
            raise

    def _apply_one(self, op: Op, undo: list[tuple[str, Quad]]) -> None:
        if isinstance(op, AddParsed):
            op = op.as_add()
        if isinstance(op, Add):
            for quad in op.quads:
                s, p, o, g = quad
                if next(self.quads(s, p, o, g, False), None) is None:
                    self._store.add((s, p, o), context=self._context(g))
                    undo.append(("added", quad))
        elif isinstance(op, Remove | DropGraph):
            if isinstance(op, Remove):
                matches = list(self.quads(*op.pattern, op.graph, op.graph is None))
            else:
                matches = list(self.quads(None, None, None, op.graph, False))
            for quad in matches:
                s, p, o, g = quad
                self._store.remove((s, p, o), context=self._context(g))
                undo.append(("removed", quad))
        else:
            from rdflib.plugins.sparql import prepareUpdate

            try:
                prepared = prepareUpdate(op.sparql, initNs=PREFIXES)
            except Exception as exc:
                raise _rdflib_query_error(exc) from None
            self._plain.update(prepared, initBindings=op.bindings)

    def quads(self, s: Any, p: Any, o: Any, graph: Any, any_graph: bool) -> Iterator[Quad]:
        if any_graph:
            for triple, contexts in self._store.triples((s, p, o), None):
                for context in contexts:
                    yield (*triple, _graph_name(context))
        else:
            for triple, _ in self._store.triples((s, p, o), self._context(graph)):
                yield (*triple, graph)

    def __len__(self) -> int:
        return sum(1 for _ in self.quads(None, None, None, None, True))

    def graphs(self) -> list[Node]:
        names = {_graph_name(c) for c in self._store.contexts()}
        return [
            g for g in names if g is not None and next(self.quads(None, None, None, g, False), None)
        ]

    def close(self) -> None:
        pass


def _rdflib_query_error(exc: Exception) -> QueryError:
    line, col = getattr(exc, "lineno", None), getattr(exc, "col", None)
    msg = getattr(exc, "msg", None) or str(exc)
    if line is not None and col is not None:
        return QueryError(f"SPARQL syntax error at line {line}, column {col}: {msg}")
    return QueryError(
        f"SPARQL error: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
    )


# ---- remote SPARQL endpoint ----------------------------------------------------------------------


class SparqlBackend:
    """A SPARQL 1.1 endpoint (query + update over HTTP).

    ``dataset`` is rdflib's ``SPARQLUpdateStore`` over the endpoint, for rdflib-style access; the
    backend's own queries and updates go over a small protocol client, which reports the
    server's error message (rdflib's swallows it) and asks Oxigraph for union-default-graph
    queries so that the remote store answers like the embedded ones.
    """

    name = "sparql"
    _RESULTS = "application/sparql-results+json, application/n-triples;q=0.9"

    def __init__(
        self,
        url: str,
        *,
        query_endpoint: str | None = None,
        update_endpoint: str | None = None,
        union_default_graph: bool = True,
        timeout: float = 30.0,
    ) -> None:
        from rdflib.plugins.stores.sparqlstore import SPARQLUpdateStore

        base = url.rstrip("/")
        self.url = url
        self.query_endpoint = query_endpoint or f"{base}/query"
        self.update_endpoint = update_endpoint or f"{base}/update"
        self.union_default_graph = union_default_graph
        self.timeout = timeout
        self.query("ASK { }", {})  # fail now, with the URL, if nothing answers there
        store = SPARQLUpdateStore(self.query_endpoint, self.update_endpoint, autocommit=True)
        self.dataset = Dataset(store=store, default_union=True)

    def _post(self, endpoint: str, body: str, content_type: str, params: dict[str, str]) -> Any:
        url = endpoint + ("?" + urllib.parse.urlencode(params) if params else "")
        request = urllib.request.Request(
            url,
            data=body.encode("utf-8"),
            headers={"Content-Type": f"{content_type}; charset=utf-8", "Accept": self._RESULTS},
        )
        try:
            return urllib.request.urlopen(request, timeout=self.timeout)
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode("utf-8", "replace")
            if exc.code == 400:
                raise query_error(detail or exc.reason, PREFIX_LINES) from None
            raise EndpointError(
                f"SPARQL endpoint {endpoint} answered {exc.code} {exc.reason}: {detail.strip()[:200]}"
            ) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise EndpointError(f"cannot reach SPARQL endpoint {endpoint}: {reason}") from None

    def query(self, sparql: str, bindings: dict[str, Identifier], union: bool = True) -> Result:
        text = sparql_prefixes() + with_values(sparql, bindings, update=False)
        params = {"union-default-graph": ""} if union and self.union_default_graph else {}
        with self._post(self.query_endpoint, text, "application/sparql-query", params) as resp:
            content_type = resp.headers.get("Content-Type", "").split(";")[0].strip()
            data = resp.read()
        if content_type == "application/sparql-results+json":
            return Result.parse(BytesIO(data), format="json")
        if content_type in ("application/n-triples", "text/turtle", "application/n-quads"):
            out = Result("CONSTRUCT")
            out.graph = Graph().parse(
                data=data, format="nt" if "triples" in content_type else "turtle"
            )
            return out
        raise EndpointError(
            f"SPARQL endpoint {self.query_endpoint} sent {content_type or 'no type'}"
        )

    def apply(self, ops: Sequence[Op]) -> None:
        text = ops_to_sparql(ops)
        if text:
            self._post(
                self.update_endpoint, sparql_prefixes() + text, "application/sparql-update", {}
            ).close()

    def quads(self, s: Any, p: Any, o: Any, graph: Any, any_graph: bool) -> Iterator[Quad]:
        bindings = {k: v for k, v in zip("spo", (s, p, o), strict=True) if v is not None}
        if any_graph:
            where = "{ ?s ?p ?o } UNION { GRAPH ?g { ?s ?p ?o } }"
        elif graph is None:
            where = "?s ?p ?o"
        else:
            where = "GRAPH ?g { ?s ?p ?o }"
            bindings["g"] = graph
        result = self.query(f"SELECT ?s ?p ?o ?g WHERE {{ {where} }}", bindings, union=False)
        for row in result.bindings:
            yield (
                row.get(Variable("s"), s),
                row.get(Variable("p"), p),
                row.get(Variable("o"), o),
                row.get(Variable("g"), graph if not any_graph else None),
            )

    def __len__(self) -> int:
        result = self.query(
            "SELECT (COUNT(*) AS ?n) WHERE { { ?s ?p ?o } UNION { GRAPH ?g { ?s ?p ?o } } }",
            {},
            union=False,
        )
        return int(next(iter(result))[0])

    def graphs(self) -> list[Node]:
        result = self.query("SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s ?p ?o } }", {}, union=False)
        return [row[0] for row in result]

    def close(self) -> None:
        pass
