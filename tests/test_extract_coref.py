"""Encyclopaedic patterns and coreference (kgforge/extract/patterns.py, kgforge/extract/coref.py)
on small texts, with the default pipeline and with coreference switched off."""

from __future__ import annotations

from pathlib import Path

import pytest

from kgforge.extract.pipeline import ExtractionPipeline, find_pipeline, load_pipeline
from kgforge.extract.rdf import DocMeta, document_quads
from kgforge.extract.resolve import EntityResolver
from kgforge.extract.types import DocExtraction
from kgforge.graph.namespaces import document_iri

COWES = "Jeremy Irons is an English actor. He was born in London and married Sinead Cusack."


@pytest.fixture(scope="module")
def default() -> ExtractionPipeline:
    return load_pipeline("default")


@pytest.fixture(scope="module")
def no_coref(tmp_path_factory: pytest.TempPathFactory) -> ExtractionPipeline:
    text = find_pipeline("default").read_text()
    path = tmp_path_factory.mktemp("p") / "nocoref.yaml"
    path.write_text(text.replace("coreference:\n  enabled: true", "coreference:\n  enabled: false"))
    pipe = load_pipeline(path)
    assert not pipe.config.coreference.enabled
    return pipe


def _extract(pipeline: ExtractionPipeline, text: str) -> DocExtraction:
    return next(iter(pipeline.process([text])))


def _resolved(ex: DocExtraction) -> set[tuple[str, str, str]]:
    """Triples with each argument replaced by the name of the entity it refers to."""
    index = {(m.start, m.end): c for m, c in zip(ex.mentions, ex.canonical, strict=True)}

    def name(m):
        c = index.get((m.start, m.end))
        return ex.mentions[c].text if c is not None else m.text

    return {(name(s.subject), s.predicate, name(s.object)) for s in ex.statements}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Barack Obama served as the 44th president of the United States.",
            ("Barack Obama", "president_of", "the United States"),
        ),
        (
            "Flashdance is a 1983 American romantic drama film directed by Adrian Lyne.",
            ("Adrian Lyne", "direct", "Flashdance"),
        ),
        (
            "The Contender is a 2000 political drama film written and directed by Rod Lurie.",
            ("Rod Lurie", "write", "Contender"),
        ),
        (
            "Victor Victoria is a 1982 musical comedy film released by Metro-Goldwyn-Mayer and "
            "starring Julie Andrews.",
            ("Victor Victoria", "star", "Julie Andrews"),
        ),
        (
            "Yunjin Kim is an American film and theater actress born in South Korea.",
            ("Yunjin Kim", "born_in", "South Korea"),
        ),
        (
            "Yunjin Kim is an American film and theater actress born in South Korea.",
            ("Yunjin Kim", "nationality", "American"),
        ),
        (
            "San Bernardino County is a county located in the southern portion of the U.S. "
            "state of California.",
            ("San Bernardino County", "located_in", "California"),
        ),
        (
            "Apple Inc. is an American technology company founded by Steve Jobs.",
            ("Steve Jobs", "found", "Apple Inc."),
        ),
        (
            "Frank Marshall is an American film producer, often working with his wife, "
            "Kathleen Kennedy.",
            ("Frank Marshall", "wife", "Kathleen Kennedy"),
        ),
        (
            "The University of Memphis is a public university located in Memphis, Tennessee.",
            ("The University of Memphis", "located_in", "Tennessee"),
        ),
        (
            "Training Day is a 2001 American crime thriller film directed by Antoine Fuqua, "
            "written by David Ayer, and starring Denzel Washington and Ethan Hawke.",
            ("Training Day", "star", "Ethan Hawke"),
        ),
        (
            "Training Day is a 2001 American crime thriller film directed by Antoine Fuqua, "
            "written by David Ayer, and starring Denzel Washington and Ethan Hawke.",
            ("David Ayer", "write", "Training Day"),
        ),
        (COWES, ("Jeremy Irons", "marry", "Sinead Cusack")),
        (COWES, ("Jeremy Irons", "born_in", "London")),
        (
            "Apple is an American company. The company is headquartered in Cupertino.",
            ("Apple", "headquartered_in", "Cupertino"),
        ),
    ],
)
def test_encyclopaedic_patterns(
    default: ExtractionPipeline, text: str, expected: tuple[str, str, str]
) -> None:
    assert expected in _resolved(_extract(default, text))


def test_roles_and_names_after_as(default: ExtractionPipeline) -> None:
    """ "starring X as Y" gives no relation to Y; "known as" does (a name)."""
    text = "Collateral is a 2004 film starring Tom Cruise as Vincent and Jamie Foxx as Max."
    assert not any(p.endswith("_as") for _, p, _ in _resolved(_extract(default, text)))
    text = "Jamia Suzette Mays, better known as Jayma Mays, is an American actress."
    assert ("Jamia Suzette Mays", "known_as", "Jayma Mays") in _resolved(_extract(default, text))


def test_class_noun_stands_for_its_subject(default: ExtractionPipeline) -> None:
    """ "X is a company that acquired Y": the relative clause's subject is X."""
    ex = _extract(default, "Microsoft is an American company that acquired LinkedIn in 2016.")
    assert ("Microsoft", "acquire", "LinkedIn") in _resolved(ex)


def test_pronoun_resolves_to_topic_with_provenance(default: ExtractionPipeline) -> None:
    ex = _extract(default, COWES)
    (married,) = [s for s in ex.statements if s.predicate == "marry"]
    assert married.subject.text == "He" and married.subject.coreferent
    assert COWES[married.subject.start : married.subject.end] == "He"
    assert married.sentence[0] == COWES.index("He was")
    assert married.confidence < 0.8  # the reference's own score lowers it
    # in the graph: the topic's IRI, and "He" is not one of its names
    quads = document_quads(
        document_iri("d"),
        DocMeta("d", "h", "s", "c", "default", "fp"),
        ex,
        EntityResolver(),
    )
    (irons,) = [str(e) for e, b in quads.evidence if b["label"] == "Jeremy Irons"]
    assert any(line.startswith(f"<{irons}> <") and "marry" in line for line in quads.lines)
    (blob,) = [b for e, b in quads.evidence if str(e) == irons]
    assert "He" not in blob["aliases"]  # nor does "He was born ..." describe it out of context
    assert blob["contexts"] == ["Jeremy Irons is an English actor."]


def test_coreference_switch(no_coref: ExtractionPipeline) -> None:
    resolved = _resolved(_extract(no_coref, COWES))
    assert ("Jeremy Irons", "marry", "Sinead Cusack") not in resolved
    assert not any(p == "born_in" for _, p, _ in resolved)
    # no topic mention for an entity NER missed either
    text = "Flashdance is a 1983 American romantic drama film directed by Adrian Lyne."
    assert ("Adrian Lyne", "direct", "Flashdance") not in _resolved(_extract(no_coref, text))


def test_pronoun_agreement(default: ExtractionPipeline) -> None:
    """ "she" after a topic referred to as "he" is another person; "it" is not a person."""
    text = (
        "John Smith is a British actor. He married Mary Jones in 1990. "
        "She was born in Paris. It was founded in Leeds."
    )
    resolved = _resolved(_extract(default, text))
    assert ("Mary Jones", "born_in", "Paris") in resolved
    assert ("John Smith", "born_in", "Paris") not in resolved
    assert not any(p == "found_in" for _, p, _ in resolved)


def test_definite_description_matches_type_or_class(default: ExtractionPipeline) -> None:
    text = "Nokia is a Finnish company. Steve Jobs met Bill Gates. The company moved to Espoo."
    assert ("Nokia", "move_to", "Espoo") in _resolved(_extract(default, text))
    # "the city of X" names X itself, it is no reference
    text = "Apple is a company. Jobs lived in the city of Palo Alto."
    assert not any(o == "Apple" for _, _, o in _resolved(_extract(default, text)))


def test_coref_nouns_config(tmp_path: Path, default: ExtractionPipeline) -> None:
    doc = "Nokia is a Finnish company. The outfit moved to Espoo. The company grew."
    assert ("Nokia", "move_to", "Espoo") not in _resolved(_extract(default, doc))
    text = find_pipeline("default").read_text()
    path = tmp_path / "nouns.yaml"
    path.write_text(text.replace("coreference:\n", "coreference:\n  nouns: {ORG: [outfit]}\n"))
    pipe = load_pipeline(path)
    resolved = _resolved(_extract(pipe, doc))
    assert ("Nokia", "move_to", "Espoo") in resolved  # the configured noun
