"""Conversion between rdflib terms, pyoxigraph terms and SPARQL text.

The Oxigraph backend talks to pyoxigraph directly for speed (rdflib's per-triple ``add`` into
oxrdflib runs ~17k triples/s, pyoxigraph's own bulk paths ~10x that), so terms cross between the
two libraries here. ``xsd:string`` literals come back as plain rdflib literals, so every backend
returns terms that compare equal to the ones that were added.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

import pyoxigraph as ox
from rdflib import BNode, Literal, URIRef
from rdflib.graph import DATASET_DEFAULT_GRAPH_ID
from rdflib.namespace import XSD
from rdflib.term import Identifier, Node

from kgforge.errors import KGForgeError
from kgforge.graph.namespaces import expand

XSD_STRING = str(XSD.string)

OxTerm = ox.NamedNode | ox.BlankNode | ox.Literal
Quad = tuple[Node, Node, Node, URIRef | BNode | None]  # graph None = the default graph


@lru_cache(maxsize=1 << 18)
def _named_node(iri: str) -> ox.NamedNode:
    return ox.NamedNode(iri)


@lru_cache(maxsize=1 << 18)
def _uriref(iri: str) -> URIRef:
    return URIRef(iri)


def to_ox(term: Node) -> OxTerm:
    """The pyoxigraph term for an rdflib term (IRIs are cached: they repeat a lot in bulk data)."""
    if isinstance(term, URIRef):
        return _named_node(str(term))
    if isinstance(term, Literal):
        if term.language:
            return ox.Literal(str(term), language=term.language)
        if term.datatype is not None:
            return ox.Literal(str(term), datatype=_named_node(str(term.datatype)))
        return ox.Literal(str(term))
    if isinstance(term, BNode):
        return ox.BlankNode(str(term))
    raise TypeError(f"cannot store {term!r} in RDF: expected an IRI, literal or blank node")


def to_ox_graph(graph: Node | None) -> ox.NamedNode | ox.BlankNode | ox.DefaultGraph:
    if graph is None or graph == DATASET_DEFAULT_GRAPH_ID:
        return ox.DefaultGraph()
    return to_ox(graph)  # type: ignore[return-value]


def to_ox_quad(quad: Quad) -> ox.Quad:
    s, p, o, g = quad
    return ox.Quad(to_ox(s), to_ox(p), to_ox(o), to_ox_graph(g))


def from_ox(term: Any) -> Node:
    """The rdflib term for a pyoxigraph term."""
    if isinstance(term, ox.NamedNode):
        return _uriref(term.value)
    if isinstance(term, ox.Literal):
        if term.language:
            return Literal(term.value, lang=term.language)
        datatype = term.datatype.value
        if datatype == XSD_STRING:
            return Literal(term.value)
        return Literal(term.value, datatype=_uriref(datatype))
    if isinstance(term, ox.BlankNode):
        return BNode(term.value)
    if isinstance(term, ox.Triple):  # RDF-star quoted triple: no rdflib equivalent
        raise TypeError("RDF-star quoted triples are not supported")
    raise TypeError(f"unexpected Oxigraph term {term!r}")


def from_ox_quad(quad: ox.Quad) -> Quad:
    g = quad.graph_name
    graph = None if isinstance(g, ox.DefaultGraph) else from_ox(g)
    return (from_ox(quad.subject), from_ox(quad.predicate), from_ox(quad.object), graph)  # type: ignore[return-value]


def to_term(value: Any) -> Identifier:
    """A query binding as an RDF term: rdflib terms are kept, Python values become literals."""
    if isinstance(value, Identifier):
        return value
    if isinstance(value, str | int | float | bool):
        return Literal(value)
    raise TypeError(f"cannot bind {value!r}: use a str, int, float, bool or an rdflib term")


def to_terms(bindings: Mapping[str, Any]) -> dict[str, Identifier]:
    return {name.lstrip("?$"): to_term(value) for name, value in bindings.items()}


def sparql_term(term: Node) -> str:
    """A term written as SPARQL/N-Triples syntax, escaped by rdflib (never raw user text)."""
    if isinstance(term, URIRef | Literal | BNode):
        return term.n3()
    raise TypeError(f"cannot write {term!r} as a SPARQL term")


def graph_iri(text: str, what: str = "graph") -> URIRef:
    """``text`` (an IRI, ``<IRI>`` or a CURIE such as ``graph:predicted``) as the IRI of a named
    graph, or a ``KGForgeError`` naming ``what`` (e.g. an option) when it is not an IRI."""
    iri = expand(text) or text
    try:
        ox.NamedNode(iri)
    except ValueError as exc:
        raise KGForgeError(f"{what}: {text!r} is not a valid IRI ({exc})") from None
    return URIRef(iri)
