"""Trained relation and entity-type classifiers: markers, fitting, save/load, CLI errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from kgforge.errors import ConfigError
from kgforge.extract.gold import read_gold, relation_tuples
from kgforge.extract.trained import EntityTypeClassifier, RelationClassifier, TokenEncoder
from kgforge.extract.trained.entity_types import _candidates
from kgforge.extract.trained.relations import _mark
from kgforge.extract.types import Mention
from tests.conftest import check_load_rejects_missing_and_junk

ROOT = Path(__file__).resolve().parents[1]


def test_markers_wrap_both_mentions_in_either_order() -> None:
    text = "Bill Gates founded Microsoft ."
    bill, msft = Mention(0, 10, "Bill Gates", "Peop"), Mention(19, 28, "Microsoft", "Org")
    for a, b in ((bill, msft), (msft, bill)):
        marked, spans = _mark(text, a, b)
        assert marked == "@ * person * Bill Gates @ founded @ * organization * Microsoft @ ."
        for m, (marker, start, end) in zip((a, b), spans, strict=True):
            assert marked[start:end] == m.text
            assert marked[marker] == "@"


def test_candidates_cover_given_mentions_and_capitalised_spans() -> None:
    text = "the mayor of New York City , Bill de Blasio , said"
    given = [Mention(0, 9, "the mayor", "Peop")]
    spans = {(s, e) for s, e in _candidates(text, given, max_width=4)}
    assert (0, 9) in spans
    assert (13, 26) in spans  # New York City
    assert (29, 43) in spans  # Bill de Blasio
    assert all(text[s].isupper() or (s, e) == (0, 9) for s, e in spans)
    assert not any(text[s:e].endswith(" ,") for s, e in spans)


@pytest.fixture(scope="module")
def tiny(shared_data: Path) -> list:
    """A dozen CoNLL04 training sentences that hold relations."""
    rows = [s for s in read_gold(shared_data / "conll04" / "train.jsonl")[:80] if s.relations]
    return rows[:8]


@pytest.fixture(scope="module")
def encoder() -> TokenEncoder:
    """One frozen MiniLM for every test here (loading it is the slow part)."""
    return TokenEncoder()


def test_relation_classifier_learns_training_relations(
    tiny: list, encoder: TokenEncoder, tmp_path: Path
) -> None:
    model = RelationClassifier(hidden=64, epochs=40, lr=3e-3, dropout=0.0, seed=0)
    model.encoder = encoder
    model.fit(tiny)
    items = [(s.text, s.mentions) for s in tiny]
    pred = model.predict_batch(items)
    gold = {(i, r) for i, s in enumerate(tiny) for r in relation_tuples(s.mentions, s.relations)}
    got = {
        (i, r)
        for i, (s, rs) in enumerate(zip(tiny, pred, strict=True))
        for r in relation_tuples(s.mentions, rs)
    }
    assert len(gold & got) >= 0.8 * len(gold)
    assert len(gold & got) >= 0.8 * len(got)
    assert all(0 < r.confidence <= 1 for rs in pred for r in rs)

    path = tmp_path / "rel.pt"
    model.save(path)
    assert path.stat().st_size < 5_000_000
    again = RelationClassifier.load(path)
    again.encoder = encoder
    assert again.labels == model.labels
    assert again.predict_batch(items) == [
        [r.__class__(r.head, r.tail, r.label, pytest.approx(r.confidence, abs=1e-2)) for r in rs]
        for rs in pred
    ]
    with pytest.raises(ConfigError):
        EntityTypeClassifier.load(path)  # a relation model is not an entity-type model


def test_entity_type_classifier_fixes_types_and_spans(
    tiny: list, encoder: TokenEncoder, tmp_path: Path
) -> None:
    # what a pipeline might hand over: every gold span, all typed wrongly, plus one missed
    given = [[Mention(m.start, m.end, m.text, "Other") for m in s.mentions[1:]] for s in tiny]
    items = [(s.text, ms) for s, ms in zip(tiny, given, strict=True)]
    model = EntityTypeClassifier(hidden=64, epochs=40, lr=3e-3, dropout=0.0, seed=0)
    model.encoder = encoder
    model.fit(items, [s.mentions for s in tiny])
    pred = model.predict_batch(items)
    gold = {(i, m.start, m.end, m.label) for i, s in enumerate(tiny) for m in s.mentions}
    got = {(i, m.start, m.end, m.label) for i, ms in enumerate(pred) for m in ms}
    assert len(gold & got) >= 0.8 * len(gold)
    assert len(gold & got) >= 0.8 * len(got)
    for ms in pred:  # decoded spans never overlap
        assert all(a.end <= b.start for a, b in zip(ms, ms[1:], strict=False))
    path = tmp_path / "types.pt"
    model.save(path)
    again = EntityTypeClassifier.load(path)
    again.encoder = encoder
    assert again.predict_batch(items) == [
        [Mention(m.start, m.end, m.text, m.label, pytest.approx(m.score, abs=1e-2)) for m in ms]
        for ms in pred
    ]


def test_load_rejects_missing_and_foreign_files(tmp_path: Path) -> None:
    check_load_rejects_missing_and_junk(RelationClassifier.load, tmp_path)


def test_train_relations_cli_bad_gold_exits_1(tmp_path: Path) -> None:
    bad = tmp_path / "train.jsonl"
    bad.write_text(json.dumps({"id": "a", "text": "Ann ."}) + "\n" + '{"id": "b"}\n')
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "kgforge",
            "train-relations",
            "--train",
            str(bad),
            "--output",
            str(tmp_path / "m.pt"),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert proc.returncode == 1
    assert f"{bad}:2" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "m.pt").exists()


def test_shipped_conll04_pipeline_extracts_conll04_relations() -> None:
    from kgforge.extract.pipeline import load_pipeline

    pipeline = load_pipeline("conll04")
    text = (
        "Bruno Pusterla , a top official of the Italian Agricultural Confederation , "
        "said it would not snow in Rome ."
    )
    (doc,) = pipeline.process([text])
    assert {m.label for m in doc.mentions} <= {"Peop", "Org", "Loc", "Other"}
    assert any(m.text == "Bruno Pusterla" and m.label == "Peop" for m in doc.mentions)
    assert doc.statements
    for st in doc.statements:
        assert st.predicate in {"Work_For", "Kill", "OrgBased_In", "Live_In", "Located_In"}
        assert text[st.subject.start : st.subject.end] == st.subject.text
        assert st.extractor == "classifier"
