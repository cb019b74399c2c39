"""Extraction pipelines on small texts: patterns, type mapping, aliasing, configs."""

from __future__ import annotations

from pathlib import Path

import pytest

from kgforge.errors import ConfigError
from kgforge.extract.pipeline import ExtractionPipeline, load_pipeline
from kgforge.extract.types import CLASS_LABEL, IS_A, DocExtraction


@pytest.fixture(scope="module")
def default() -> ExtractionPipeline:
    return load_pipeline("default")


def _extract(pipeline: ExtractionPipeline, text: str) -> DocExtraction:
    return next(iter(pipeline.process([text])))


def _triples(extraction: DocExtraction) -> set[tuple[str, str, str]]:
    return {(s.subject.text, s.predicate, s.object.text) for s in extraction.statements}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Microsoft acquired LinkedIn in 2016.", ("Microsoft", "acquire", "LinkedIn")),
        ("Apple was founded by Steve Jobs in 1976.", ("Steve Jobs", "found", "Apple")),
        ("Ada Lovelace was born in London in 1815.", ("Ada Lovelace", "born_in", "London")),
        ("Frederic Chopin moved to Paris in 1831.", ("Frederic Chopin", "move_to", "Paris")),
        ("Paris is the capital of France.", ("Paris", "capital_of", "France")),
        ("Paris is the capital of France.", ("Paris", IS_A, "capital")),
        ("Marie Curie, a Polish physicist, lived in Paris.", ("Marie Curie", IS_A, "physicist")),
        (
            "Satya Nadella, the chief executive of Microsoft, was born in Hyderabad.",
            ("Satya Nadella", "executive_of", "Microsoft"),
        ),
        (
            "Bill Gates and Paul Allen founded Microsoft.",
            ("Paul Allen", "found", "Microsoft"),
        ),
        (
            "Ada Lovelace, who worked with Charles Babbage, was born in London.",
            ("Ada Lovelace", "work_with", "Charles Babbage"),
        ),
    ],
)
def test_patterns_extract_specific_triples(
    default: ExtractionPipeline, text: str, expected: tuple[str, str, str]
) -> None:
    assert expected in _triples(_extract(default, text))


def test_statement_fields(default: ExtractionPipeline) -> None:
    text = "Warsaw is old. Marie Curie, a Polish physicist, was born in Warsaw."
    ex = _extract(default, text)
    typed = [s for s in ex.statements if s.predicate == IS_A]
    assert len(typed) == 1
    st = typed[0]
    assert st.object.label == CLASS_LABEL
    assert text[st.subject.start : st.subject.end] == "Marie Curie"
    assert text[st.sentence[0] : st.sentence[1]].startswith("Marie Curie, a Polish")
    assert st.sentence in ex.sentences
    assert 0 < st.confidence <= 1 and st.extractor == "patterns"
    assert {m.label for m in ex.mentions} <= {"Person", "Place", "Group"}


def test_negation_gives_nothing(default: ExtractionPipeline) -> None:
    assert _triples(_extract(default, "Tim Cook did not found Microsoft.")) == set()


def test_in_document_aliasing(default: ExtractionPipeline) -> None:
    text = (
        "Pierre Curie was born in Paris. Pierre Curie married Marie Curie in 1895. "
        "Curie taught in Paris. Apple was founded by Steve Jobs. Jobs later led Pixar."
    )
    ex = _extract(default, text)
    canonical = {
        m.text: ex.mentions[c].text for m, c in zip(ex.mentions, ex.canonical, strict=True)
    }
    # the earliest full name is the document's topic
    assert canonical["Curie"] == "Pierre Curie"
    assert canonical["Marie Curie"] == "Marie Curie"
    # an untagged surname used as an argument resolves to the full name
    jobs = [s for s in ex.statements if s.predicate == "lead"]
    assert jobs and jobs[0].subject.text == "Jobs"
    assert canonical["Jobs"] == "Steve Jobs"


def test_type_mapping_and_drop_unmapped(tmp_path: Path) -> None:
    cfg = tmp_path / "p.yaml"
    cfg.write_text(
        "type_mapping: {PERSON: Peop}\ndrop_unmapped: true\n"
        "relations: [{kind: patterns, patterns: [svo]}]\n"
    )
    pipe = load_pipeline(cfg)
    ex = _extract(pipe, "Bill Gates visited Seattle in 1999.")
    assert [(m.text, m.label) for m in ex.mentions] == [("Bill Gates", "Peop")]
    assert pipe.name == "p"
    cfg.write_text("drop_unmapped: false\nrelations: [{kind: patterns}]\n")
    ex = _extract(load_pipeline(cfg), "Bill Gates visited Seattle in 1999.")
    assert {m.label for m in ex.mentions} >= {"PERSON", "GPE"}


@pytest.mark.parametrize(
    ("yaml_text", "field"),
    [
        ("relations: [{kind: patterns}]\nresolutoin: {}\n", "resolutoin"),
        ("relations: [{kind: patterns, patterns: [svo, bogus]}]\n", "relations.0.patterns.1"),
        ("relations: [{kind: magic}]\n", "relations.0"),
        ("relations: []\n", "relations"),
        ("relations: [{kind: patterns}]\nresolution: {embedding: {threshold: 2}}\n", "threshold"),
    ],
)
def test_config_errors_name_field_and_file(tmp_path: Path, yaml_text: str, field: str) -> None:
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(yaml_text)
    with pytest.raises(ConfigError) as info:
        load_pipeline(cfg)
    assert info.value.path == str(cfg)
    assert field in (info.value.field or "")


def test_unknown_pipeline_and_bad_yaml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown pipeline 'nope'.*default"):
        load_pipeline("nope")
    cfg = tmp_path / "broken.yaml"
    cfg.write_text("relations: [\n  - kind: patterns\n")
    with pytest.raises(ConfigError, match="broken.yaml"):
        load_pipeline(cfg)


def test_sentences_per_record(tmp_path: Path, default: ExtractionPipeline) -> None:
    text = "The U.S. Army said Pvt. John Smith of Dallas died in Baghdad. He served in Iraq."
    assert len(_extract(default, text).sentences) > 1  # the parser splits (even after "Pvt.")
    cfg = tmp_path / "p.yaml"
    cfg.write_text("spacy: {sentences: record}\nrelations: [{kind: patterns}]\n")
    one = _extract(load_pipeline(cfg), text)
    assert one.sentences == [(0, len(text))]
    assert {m.text for m in one.mentions} >= {"John Smith", "Dallas", "Baghdad"}
    cfg.write_text("spacy: {sentences: lines}\nrelations: [{kind: patterns}]\n")
    with pytest.raises(ConfigError, match="spacy.sentences"):
        load_pipeline(cfg)
