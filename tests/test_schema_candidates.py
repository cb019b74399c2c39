"""Candidate spans, date and surface-form canonicalisation, domain/range typing of candidates."""

from __future__ import annotations

import pytest
import spacy

from kgforge.extract.schema.candidates import (
    Candidate,
    DateRenderer,
    candidates,
    parse_date,
    surface_forms,
)
from kgforge.extract.schema.model import TypeTable
from kgforge.models import default_spacy_model


@pytest.fixture(scope="module")
def nlp():
    return spacy.load(default_spacy_model())


def test_candidates_cover_entities_chunks_capitalised_numbers_and_quotes(nlp) -> None:
    doc = nlp('"Gaby oh Gaby" is a song by Alain Bashung, released in April 1995 on the album '
              "Play Blessures.")  # fmt: skip
    cands = {c.text: c for c in candidates(doc[:])}
    assert "Gaby oh Gaby" in cands and "QUOTE" in cands["Gaby oh Gaby"].kinds
    assert "Alain Bashung" in cands and "PERSON" in cands["Alain Bashung"].kinds
    assert "April 1995" in cands  # a date entity
    assert "NUM" in cands["1995"].kinds
    assert "Play Blessures" in cands  # capitalised run / noun chunk without "the album"
    assert all(doc.text[c.start : c.end] == c.text for c in cands.values())


@pytest.mark.parametrize(
    ("text", "parsed", "rendered"),
    [
        ("1995", (1995, None, None), "01 January 1995"),
        ("April 1995", (1995, 4, None), "01 April 1995"),
        ("July 25, 2006", (2006, 7, 25), "25 July 2006"),
        ("25th July 2006", (2006, 7, 25), "25 July 2006"),
        ("in 1962", (1962, None, None), "01 January 1962"),
        ("Play Blessures", None, None),
    ],
)
def test_dates_parse_and_render(text, parsed, rendered) -> None:
    assert parse_date(text) == parsed
    assert DateRenderer("dmy_filled").render(text) == rendered
    assert DateRenderer("text").render(text) is None


def test_surface_forms_put_the_date_rendering_first() -> None:
    assert surface_forms("1998", DateRenderer("iso")) == ["1998-01-01", "1998"]
    # a lower-case leading article is the sentence's, not the name's; "The Hard Life" keeps it
    assert surface_forms("the Beatles", DateRenderer("text")) == ["Beatles", "the Beatles"]
    assert surface_forms("The Hard Life", DateRenderer("text")) == ["The Hard Life", "Hard Life"]


def test_topic_candidates_open_the_sentence(nlp) -> None:
    texts = {
        "I am a werewolf cub (Swedish: Jag) is a 1972 Swedish novel by Gunnel Linde.":
            "I am a werewolf cub",  # before the first parenthesis
        "Gay Sex in the 70s is a 2005 American documentary film.": "Gay Sex in the 70s",
    }  # fmt: skip
    for text, topic in texts.items():
        cands = {c.text: c for c in candidates(nlp(text)[:])}
        assert "TOPIC" in cands[topic].kinds, sorted(cands)
    # no topic when the sentence does not open with its subject
    cands = candidates(nlp("Early on in his career he rose to fame as a tenor.")[:])
    assert not any("TOPIC" in c.kinds for c in cands)


def test_noun_chunks_also_without_adjectives_and_as_the_compound_before_the_head(nlp) -> None:
    texts = {c.text for c in candidates(nlp("Mizukagami is a Japanese rekishi monogatari.")[:])}
    assert {"Japanese rekishi monogatari", "rekishi monogatari"} <= texts
    doc = nlp("The AMNRL was a rugby league organization in the United States.")
    assert "rugby league" in {c.text for c in candidates(doc[:])}


def test_capitalised_runs_without_an_opening_common_word_or_split_at_commas(nlp) -> None:
    doc = nlp("On September 14, 2010, Earache Records released Need to Control.")
    texts = {c.text for c in candidates(doc[:])}
    assert "Earache Records" in texts  # a part of "On September 14, 2010, Earache Records"
    doc = nlp("Early on in Daniele Barioni's career he sang at the Metropolitan Opera.")
    texts = {c.text for c in candidates(doc[:])}
    assert "Daniele Barioni" in texts and "he" not in texts  # possessive off; no pronouns


def test_type_table_filters_by_kinds_seen_for_a_class() -> None:
    person = Candidate(0, 5, "Alice", frozenset({"PERSON", "CAP"}))
    year = Candidate(0, 4, "1995", frozenset({"DATE", "NUM"}))
    table = TypeTable(min_seen=3)
    for _ in range(5):
        table.add("Q5", person)
    assert table.allows("Q5", person) and not table.allows("Q5", year)
    assert table.allows("Q99", year)  # a class never seen accepts everything
    assert table.allows(None, year)  # no range constraint
    again = TypeTable.from_state(table.state())
    assert not again.allows("Q5", year)


def _features(text: str, spans: list[str]):
    import numpy as np

    from kgforge.extract.schema.model import SentFeatures

    cands = [Candidate(text.index(s), text.index(s) + len(s), s, frozenset({"CAP"})) for s in spans]
    n = len(cands)
    return SentFeatures(cands, text, np.zeros((n, 2)), np.zeros((n, 1)), np.zeros(2))


def test_alias_table_maps_a_span_to_a_value_never_in_the_text(tmp_path) -> None:
    import json

    from kgforge.extract.schema.model import Example, Featurizer, SchemaModel, _learn_aliases
    from kgforge.extract.schema.ontology import load_ontology

    path = tmp_path / "o.json"
    path.write_text(json.dumps({"concepts": [], "relations": [
        {"pid": "P495", "label": "country of origin", "domain": "", "range": ""}]}))  # fmt: skip
    model = SchemaModel(load_ontology(path), Featurizer())
    usa = "United States of America"
    films = ["Red Sky", "Blue Moon", "Green Door", "Gold Rush"]
    examples, feats = [], []
    for f in films:  # "American" comes with the USA in every use
        text = f"{f} is an American film."
        examples.append(Example(text, ((f, "country_of_origin", usa),)))
        feats.append(_features(text, [f, "American"]))
    text = "Old Town is a French film."  # seen once: no alias
    examples.append(Example(text, (("Old Town", "country_of_origin", "France"),)))
    feats.append(_features(text, ["Old Town", "French"]))
    aliases = _learn_aliases(model, examples, feats)
    assert aliases == {"country_of_origin\0american": usa}
    model.aliases = aliases
    assert model.forms("country_of_origin", feats[0].cands[1])[0] == usa
    assert model.forms("country_of_origin", feats[-1].cands[1]) == ["French"]


def _onto(tmp_path, relations):  # type: ignore[no-untyped-def]
    import json

    from kgforge.extract.schema.ontology import load_ontology

    path = tmp_path / "o.json"
    rels = [
        {"pid": f"P{i}", "label": r, "domain": "", "range": ""} for i, r in enumerate(relations)
    ]
    path.write_text(json.dumps({"concepts": [], "relations": rels}))
    return load_ontology(path)


def test_multi_shares_count_sentences_with_several_objects() -> None:
    from kgforge.extract.schema.model import Example, _multi_shares

    examples = [
        Example(
            "a", (("F", "cast_member", "A"), ("F", "cast_member", "B"), ("F", "director", "C"))
        ),
        Example("b", (("G", "cast_member", "A"), ("G", "director", "D"))),
    ]
    assert _multi_shares(examples) == {"cast_member": 0.5, "director": 0.0}


def test_select_keeps_one_object_of_a_functional_relation_and_drops_equal_forms(tmp_path):  # type: ignore[no-untyped-def]
    from kgforge.extract.schema.model import Featurizer, SchemaModel, Thresholds

    model = SchemaModel(_onto(tmp_path, ["cast member", "director"]), Featurizer())
    model.multi = {"cast_member": 0.5, "director": 0.0}
    f = _features("Red Sky stars Ann Lee, Bo Kim and the Bo Kim.",
                  ["Red Sky", "Ann Lee", "Bo Kim", "the Bo Kim"])  # fmt: skip
    scored = [  # "the Bo Kim" does not overlap "Bo Kim" but has its form
        (0, 0.9, 0, [(1, 0.9, "Ann Lee"), (2, 0.85, "Bo Kim"), (3, 0.84, "Bo Kim")]),
        (1, 0.9, 0, [(1, 0.9, "Ann Lee"), (2, 0.85, "Bo Kim")]),
    ]
    t = Thresholds(relation=0.5, object=0.5, more_objects=0.8, multi_share=0.2)
    got = [(p.relation, p.object_text) for p in model._select(f, scored, t)]
    assert got == [("cast_member", "Ann Lee"), ("cast_member", "Bo Kim"), ("director", "Ann Lee")]
