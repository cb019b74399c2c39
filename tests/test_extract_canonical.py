"""Canonical relations (kgforge/extract/canonical.py): variants -> one predicate, the surface kept,
the mapping in the store's graph:relations and overridable from the pipeline config."""

from __future__ import annotations

from pathlib import Path

import pytest

from kgforge.extract.canonical import PredicateCanonicalizer
from kgforge.extract.config import CanonicalConfig, CanonicalEmbedding
from kgforge.extract.pipeline import find_pipeline, load_pipeline
from kgforge.extract.run import extract
from kgforge.graph.store import KnowledgeGraph

LEMMAS = {"held": "hold", "born": "bear", "located": "locate"}


def _canon(**kwargs) -> PredicateCanonicalizer:
    return PredicateCanonicalizer(CanonicalConfig(**kwargs), LEMMAS.get)


def test_lemma_key_groups_inflections_first_name_wins() -> None:
    c = _canon()
    assert c.canonical("held_at") == "held_at"
    assert c.canonical("hold_at") == "held_at"  # same lemma key
    assert c.canonical("held_in") == "held_in"  # another preposition: another relation
    assert c.canonical("is_a") == "is_a"
    assert c.mapping() == {"held_at": "held_at", "hold_at": "held_at", "held_in": "held_in"}


def test_prepositions_and_mapping_from_config() -> None:
    c = _canon(prepositions={"at": "in"}, mapping={"town_in": "city_in"})
    assert c.canonical("held_in") == "held_in"
    assert c.canonical("held_at") == "held_in"
    assert c.canonical("hold_at") == "held_in"
    assert c.canonical("town_in") == "city_in"  # the user's word is final
    c.seed([("town_in", "town_in"), ("based_at", "located_in")])
    assert c.canonical("town_in") == "city_in"  # not overridden by a stored pair
    assert c.canonical("based_at") == "located_in"  # a stored pair keeps its name


def test_embedding_clusters_with_structure_guard() -> None:
    c = _canon(embedding=CanonicalEmbedding(threshold=0.75))
    assert c.canonical("city_in") == "city_in"
    assert c.canonical("town_in") == "city_in"  # similar phrase, same preposition
    assert c.canonical("city_of") == "city_in"  # similar phrase, same head word
    assert c.canonical("star") == "star"
    assert c.canonical("star_in") == "star_in"  # opposite direction: never one relation
    assert c.canonical("wife") == "wife"
    assert c.canonical("husband") == "husband"  # no shared word: not merged however similar
    assert c.canonical("direct") == "direct"
    assert c.canonical("write") == "write"


def _held_corpus(path: Path) -> Path:
    path.mkdir()
    (path / "a.txt").write_text("The Emmy Awards were held at the Shrine Auditorium.")
    (path / "b.txt").write_text("The Grammy Awards were held in the Staples Center.")
    return path


def _pipeline(tmp_path: Path, canonical: str) -> Path:
    text = find_pipeline("default").read_text()
    text = text.replace("canonical:\n  enabled: true\n  mapping: {}", canonical)
    out = tmp_path / "canon.yaml"
    out.write_text(text)
    return out


MAPPING = """SELECT ?s ?c WHERE { GRAPH graph:relations {
  ?si kgf:canonicalRelation ?ci . ?si skos:notation ?s . ?ci skos:notation ?c } }"""


def test_canonical_predicates_in_the_store(tmp_path: Path) -> None:
    corpus = _held_corpus(tmp_path / "corpus")
    config = "canonical:\n  enabled: true\n  prepositions: {at: in}"
    kg = KnowledgeGraph.open(tmp_path / "store")
    extract(corpus, kg, load_pipeline(_pipeline(tmp_path, config)))
    facts = kg.query(
        "SELECT ?p ?surface WHERE { ?st rdf:predicate ?p ; kgf:surfacePredicate ?surface }"
    )
    # a.txt comes first: its "held_at" names the relation, b.txt's "held_in" is a variant
    assert {(str(p).rsplit("/", 1)[1], str(s)) for p, s in facts} == {("held_at", "held_in")}
    plain = kg.query("SELECT DISTINCT ?p WHERE { ?s ?p ?o FILTER(STRSTARTS(STR(?p), STR(rel:))) }")
    assert {str(p).rsplit("/", 1)[1] for (p,) in plain} == {"held_at"}
    assert {(str(s), str(c)) for s, c in kg.query(MAPPING)} == {
        ("held_at", "held_at"),
        ("held_in", "held_at"),
    }
    labels = kg.query(
        "SELECT ?alt WHERE { GRAPH graph:relations { rel:held_at a kgf:Relation ; "
        "rdfs:label 'held at' ; skos:altLabel ?alt } }"
    )
    assert [str(a) for (a,) in labels] == ["held in"]
    kg.close()


def test_config_override_replaces_the_stored_mapping(tmp_path: Path) -> None:
    corpus = _held_corpus(tmp_path / "corpus")
    kg = KnowledgeGraph.open(tmp_path / "store")
    extract(corpus, kg, load_pipeline(_pipeline(tmp_path, "canonical:\n  enabled: true")))
    assert ("held_at", "held_at") in {(str(s), str(c)) for s, c in kg.query(MAPPING)}
    config = (
        "canonical:\n  enabled: true\n  mapping: {held_at: take_place_in, held_in: take_place_in}"
    )
    extract(corpus, kg, load_pipeline(_pipeline(tmp_path, config)))
    pairs = {(str(s), str(c)) for s, c in kg.query(MAPPING)}
    assert ("held_at", "take_place_in") in pairs and ("held_at", "held_at") not in pairs
    plain = kg.query("SELECT DISTINCT ?p WHERE { ?s ?p ?o FILTER(STRSTARTS(STR(?p), STR(rel:))) }")
    assert {str(p).rsplit("/", 1)[1] for (p,) in plain} == {"take_place_in"}
    kg.close()


def test_canonical_switch_off_keeps_surface_predicates(tmp_path: Path) -> None:
    pipe = load_pipeline(_pipeline(tmp_path, "canonical:\n  enabled: false"))
    assert pipe.canonical is None
    (ex,) = pipe.process(["The Emmy Awards were held at the Shrine Auditorium."])
    assert {(st.predicate, st.surface) for st in ex.statements} == {("held_at", "")}


@pytest.mark.parametrize("bad", ["mapping: [a, b]", "embedding: {threshold: 2}"])
def test_canonical_config_errors(tmp_path: Path, bad: str) -> None:
    from kgforge.errors import ConfigError

    with pytest.raises(ConfigError, match="canonical"):
        load_pipeline(_pipeline(tmp_path, f"canonical:\n  {bad}"))
