"""SPARQL results as text: an aligned table for people, SPARQL CSV/TSV/JSON for programs.

SELECT results print as rows (the table at most ``TABLE_ROWS`` of them, with a note of how many
more; ``KnowledgeGraph.write_results`` streams the other formats); ASK as ``true``/``false``
(SPARQL JSON: ``{"boolean": ...}``); CONSTRUCT/DESCRIBE graphs as Turtle (table), N-Triples
(csv, tsv) or JSON-LD (json).
"""

from __future__ import annotations

import io

from rdflib import BNode, Literal, URIRef
from rdflib.query import Result
from rdflib.term import Node

from kgforge.errors import UnknownFormatError
from kgforge.graph.namespaces import PREFIXES, shorten

RESULT_FORMATS = ("table", "csv", "tsv", "json")
TABLE_ROWS = 1000  # more rows than anyone reads in a terminal; rich lays out every row it gets


def short(term: Node | None) -> str:
    """A term for reading: IRIs as ``prefix:name`` where a kgforge prefix fits (else ``<iri>``;
    :func:`kgforge.graph.namespaces.expand` reads both back), literals as text."""
    if term is None:
        return ""
    if isinstance(term, URIRef):
        return shorten(str(term))
    if isinstance(term, Literal):
        return f"{term}@{term.language}" if term.language else str(term)
    if isinstance(term, BNode):
        return f"_:{term}"
    return str(term)


def format_result(result: Result, fmt: str = "table") -> str:
    """``result`` as text in ``fmt`` (table, csv or json)."""
    if fmt not in RESULT_FORMATS:
        raise UnknownFormatError(
            f"unknown result format {fmt!r}: known formats are {', '.join(RESULT_FORMATS)}"
        )
    if result.type == "SELECT":
        if fmt == "table":
            return _table(result)
        return _serialize(result, fmt)
    if result.type == "ASK":
        if fmt == "json":
            return _serialize(result, fmt)
        return "true" if result.askAnswer else "false"
    graph = result.graph
    for prefix, ns in PREFIXES.items():
        graph.bind(prefix, ns, override=True)
    rdf = {"table": "turtle", "csv": "nt", "tsv": "nt", "json": "json-ld"}[fmt]
    return graph.serialize(format=rdf).rstrip("\n")


def _serialize(result: Result, fmt: str) -> str:
    buffer = io.BytesIO()
    result.serialize(destination=buffer, format=fmt, encoding="utf-8")
    return buffer.getvalue().decode("utf-8").rstrip("\r\n")


def _table(result: Result) -> str:
    from rich import box
    from rich.console import Console
    from rich.table import Table

    variables = list(result.vars or [])
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    for var in variables:
        table.add_column(str(var), overflow="fold")
    rows = 0
    for row in result:
        if rows < TABLE_ROWS:
            table.add_row(*(short(value) for value in row))
        rows += 1
    out = io.StringIO()
    Console(file=out, width=200, color_system=None, force_terminal=False).print(table)
    lines = [line.rstrip() for line in out.getvalue().splitlines() if line.strip()]
    if rows > TABLE_ROWS:
        lines.append(
            f"(first {TABLE_ROWS:,} of {rows:,} rows shown, {rows - TABLE_ROWS:,} more: "
            "use --format csv, tsv or json for all of them)"
        )
    else:
        lines.append(f"({rows} row{'s' if rows != 1 else ''})")
    return "\n".join(lines)
