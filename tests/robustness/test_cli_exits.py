"""Issue 12 #1-#3: what the command line does on a usage error, on Ctrl-C and on a bug.

- a usage error is click's usage message and exit 2, whatever typer version resolves;
- Ctrl-C is "Aborted!" and exit 130, and the run resumes from what it committed;
- an error that is neither is never reported as an abort (exit 130 means Ctrl-C, only).
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
import torch
import yaml
from tiny_kg import write_tiny_kg

from robustness.harness import assert_usage_error, interrupt_kgforge, run_kgforge

SENTENCES = [
    "Marie Curie was born in Warsaw and worked in Paris.",
    "Alan Turing studied at Cambridge and later worked in Manchester.",
    "Ada Lovelace worked with Charles Babbage in London.",
]


def _corpus(path: Path, n: int) -> Path:
    with open(path, "w", encoding="utf-8") as f:
        for i in range(n):
            f.write(json.dumps({"id": f"d{i}", "text": f"{SENTENCES[i % 3]} Item {i}."}) + "\n")
    return path


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    return _corpus(tmp_path / "docs.jsonl", 20)


@pytest.mark.parametrize(
    "args, mentions",
    [
        ([], ["Commands"]),
        (["bogus"], ["No such command 'bogus'"]),
        (["stats", "{store}", "--bogus", "x"], ["No such option: --bogus"]),
        (["extract", "{corpus}"], ["--store"]),
        (["extract", "{corpus}", "--store", "{store}", "--workers", "0"], ["--workers"]),
        (["extract", "{corpus}", "--store", "{store}", "--on-error", "ignore"], ["--on-error"]),
        (["search", "{store}", "a scientist", "-k", "abc"], ["-k"]),
        (["search", "{store}", "a scientist", "-k", "0"], ["-k"]),
        (["search", "{store}", "a scientist", "--mode", "fuzzy"], ["--mode"]),
        (["query", "{store}", "--format", "xml", "ASK {}"], ["--format"]),
        (["query", "{store}", "ASK {}", "--file", "{corpus}"], ["--file"]),
        (["query", "{store}"], ["--file"]),
        (["stats", "{store}", "--format", "xml"], ["--format"]),
        (["evaluate", "{store}", "--data", "{store}", "--split", "dev"], ["--split"]),
        (["evaluate", "{store}", "--data", "{store}", "--batch-size", "0"], ["--batch-size"]),
        (["predict-links", "{store}", "{store}", "--direction", "up"], ["--direction"]),
        (["split", "{store}", "-o", "{store}", "--test", "-1"], ["--test"]),
        (["train-relations", "--train", "x", "--output", "y", "--held-out", "2"], ["--held-out"]),
    ],
)
def test_usage_errors_exit_2(kgforge_cli, corpus, tmp_path, args, mentions) -> None:
    store = tmp_path / "store"
    values = {"{store}": str(store), "{corpus}": str(corpus)}
    result = kgforge_cli(*(values.get(a, a) for a in args))
    assert_usage_error(result, mentions=mentions)
    assert not store.exists(), "a usage error must not touch the store"


def _documents(store: Path) -> int:
    """Documents committed to an on-disk store, read while another process may write it."""
    from kgforge.errors import KGForgeError
    from kgforge.graph.store import KnowledgeGraph

    if not store.exists():
        return 0
    try:
        with KnowledgeGraph.open(store, read_only=True) as kg:
            return kg.stats()["documents"]
    except (KGForgeError, OSError):
        return 0


def test_ctrl_c_during_extract_exits_130_and_resumes(tmp_path) -> None:
    corpus = _corpus(tmp_path / "docs.jsonl", 1500)
    store = tmp_path / "store"
    args = ["extract", corpus, "--store", store, "--batch-size", "8"]
    stopped = interrupt_kgforge(*args, when=lambda _: _documents(store) > 0, cwd=tmp_path)
    assert stopped.code == 130, stopped
    assert stopped.stderr.strip().splitlines()[-1] == "Aborted!", stopped
    assert "Traceback" not in stopped.stderr, stopped
    committed = _documents(store)
    assert 0 < committed < 1500, "interrupted after the first batch, before the last"
    resumed = run_kgforge(*args, cwd=tmp_path)
    assert resumed.code == 0, resumed
    # the documents of the interrupted run are kept and not extracted again
    unchanged = int(resumed.stdout.split(" unchanged")[0].rsplit(" ", 1)[1])
    assert unchanged >= committed, resumed
    assert resumed.stdout.startswith("1500 documents: "), resumed
    assert _documents(store) == 1500


def test_ctrl_c_during_train_exits_130_and_keeps_the_checkpoint(tmp_path) -> None:
    data = write_tiny_kg(tmp_path / "data")
    config = tmp_path / "config.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "model": {"encoder": "lookup", "dim": 8, "scorer": "distmult"},
                "training": {"epochs": 100000, "batch_size": 64, "num_threads": 1},
                "checkpoint": {"every_steps": 20},
                "evaluation": {"protocol": "transductive", "every_epochs": 100000},
            }
        )
    )
    out = tmp_path / "run"
    last = out / "checkpoints" / "last.pt"
    args = ["train", config, "--data", data, "--output", out]
    stopped = interrupt_kgforge(*args, when=lambda _: last.exists(), cwd=tmp_path)
    assert stopped.code == 130, stopped
    assert stopped.stderr.strip().splitlines()[-1] == "Aborted!", stopped
    assert "Traceback" not in stopped.stderr, stopped
    checkpoint = torch.load(last, map_location="cpu", weights_only=False)
    assert checkpoint, "the last checkpoint is intact after the interrupt"


def test_truncated_gzip_is_not_an_abort(tmp_path) -> None:
    """An EOFError (here: a .jsonl.gz cut short after the first batches) is an error, exit 1,
    never "Aborted!"/130; what was committed before it stays."""
    raw = _corpus(tmp_path / "docs.jsonl", 400).read_bytes()
    packed = gzip.compress(raw)
    corpus = tmp_path / "docs.jsonl.gz"
    corpus.write_bytes(packed[: len(packed) * 3 // 4])
    store = tmp_path / "store"
    result = run_kgforge("extract", corpus, "--store", store, "--batch-size", "8", cwd=tmp_path)
    assert result.code == 1, result
    assert "Aborted" not in result.stderr and "aborted" not in result.stderr, result
    assert _documents(store) > 0


def test_empty_checkpoint_is_not_an_abort(tmp_path) -> None:
    """``--resume`` over an empty ``checkpoints/last.pt`` (torch raises EOFError): exit 1."""
    data = write_tiny_kg(tmp_path / "data")
    config = tmp_path / "config.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "model": {"encoder": "lookup", "dim": 8, "scorer": "distmult"},
                "training": {"epochs": 1, "num_threads": 1},
                "evaluation": {"protocol": "transductive"},
            }
        )
    )
    out = tmp_path / "run"
    (out / "checkpoints").mkdir(parents=True)
    (out / "checkpoints" / "last.pt").write_bytes(b"")
    result = run_kgforge("train", config, "--data", data, "--output", out, "--resume", cwd=tmp_path)
    assert result.code == 1, result
    assert "Aborted" not in result.stderr and "aborted" not in result.stderr, result
