"""RDF serialization formats by name or file extension, parsing RDF files, and pyoxigraph's syntax
errors as ours."""

from __future__ import annotations

from pathlib import Path

import pyoxigraph as ox
from rdflib.term import Node

from kgforge.errors import KGForgeError, RDFSyntaxError, UnknownFormatError
from kgforge.graph.terms import to_ox_graph

FORMATS: dict[str, ox.RdfFormat] = {
    "ttl": ox.RdfFormat.TURTLE,
    "turtle": ox.RdfFormat.TURTLE,
    "nt": ox.RdfFormat.N_TRIPLES,
    "ntriples": ox.RdfFormat.N_TRIPLES,
    "nq": ox.RdfFormat.N_QUADS,
    "nquads": ox.RdfFormat.N_QUADS,
    "trig": ox.RdfFormat.TRIG,
    "jsonld": ox.RdfFormat.JSON_LD,
    "json-ld": ox.RdfFormat.JSON_LD,
    "rdf": ox.RdfFormat.RDF_XML,
    "xml": ox.RdfFormat.RDF_XML,
    "rdfxml": ox.RdfFormat.RDF_XML,
    "owl": ox.RdfFormat.RDF_XML,
    "n3": ox.RdfFormat.N3,
}
EXPORT_FORMATS = ("ttl", "nt", "nq", "trig", "jsonld")


def rdf_format(format: str | None, path: str | Path | None = None) -> ox.RdfFormat:
    """The format named by ``format``, or guessed from the extension of ``path``."""
    name = format
    if name is None:
        suffix = Path(path).suffix if path is not None else ""
        if not suffix:
            raise UnknownFormatError(
                f"cannot guess the RDF format of {path!s}: give one of {', '.join(FORMATS)}"
            )
        name = suffix
    key = name.lower().lstrip(".")
    if key not in FORMATS:
        where = f" (file {path})" if format is None and path is not None else ""
        raise UnknownFormatError(
            f"unknown RDF format {name!r}{where}: known formats are {', '.join(FORMATS)}"
        )
    return FORMATS[key]


def syntax_error(exc: SyntaxError, path: str | Path | None) -> RDFSyntaxError:
    """pyoxigraph's parse error as an ``RDFSyntaxError`` naming the file and line."""
    message = exc.msg if isinstance(exc.msg, str) else str(exc)
    return RDFSyntaxError(message.splitlines()[0] if message else "syntax error", path, exc.lineno)


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
