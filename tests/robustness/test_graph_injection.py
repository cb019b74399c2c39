"""Issue 12 #6: binding names are checked as SPARQL variable names before any query is built."""

from __future__ import annotations

import pytest

from kgforge.errors import QueryError
from kgforge.graph.backends import check_binding_names
from kgforge.graph.store import KnowledgeGraph

# the injection of the issue: the name closes the VALUES block, drops everything, and reopens
INJECTED = "z) { (1) } } ; DROP ALL ; INSERT { ?s ?p ?z } WHERE { VALUES (?y"


def test_injected_binding_name_is_refused_and_the_store_untouched(kg: KnowledgeGraph) -> None:
    before = set(kg.quads())
    assert len(before) == 3
    with pytest.raises(QueryError, match="not a SPARQL variable name"):
        kg.update("DELETE { ?s ?p ?z } WHERE { ?s ?p ?z }", **{INJECTED: "v"})
    with pytest.raises(QueryError, match="not a SPARQL variable name"):
        kg.query("SELECT ?s WHERE { ?s ?p ?z }", **{INJECTED: "v"})
    with pytest.raises(QueryError, match="not a SPARQL variable name"), kg.transaction():
        kg.update("DELETE { ?s ?p ?z } WHERE { ?s ?p ?z }", **{INJECTED: "v"})
    assert set(kg.quads()) == before


def test_valid_names_still_bind(kg: KnowledgeGraph) -> None:
    rows = kg.query("SELECT ?s WHERE { ?s rdfs:label ?label_1 }", label_1="Ada Lovelace")
    assert len(rows) == 1
    rows = kg.query("SELECT ?s WHERE { ?s rdfs:label ?étiquette }", **{"?étiquette": "C"})
    assert len(rows) == 1


@pytest.mark.parametrize("name", ["", "a b", "a)", "x}", "a-b", "?", "a.b", "1\n", "a;"])
def test_names_outside_the_varname_grammar(name: str) -> None:
    with pytest.raises(QueryError, match="not a SPARQL variable name"):
        check_binding_names([name])


@pytest.mark.parametrize("name", ["x", "_x", "x1", "1x", "naïve", "a\u00b7b", "日本"])
def test_names_inside_the_varname_grammar(name: str) -> None:
    check_binding_names([name])
