"""rdflib's in-memory store and SPARQL engine: for tests and tiny graphs, nothing on disk.

A batch is applied operation by operation with an undo log (a snapshot when a SPARQL update is
involved, whose effects cannot be listed beforehand) and undone on failure.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, ClassVar

from rdflib import Dataset, Graph
from rdflib.graph import DATASET_DEFAULT_GRAPH_ID
from rdflib.query import Result
from rdflib.term import Identifier, Node

from kgforge.errors import QueryError
from kgforge.graph.backends.base import (
    Add,
    AddParsed,
    Capabilities,
    DropGraph,
    Op,
    Remove,
    Update,
)
from kgforge.graph.namespaces import PREFIXES
from kgforge.graph.terms import Quad


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

    name: ClassVar[str] = "memory"
    title: ClassVar[str] = "rdflib's memory store"
    capabilities: ClassVar[Capabilities] = Capabilities()
    options: ClassVar[frozenset[str]] = frozenset()

    @classmethod
    def open(cls, location: str, *, read_only: bool, create: bool, **options: Any) -> MemoryBackend:
        return cls()

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
            try:
                self._plain.update(prepared, initBindings=op.bindings)
            except Exception as exc:  # rdflib's evaluator raises plain Exceptions (e.g. LOAD)
                first = (str(exc) or type(exc).__name__).splitlines()[0]
                raise QueryError(f"SPARQL update failed: {first}") from exc

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
