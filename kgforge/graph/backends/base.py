"""What every storage backend provides, and the write operations they apply.

A backend is a class with a ``name``, ``Capabilities`` flags and the ``Backend`` methods; the
registry in ``kgforge.graph.backends`` maps names to classes. ``KnowledgeGraph`` asks a backend's
flags what it can do (bulk loading, a native exporter, ...) instead of checking its class.

Each backend applies a list of write operations atomically (``apply``), so that a transaction is
buffered in ``KnowledgeGraph`` and handed over in one piece at commit.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, ClassVar, Protocol, runtime_checkable

import pyoxigraph as ox
from rdflib import Dataset
from rdflib.query import Result
from rdflib.term import Identifier, Node

from kgforge.errors import QueryError
from kgforge.graph.namespaces import PREFIXES, sparql_prefixes
from kgforge.graph.terms import Quad, from_ox_quad, sparql_term


@dataclass(frozen=True)
class Capabilities:
    """What a backend can do beyond the common ``Backend`` methods.

    Args:
        bulk_load: ``extend_ox(quads, bulk=True)``: a fast, non-transactional loader.
        native_export: ``export(path, fmt, graph)`` writes files itself (else ``KnowledgeGraph``
            serialises the statements it reads).
        transactions: ``apply`` runs a batch as one engine transaction (else an undo log).
        memory_copy: ``memory_cache=True`` keeps a copy in memory for reads.
        stream_results: ``write_results(sparql, bindings, fmt, out)`` streams query results
            row by row in SPARQL CSV/TSV/JSON.
        remote: the data lives behind a network endpoint (requests can time out).
        text_load: ``load_text(data, fmt)`` parses and adds N-Quads/N-Triples text in one
            transaction without holding the GIL, and may run in a thread beside readers.
        stream_load: ``load_stream(chunks, fmt, graph)``: RDF bytes streamed to the store in
            one request (the SPARQL Graph Store protocol), loaded all or nothing.
    """

    bulk_load: bool = False
    native_export: bool = False
    transactions: bool = False
    memory_copy: bool = False
    stream_results: bool = False
    remote: bool = False
    text_load: bool = False
    stream_load: bool = False


@runtime_checkable
class Backend(Protocol):
    """The storage interface ``KnowledgeGraph`` is written against.

    ``open`` makes one from a location (a directory, ``:memory:`` or a URL) and the
    backend-specific ``options`` (only those named in ``options``).
    """

    name: ClassVar[str]
    title: ClassVar[str]  # for messages: "the embedded Oxigraph store"
    capabilities: ClassVar[Capabilities]
    options: ClassVar[frozenset[str]]  # the keyword options ``open`` takes
    dataset: Dataset

    @classmethod
    def open(cls, location: str, *, read_only: bool, create: bool, **options: Any) -> Backend: ...

    def query(self, sparql: str, bindings: dict[str, Identifier], union: bool = True) -> Result:
        """A query over the union of all graphs (``union``) or the default graph."""
        ...

    def apply(self, ops: Sequence[Op]) -> None:
        """All the operations, or (on failure) none of them."""
        ...

    def quads(self, s: Any, p: Any, o: Any, graph: Any, any_graph: bool) -> Iterator[Quad]: ...

    def graphs(self) -> list[Node]:
        """The named graphs that hold at least one statement."""
        ...

    def __len__(self) -> int: ...

    def close(self) -> None: ...


# optional methods, present when the matching flag is set (typed here for the callers)
class BulkLoading(Protocol):
    def extend_ox(self, quads: Iterable[ox.Quad], *, bulk: bool) -> None: ...


class StreamLoading(Protocol):
    def load_stream(
        self, chunks: Iterable[bytes], fmt: ox.RdfFormat, graph: Node | None
    ) -> None: ...


class NativeExport(Protocol):
    def export(self, output: Path | BinaryIO, fmt: ox.RdfFormat, graph: Node | None) -> None: ...


class StreamedResults(Protocol):
    def write_results(
        self, sparql: str, bindings: dict[str, Identifier], fmt: str, out: BinaryIO
    ) -> bool:
        """Write SELECT/ASK results in ``fmt`` (csv, tsv, json) to ``out``, row by row; False
        (nothing written) for a CONSTRUCT/DESCRIBE query."""
        ...


# SPARQL 1.1 VARNAME (grammar rule [166]); a name outside it could close the VALUES block and
# smuggle text into the query, so every binding name is checked before a query is built.
_PN_CHARS_U = (
    "A-Za-z_\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u02ff\u0370-\u037d\u037f-\u1fff"
    "\u200c-\u200d\u2070-\u218f\u2c00-\u2fef\u3001-\ud7ff\uf900-\ufdcf\ufdf0-\ufffd"
    "\U00010000-\U000effff"
)
VARNAME = re.compile(f"[{_PN_CHARS_U}0-9][{_PN_CHARS_U}0-9\u00b7\u0300-\u036f\u203f-\u2040]*")


def check_binding_names(names: Iterable[str]) -> None:
    """Raise ``QueryError`` naming the first binding name that is not a SPARQL variable name."""
    for name in names:
        if not isinstance(name, str) or not VARNAME.fullmatch(name):
            raise QueryError(
                f"binding name {name!r} is not a SPARQL variable name (letters, digits and _; "
                "see the SPARQL 1.1 VARNAME rule)"
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
    check_binding_names(bindings)
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
