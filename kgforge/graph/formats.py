"""RDF serialization formats by name or file extension, parsing RDF files, and pyoxigraph's syntax
errors as ours."""

from __future__ import annotations

from pathlib import Path

import pyoxigraph as ox
from rdflib.term import Node

from kgforge.errors import KGForgeError, RDFSyntaxError, UnknownFormatError
from kgforge.graph.terms import to_ox_graph, to_ox_quad

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


# rdflib's parsers for files pyoxigraph cannot buffer; N-Triples goes through the Turtle parser
# (a superset; rdflib's own N-Triples parser is quadratic in the length of a literal), N-Quads
# has no such twin and stays an error
_RDFLIB_NAMES = {
    ox.RdfFormat.TURTLE: "turtle",
    ox.RdfFormat.N_TRIPLES: "turtle",
    ox.RdfFormat.TRIG: "trig",
    ox.RdfFormat.JSON_LD: "json-ld",
    ox.RdfFormat.RDF_XML: "xml",
    ox.RdfFormat.N3: "n3",
}


def parse_file(path: Path, fmt: ox.RdfFormat, graph: Node | None) -> list[ox.Quad]:
    """All statements of an RDF file (triples go to ``graph``); fails before any write.

    pyoxigraph parses; a file with one token over its 16 MiB buffer (a huge literal) is parsed
    by rdflib instead, and RDF/XML is checked to be complete XML first, because pyoxigraph reads
    a truncated RDF/XML file as the statements before the cut (or none) without an error.
    """
    target = to_ox_graph(graph)
    base = path.resolve().as_uri()
    try:
        if fmt == ox.RdfFormat.RDF_XML:
            _check_xml(path)
        try:
            quads = list(ox.parse(path=str(path), format=fmt, base_iri=base))
        except MemoryError as exc:  # "Reached the buffer maximal size": one token over 16 MiB
            if "buffer" not in str(exc):
                raise
            if fmt not in _RDFLIB_NAMES:
                raise RDFSyntaxError(
                    f"a token (literal or IRI) longer than pyoxigraph's 16 MiB parser buffer: "
                    f"{fmt.name} files with one cannot be loaded (Turtle, TriG or JSON-LD can)",
                    path,
                ) from None
            quads = _parse_with_rdflib(path, fmt, base)
    except SyntaxError as exc:
        raise syntax_error(exc, path) from None
    except OSError as exc:
        raise KGForgeError(f"cannot read {path}: {exc.strerror or exc}") from None
    return _into_graph(quads, target)


def parse_data(data: str | bytes, fmt: ox.RdfFormat, graph: Node | None = None) -> list[ox.Quad]:
    """All statements of RDF text held in memory (triples go to ``graph``); fails before any
    write, with the line of the first syntax error."""
    try:
        quads = list(ox.parse(input=data, format=fmt))
    except SyntaxError as exc:
        raise syntax_error(exc, None) from None
    return _into_graph(quads, to_ox_graph(graph))


def _into_graph(quads: list[ox.Quad], target: ox.NamedNode | ox.BlankNode | ox.DefaultGraph):
    if isinstance(target, ox.DefaultGraph):
        return quads
    return [
        ox.Quad(q.subject, q.predicate, q.object, target)
        if isinstance(q.graph_name, ox.DefaultGraph)
        else q
        for q in quads
    ]


def _check_xml(path: Path) -> None:
    """Raise ``RDFSyntaxError`` if ``path`` is not well-formed XML (e.g. cut off midway)."""
    from xml.parsers import expat

    parser = expat.ParserCreate()
    try:
        with path.open("rb") as file:
            while chunk := file.read(1 << 20):
                parser.Parse(chunk, False)
        parser.Parse(b"", True)
    except expat.ExpatError as exc:
        reason = expat.errors.messages[exc.code]
        raise RDFSyntaxError(
            f"not well-formed XML ({reason}, column {exc.offset + 1}): truncated?", path, exc.lineno
        ) from None


def _parse_with_rdflib(path: Path, fmt: ox.RdfFormat, base: str) -> list[ox.Quad]:
    """rdflib's parser, which has no token size limit (slower; used only for such files)."""
    from rdflib import Dataset

    dataset = Dataset()
    try:
        dataset.parse(str(path), format=_RDFLIB_NAMES[fmt], publicID=base)
    except (OSError, UnicodeDecodeError):
        raise
    except Exception as exc:  # rdflib's parsers raise assorted types
        message = (str(exc) or type(exc).__name__).splitlines()[0]
        raise RDFSyntaxError(message, path, getattr(exc, "lineno", None)) from None
    default = dataset.default_graph.identifier
    return [
        to_ox_quad((s, p, o, None if g == default else g))
        for s, p, o, g in dataset.quads((None, None, None, None))
    ]
