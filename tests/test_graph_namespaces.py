"""IRI minting: readable, stable across runs, and collision-free."""

from __future__ import annotations

import subprocess
import sys

from kgforge.graph.namespaces import (
    DOC,
    ENT,
    ENTITIES_GRAPH,
    PREFIXES,
    REL,
    document_iri,
    entity_iri,
    relation_iri,
    slugify,
    sparql_prefixes,
)


def test_readable_and_normalised() -> None:
    iri = entity_iri("Ada  Lovelace", "PERSON")
    assert iri.startswith(ENT + "ada_lovelace_")
    assert iri == entity_iri("ada lovelace", "person")  # case and spacing do not matter
    assert slugify("Zoë Saldaña-Nazario") == "zoe_saldana_nazario"
    assert slugify("!!!") == "x"
    assert relation_iri("works for") == REL["works_for"]
    assert document_iri("a/b.txt").startswith(DOC + "a_b_txt_")


def test_collision_free() -> None:
    assert slugify("C++") == slugify("C")
    assert entity_iri("C++") != entity_iri("C")
    assert entity_iri("Paris", "place") != entity_iri("Paris", "person")
    assert len({entity_iri(f"entity {i}") for i in range(5000)}) == 5000


def test_stable_across_processes() -> None:
    code = "from kgforge.graph.namespaces import entity_iri; print(entity_iri('Ada Lovelace', 'person'))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == str(entity_iri("Ada Lovelace", "person"))


def test_prefixes_declare_every_namespace() -> None:
    text = sparql_prefixes()
    assert f"PREFIX ent: <{ENT}>" in text and f"PREFIX rel: <{REL}>" in text


def test_kgforge_iris_are_written_out_only_in_namespaces() -> None:
    """Queries (demo, export, ...) use the PREFIXES (``graph:entities``), not hand-written IRIs."""
    from pathlib import Path

    import kgforge

    package = Path(kgforge.__file__).parent
    holders = [
        str(path.relative_to(package))
        for path in package.rglob("*.py")
        if "w3id.org/kgforge/" in path.read_text(encoding="utf-8")
    ]
    assert holders == ["graph/namespaces.py"]
    assert "graph" in PREFIXES and str(PREFIXES["graph"]) + "entities" == str(ENTITIES_GRAPH)


def test_printed_names_expand_back() -> None:
    from kgforge.graph.namespaces import expand, shorten

    for iri in (entity_iri("Belfast"), REL["city_in"], ENTITIES_GRAPH, "https://example.org/x"):
        assert expand(shorten(str(iri))) == str(iri)
    assert expand(f"<{REL['city_in']}>") == expand("rel:city_in") == str(REL["city_in"])
    assert expand(str(REL["city_in"])) == str(REL["city_in"]) and expand("urn:a") == "urn:a"
    for text in ("city_in", "a scientist from Poland", "poodle: a dog", "nope:x y", "_hypernym"):
        assert expand(text) is None


def test_resolve_accepts_every_printed_form_and_suggests_close_names() -> None:
    import pytest

    from kgforge.graph.namespaces import UnknownNameError, resolve

    known = {str(REL["city_in"]): 0, str(REL["capital_of"]): 1, "_hypernym": 2}
    full = str(REL["city_in"])
    for name in ("rel:city_in", "city_in", full, f"<{full}>"):
        assert resolve(name, known, "relation", REL) == full
    assert resolve("_hypernym", known, "relation", REL) == "_hypernym"
    assert resolve("rel:_hypernym", known, "relation", REL) == "_hypernym"  # local part
    with pytest.raises(UnknownNameError, match=r"unknown relation 'rel:city_of'.*rel:city_in"):
        resolve("rel:city_of", known, "relation", REL)
    with pytest.raises(UnknownNameError, match="did you mean rel:capital_of"):
        resolve("capitol_of", known, "relation", REL)
