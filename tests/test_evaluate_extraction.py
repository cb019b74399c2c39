"""Strict relation scoring, gold reading errors, and the evaluate-extraction command."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from kgforge.errors import CorpusError
from kgforge.extract.evaluate import evaluate_extraction, format_scores, score
from kgforge.extract.gold import read_gold, relation_tuples
from kgforge.extract.types import DocExtraction, Mention, Statement

ROOT = Path(__file__).resolve().parents[1]

TEXT = "Bill Gates founded Microsoft in Seattle ."
BILL = Mention(0, 10, "Bill Gates", "Peop")
MSFT = Mention(19, 28, "Microsoft", "Org")
SEA = Mention(32, 39, "Seattle", "Loc")
SEA_AS_ORG = Mention(32, 39, "Seattle", "Org")


def _gold_line(**extra) -> dict:
    row = {
        "id": "s1",
        "text": TEXT,
        "entities": [
            {"start": m.start, "end": m.end, "type": m.label, "text": m.text}
            for m in (BILL, MSFT, SEA)
        ],
        "relations": [
            {"head": 0, "tail": 1, "type": "Work_For"},
            {"head": 1, "tail": 2, "type": "OrgBased_In"},
        ],
    }
    row.update(extra)
    return row


def _write(path: Path, rows: list) -> Path:
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n")
    return path


def test_strict_scores_by_hand() -> None:
    gold = [
        ({(0, 4, "Peop"), (9, 12, "Org")}, {(0, 4, "Peop", 9, 12, "Org", "Work_For")}),
        (
            {(0, 3, "Loc"), (5, 8, "Loc")},
            {(0, 3, "Loc", 5, 8, "Loc", "Located_In"), (5, 8, "Loc", 0, 3, "Loc", "Located_In")},
        ),
    ]
    pred = [
        # right spans and relation, but the tail's type is wrong: not a hit under strict scoring
        ({(0, 4, "Peop"), (9, 12, "Loc")}, {(0, 4, "Peop", 9, 12, "Loc", "Work_For")}),
        (
            {(0, 3, "Loc"), (5, 8, "Loc")},
            {(0, 3, "Loc", 5, 8, "Loc", "Located_In"), (0, 3, "Loc", 5, 8, "Loc", "Live_In")},
        ),
    ]
    s = score(gold, pred)
    # 3 predictions, 1 correct, 3 gold relations
    assert s["relations"]["precision"] == pytest.approx(1 / 3)
    assert s["relations"]["recall"] == pytest.approx(1 / 3)
    assert s["relations"]["f1"] == pytest.approx(1 / 3)
    located = s["per_relation"]["Located_In"]
    assert (located["precision"], located["recall"]) == (pytest.approx(1.0), pytest.approx(0.5))
    assert s["per_relation"]["Work_For"]["f1"] == 0.0
    assert s["per_relation"]["Live_In"]["support"] == 0
    # entities: 3 of 4 predicted are right, 3 of 4 gold are found
    assert s["entities"]["f1"] == pytest.approx(0.75)
    table = format_scores(s)
    for name in ("Located_In", "Work_For", "Live_In", "micro (strict)", "entities (strict)"):
        assert name in table


def test_perfect_and_empty_predictions() -> None:
    gold = [({(0, 1, "Peop")}, {(0, 1, "Peop", 2, 3, "Org", "Work_For")})]
    assert score(gold, gold)["relations"]["f1"] == 1.0
    empty = score(gold, [(set(), set())])
    assert empty["relations"]["precision"] == 0.0
    assert empty["relations"]["recall"] == 0.0
    with pytest.raises(ValueError):
        score(gold, [])


def test_read_gold_and_relation_tuples(tmp_path: Path) -> None:
    (sentence,) = read_gold(_write(tmp_path / "g.jsonl", [_gold_line()]))
    assert sentence.mentions == [BILL, MSFT, SEA]
    assert relation_tuples(sentence.mentions, sentence.relations) == {
        (0, 10, "Peop", 19, 28, "Org", "Work_For"),
        (19, 28, "Org", 32, 39, "Loc", "OrgBased_In"),
    }


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ("{not json", "invalid JSON"),
        (json.dumps({"id": "x", "entities": []}), "text"),
        (json.dumps(_gold_line(entities=[{"start": 0, "end": 99, "type": "Peop"}])), "outside"),
        (json.dumps(_gold_line(relations=[{"head": 0, "tail": 7, "type": "Kill"}])), "index"),
    ],
)
def test_bad_gold_lines_name_file_and_line(tmp_path: Path, bad: str, message: str) -> None:
    path = _write(tmp_path / "bad.jsonl", [_gold_line(), bad])
    with pytest.raises(CorpusError, match=message) as info:
        read_gold(path)
    assert info.value.line == 2
    assert info.value.path == str(path)


class _FakePipeline:
    """Returns fixed extractions: the scorer's glue is tested without spaCy."""

    name = "fake"

    def process(self, texts, batch_size: int = 64):
        for text in texts:
            yield DocExtraction(
                text=text,
                sentences=[(0, len(text))],
                mentions=[BILL, MSFT, SEA_AS_ORG],
                canonical=[0, 1, 2],
                statements=[
                    Statement(BILL, "Work_For", MSFT, 0.9, (0, len(text)), "classifier"),
                    Statement(MSFT, "OrgBased_In", SEA_AS_ORG, 0.8, (0, len(text)), "classifier"),
                ],
            )


def test_evaluate_extraction_runs_a_pipeline(tmp_path: Path) -> None:
    path = _write(tmp_path / "g.jsonl", [_gold_line(), _gold_line(id="s2")])
    s = evaluate_extraction(path, _FakePipeline())
    assert s["sentences"] == 2
    assert s["per_relation"]["Work_For"]["f1"] == 1.0
    # the statement's tail is a Loc in gold but typed Org by the extraction: a miss
    assert s["per_relation"]["OrgBased_In"]["predicted"] == 2
    assert s["per_relation"]["OrgBased_In"]["f1"] == 0.0
    assert s["relations"]["f1"] == pytest.approx(0.5)
    assert s["entities"]["precision"] == pytest.approx(2 / 3)


def test_cli_bad_gold_exits_1_with_location(tmp_path: Path) -> None:
    path = _write(tmp_path / "bad.jsonl", [_gold_line(), "{not json"])
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "kgforge",
            "evaluate-extraction",
            str(path),
            "--pipeline",
            "conll04",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert proc.returncode == 1
    assert f"{path}:2" in proc.stderr
    assert "Traceback" not in proc.stderr
    missing = subprocess.run(
        [sys.executable, "-m", "kgforge", "evaluate-extraction", str(tmp_path / "nope.jsonl")],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert missing.returncode == 1
    assert "error:" in missing.stderr
