"""Ontology loading (Text2KGBench JSON and Turtle), subclass closure, domain/range checks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kgforge.errors import ConfigError
from kgforge.extract.schema.ontology import load_ontology

TTL = """
@prefix : <http://example.org/o#> .
@prefix owl: <http://www.w3.org/2002/07/owl#> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
:Work a owl:Class ; rdfs:label "work" .
:Song a owl:Class ; rdfs:label "song" ; rdfs:subClassOf :Work .
:Single a owl:Class ; rdfs:label "single" ; rdfs:subClassOf :Song .
:Person a owl:Class ; rdfs:label "person" .
:composer a owl:ObjectProperty ; rdfs:label "composer" ; rdfs:domain :Work ; rdfs:range :Person ;
    rdfs:comment "the person who wrote the music" .
:published a owl:DatatypeProperty ; rdfs:label "publication date" ; rdfs:domain :Work ;
    rdfs:range xsd:date .
"""


def test_turtle_classes_properties_and_subclass_closure(tmp_path: Path) -> None:
    path = tmp_path / "o.ttl"
    path.write_text(TTL)
    onto = load_ontology(path)
    assert {c.label for c in onto.classes.values()} == {"work", "song", "single", "person"}
    composer = onto.relation("composer")
    assert composer.description == "the person who wrote the music" and not composer.literal
    date = onto.relation("publication date")
    assert date.name == "publication_date" and date.literal and date.range is None
    single, person = "http://example.org/o#Single", "http://example.org/o#Person"
    assert onto.is_subclass(single, "http://example.org/o#Work")  # two levels up
    assert onto.conforms("composer", single, person)
    assert not onto.conforms("composer", person, person)  # domain
    assert not onto.conforms("composer", single, single)  # range
    assert not onto.conforms("lyrics_by", single, person)  # not in the ontology
    assert onto.conforms("publication_date", single, None)


def test_text2kgbench_json(shared_data: Path) -> None:
    onto = load_ontology(shared_data / "text2kgbench-tekgen/ontologies/2_music_ontology.json")
    assert onto.id == "ont_2_music" and len(onto.classes) == 13 and len(onto.relations) == 13
    composer = onto.relation("composer")
    assert (composer.domain, composer.range) == ("Q2188189", "Q5")
    assert onto.relation("publication_date").range is None  # "" = no constraint
    assert onto.conforms("composer", "Q2188189", "Q5")
    assert not onto.conforms("composer", "Q5", "Q5")
    ttl = load_ontology(shared_data / "text2kgbench-tekgen/ontologies/owl/ont_2_music.ttl")
    assert "composer" in {r.label for r in ttl.relations}
    song = next(c for c in ttl.classes.values() if c.label == "single")
    assert any(p.endswith("Q2188189") for p in song.parents)


def test_trailing_space_label_keeps_the_scorers_name(tmp_path: Path) -> None:
    path = tmp_path / "o.json"
    path.write_text(json.dumps({"id": "o", "concepts": [{"qid": "Q1", "label": "film"}],
                                "relations": [{"pid": "P1", "label": "country of origin ",
                                               "domain": "Q1", "range": ""}]}))  # fmt: skip
    onto = load_ontology(path)
    assert onto.relation_names == ["country_of_origin_"]
    assert onto.relation("country of origin").name == "country_of_origin_"


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("bad.json", "{", "invalid JSON"),
        ("norel.json", '{"concepts": []}', "relations"),
        ("bad.ttl", "this is not turtle", "cannot parse"),
        ("empty.ttl", "@prefix owl: <http://www.w3.org/2002/07/owl#> .", "no properties"),
    ],
)
def test_bad_files_are_located_errors(tmp_path: Path, name: str, text: str, message: str) -> None:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(ConfigError, match=message) as info:
        load_ontology(path)
    assert name in str(info.value)
