"""Text2KGBench's metrics on hand-made cases (filtering, normalisation, OC, SH/OH, means)."""

from __future__ import annotations

import pytest

from kgforge.extract.schema.metrics import (
    average,
    normalize_triple,
    score_ontology,
    sentence_scores,
)

RELS = ["composer", "publication_date", "performer"]
CONCEPTS = ["human", "musical work"]
SENT = "Bleach : Hell Verse was composed by Shiro Sagisu in 2010."


def test_normalisation_ignores_case_whitespace_and_underscores() -> None:
    assert normalize_triple("Bleach: Hell Verse", "composer", "Shiro_Sagisu") == normalize_triple(
        "bleach : hell  verse", "composer", "shiro sagisu"
    )


def test_other_relations_are_dropped_before_precision() -> None:
    gold = [("Bleach: Hell Verse", "composer", "Shiro Sagisu")]
    pred = [
        ("Bleach : Hell Verse", "composer", "Shiro Sagisu"),  # right after normalisation
        ("Bleach : Hell Verse", "performer", "Someone"),  # not a gold relation: dropped
    ]
    s = sentence_scores(SENT, gold, pred, RELS, CONCEPTS)
    assert (s["precision"], s["recall"], s["f1"]) == (1.0, 1.0, 1.0)
    assert s["strict_precision"] == 0.5 and s["strict_f1"] == pytest.approx(2 / 3)
    assert s["onto_conf"] == 1.0 and s["rel_halluc"] == 0.0
    assert s["obj_halluc"] == 0.5  # "Someone" is not in the sentence


def test_relation_must_match_with_underscores() -> None:
    gold = [("X", "publication date", "01 January 2010")]
    s = sentence_scores("X came out in 2010.", gold, [("X", "publication date", "01 January 2010")],
                        RELS, CONCEPTS)  # fmt: skip
    assert s["f1"] == 0.0  # the system must write publication_date
    assert s["onto_conf"] == 0.0 and s["rel_halluc"] == 1.0
    s = sentence_scores("X came out in 2010.", gold, [("X", "publication_date", "01 January 2010")],
                        RELS, CONCEPTS)  # fmt: skip
    assert s["f1"] == 1.0 and s["onto_conf"] == 1.0
    assert s["obj_halluc"] == 0.0  # "01januari" is deleted before the substring test


def test_partial_match_and_empty_cases() -> None:
    gold = [("A", "composer", "B"), ("A", "composer", "C"), ("A", "performer", "D")]
    pred = [("A", "composer", "B"), ("A", "composer", "E")]
    s = sentence_scores("A by B and C, sung by D.", gold, pred, RELS, CONCEPTS)
    assert s["precision"] == 0.5 and s["recall"] == pytest.approx(1 / 3)
    assert s["f1"] == pytest.approx(0.4)
    none = sentence_scores("A by B.", gold, [], RELS, CONCEPTS)
    assert none["f1"] == 0.0 and none["onto_conf"] == 1.0 and none["sub_halluc"] == 0.0
    # no gold triple: every prediction is dropped, so the sentence scores 0
    assert sentence_scores("A by B.", [], [("A", "composer", "B")], RELS, CONCEPTS)["f1"] == 0.0


def test_hallucination_uses_stems_and_concept_labels() -> None:
    # "composers" stems like "composer"; "human" comes from the concept labels
    s = sentence_scores("The composers met.", [("x", "composer", "y")],
                        [("composer", "composer", "human"), ("Zed", "composer", "human")],
                        RELS, CONCEPTS)  # fmt: skip
    assert s["sub_halluc"] == 0.5 and s["obj_halluc"] == 0.0


def test_ontology_mean_counts_missing_sentences_as_zero() -> None:
    gold = [
        {"id": "1", "sent": "A by B.", "triples": [{"sub": "A", "rel": "composer", "obj": "B"}]},
        {"id": "2", "sent": "C by D.", "triples": [{"sub": "C", "rel": "composer", "obj": "D"}]},
    ]
    s = score_ontology(gold, {"1": [("A", "composer", "B")]}, RELS, CONCEPTS)
    assert s["f1"] == 0.5 and s["onto_conf"] == 0.5 and s["sentences"] == 2
    other = score_ontology(gold, {"1": [], "2": [("C", "composer", "D")]}, RELS, CONCEPTS)
    assert other["f1"] == 0.5 and other["onto_conf"] == 1.0
    avg = average({"a": s, "b": other | {"f1": 1.0}})
    assert avg["f1"] == 0.75 and avg["onto_conf"] == 0.75  # unweighted over ontologies
