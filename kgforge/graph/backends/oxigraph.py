"""The embedded Oxigraph store (RocksDB on disk) through pyoxigraph, optionally mirrored in memory.

A batch of adds is one ``Store.extend`` (one RocksDB transaction); anything else is one SPARQL
UPDATE, which pyoxigraph also runs as one transaction.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, BinaryIO, ClassVar

import pyoxigraph as ox
from rdflib import Dataset, Graph, Variable
from rdflib.query import Result
from rdflib.term import Identifier, Node

from kgforge.errors import KGForgeError, QueryError, StoreLockedError
from kgforge.graph.backends.base import (
    PREFIX_IRIS,
    Add,
    AddParsed,
    Capabilities,
    Op,
    ops_to_sparql,
    query_error,
    with_values,
)
from kgforge.graph.formats import syntax_error
from kgforge.graph.terms import Quad, from_ox, from_ox_quad, to_ox, to_ox_graph, to_ox_quad


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


# SPARQL that can mint terms (fresh blank nodes, random or time values): run twice, it would
# give the disk and the memory copy different statements. Matched loosely; a false hit only
# costs a reload of the copy.
_MINTS_TERMS = re.compile(r"_:|\[|\b(?:BNODE|UUID|STRUUID|RAND|NOW)\s*\(", re.IGNORECASE)


_RESULT_FORMATS = {
    "csv": ox.QueryResultsFormat.CSV,
    "tsv": ox.QueryResultsFormat.TSV,
    "json": ox.QueryResultsFormat.JSON,
}


def is_store(path: Path) -> bool:
    """Whether ``path`` holds a RocksDB database (every Oxigraph store has its CURRENT file)."""
    return (path / "CURRENT").is_file()


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

    def load(self, **kwargs: Any) -> None:
        self._write("load", **kwargs)

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

    name: ClassVar[str] = "oxigraph"
    title: ClassVar[str] = "the embedded Oxigraph store"
    capabilities: ClassVar[Capabilities] = Capabilities(
        bulk_load=True,
        native_export=True,
        transactions=True,
        memory_copy=True,
        stream_results=True,
        text_load=True,
    )
    options: ClassVar[frozenset[str]] = frozenset({"memory_cache"})

    @classmethod
    def open(
        cls, location: str, *, read_only: bool, create: bool, **options: Any
    ) -> OxigraphBackend:
        return cls(Path(location), read_only=read_only, create=create, **options)

    def __init__(
        self, path: Path, *, read_only: bool, create: bool, memory_cache: bool = False
    ) -> None:
        from oxrdflib import OxigraphStore

        if path.exists() and not path.is_dir():
            raise KGForgeError(f"{path} is a file, not a store directory")
        exists = path.is_dir() and any(path.iterdir())
        if exists and not is_store(path):
            raise KGForgeError(
                f"{path} is a non-empty directory but not an Oxigraph store (no RocksDB files "
                "in it): give a new or empty directory, or the directory of an existing store"
            )
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

    def _run(self, sparql: str, bindings: dict[str, Identifier], union: bool) -> Any:
        try:
            try:
                return self.store.query(
                    sparql,
                    use_default_graph_as_union=union,
                    prefixes=PREFIX_IRIS,
                    substitutions={ox.Variable(k): to_ox(v) for k, v in bindings.items()},
                )
            except RuntimeError as exc:  # Oxigraph substitutes only variables the query selects
                if "projection" not in str(exc):
                    raise
                return self.store.query(
                    with_values(sparql, bindings, update=False),
                    use_default_graph_as_union=union,
                    prefixes=PREFIX_IRIS,
                )
        except SyntaxError as exc:
            raise query_error(str(exc)) from None
        except (ValueError, OSError, RuntimeError) as exc:
            raise QueryError(f"SPARQL error: {exc}") from None

    def query(self, sparql: str, bindings: dict[str, Identifier], union: bool = True) -> Result:
        result = self._run(sparql, bindings, union)
        try:
            return result_from_ox(result)
        except (ValueError, OSError, RuntimeError) as exc:  # raised while the rows are read
            raise QueryError(f"SPARQL error: {exc}") from None

    def write_results(
        self, sparql: str, bindings: dict[str, Identifier], fmt: str, out: BinaryIO
    ) -> bool:
        result = self._run(sparql, bindings, True)
        if not isinstance(result, ox.QuerySolutions | ox.QueryBoolean):
            return False
        try:  # pyoxigraph's serialiser writes each solution as it is computed
            result.serialize(out, format=_RESULT_FORMATS[fmt])
        except (ValueError, RuntimeError) as exc:
            raise QueryError(f"SPARQL error: {exc}") from None
        return True

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

    def load_text(self, data: str | bytes, fmt: ox.RdfFormat) -> None:
        """Parse and add RDF text in one transaction inside pyoxigraph, which releases the GIL
        meanwhile (a writer thread then overlaps other Python work); nothing is written on a
        syntax error."""
        try:
            self.store.load(input=data, format=fmt)
        except SyntaxError as exc:
            raise syntax_error(exc, None) from None

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

    def export(self, output: Path | BinaryIO, fmt: ox.RdfFormat, graph: Node | None) -> None:
        target = str(output) if isinstance(output, Path) else output
        if fmt.supports_datasets and graph is None:
            self.store.dump(target, format=fmt, prefixes=PREFIX_IRIS)
        elif graph is not None:
            self.store.dump(target, format=fmt, from_graph=to_ox_graph(graph), prefixes=PREFIX_IRIS)
        else:
            union = self.store.query(
                "CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o }", use_default_graph_as_union=True
            )
            ox.serialize(union, target, format=fmt, prefixes=PREFIX_IRIS)

    def flush(self) -> None:
        """Write RocksDB's in-memory write buffers (memtables) to disk files."""
        self.store.flush()

    def close(self) -> None:
        if not self.read_only:
            self.store.flush()
        del self.store
        self.dataset = None  # type: ignore[assignment]
