"""bench/entity_classification.py and bench/entity_retrieval.py on a fine-tuned transformer run
(the shipped CPU fine-tuning config, a few steps on a tiny WordNet-shaped data set)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from kgforge.embed.pipeline import train

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.usefixtures("one_thread_and_private_cache")

# class (two levels below the root) -> its members; "name, definition" texts as in WN18RR
CLASSES = {
    "animal": ["fox", "owl", "cat", "eel", "bat", "yak", "elk", "emu", "gnu", "ram"],
    "plant": ["oak", "fern", "moss", "ivy", "elm", "yew", "fig", "ash", "rye", "pea"],
    "idea": ["plan", "myth", "fact", "hope", "goal", "aim", "view", "rule", "law", "lie"],
}


def write_wordnet_like(directory: Path) -> Path:
    """entity <- physical entity / abstraction <- class <- members; 6 members per class in
    train, 2 new in valid, 2 new in test (their hypernym edge and one `_similar_to` edge)."""
    directory.mkdir(parents=True, exist_ok=True)
    text = {
        "entity": "entity, that which exists",
        "physical": "physical entity, an entity that has physical existence",
        "abstraction": "abstraction, a general concept",
    }
    train = [("physical", "_hypernym", "entity"), ("abstraction", "_hypernym", "entity")]
    valid, test = [], []
    for c, members in CLASSES.items():
        text[c] = f"{c}, a kind of thing"
        train.append((c, "_hypernym", "abstraction" if c == "idea" else "physical"))
        for i, m in enumerate(members):
            text[m] = f"{m}, a {c} called {m}"
            split = train if i < 6 else valid if i < 8 else test
            split.append((m, "_hypernym", c))
            split.append((m, "_similar_to", members[(i + 1) % 6]))
        train.extend((members[i], "_similar_to", members[i + 1]) for i in range(5))

    def write(name: str, rows) -> None:
        (directory / name).write_text("".join("\t".join(r) + "\n" for r in rows), encoding="utf-8")

    write("train.tsv", train)
    write("valid.tsv", valid)
    write("test.tsv", test)
    write("entity2text.tsv", sorted(text.items()))
    write("relation2text.tsv", [("_hypernym", "hypernym"), ("_similar_to", "similar to")])
    return directory


@pytest.fixture(scope="module")
def finetuned_run(tmp_path_factory, shared_cache):
    data = write_wordnet_like(tmp_path_factory.mktemp("wnlike") / "data")
    out = tmp_path_factory.mktemp("wnlike") / "run"
    train(
        ROOT / "pipelines" / "wn18rr_ind_finetune_cpu.yaml",
        data=data,
        output=out,
        model={"encoder_kwargs": {"max_length": 16}, "dim": 32},
        training={"max_steps": 3, "batch_size": 16, "warmup": 0.0},
        evaluation={"every_epochs": None, "final_valid": False},
    )
    return data, out


@pytest.fixture(scope="module")
def shared_cache(tmp_path_factory):
    """One feature cache for the training (in-process) and the bench scripts (subprocesses)."""
    folder = tmp_path_factory.mktemp("bench_cache")
    old = os.environ.get("KGFORGE_CACHE")
    os.environ["KGFORGE_CACHE"] = str(folder)
    yield folder
    if old is None:
        os.environ.pop("KGFORGE_CACHE")
    else:
        os.environ["KGFORGE_CACHE"] = old


def bench(script: str, *args: str, cache: Path) -> str:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    env["KGFORGE_CACHE"] = str(cache)
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / script), *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def test_classification_rows_of_a_finetuned_transformer_run(finetuned_run, shared_cache, tmp_path):
    data, run = finetuned_run
    out = tmp_path / "classify.json"
    args = ["--data", str(data), "--labels", "hypernym", "--min-train", "2", "--out", str(out)]
    bench("entity_classification.py", *args, "--run", str(run), "--runs-only", cache=shared_cache)
    result = json.loads(out.read_text())
    assert result["classes"] == ["animal", "idea", "plant"]  # two levels below the root
    assert result["counts"] == {"train": 21, "valid": 6, "test": 6}  # train: + the classes
    assert list(result["rows"]) == [str(run)]  # --runs-only: no text rows
    for kind in ("logreg", "mlp"):
        row = result["rows"][str(run)][kind]
        for metric in ("accuracy", "balanced_accuracy", "macro_f1"):
            assert 0.0 <= row[metric] <= 1.0


def test_retrieval_rows_of_a_finetuned_transformer_run(finetuned_run, shared_cache, tmp_path):
    data, run = finetuned_run
    out = tmp_path / "retrieval.json"
    args = ["--data", str(data), "--run", str(run), "--name", "finetune", "--no-minilm"]
    printed = bench("entity_retrieval.py", *args, "--out", str(out), cache=shared_cache)
    result = json.loads(out.read_text())
    assert list(result["rows"]) == ["bm25", "dense_finetune", "hybrid_finetune"]
    assert any(q.startswith("hypernym ") for q in result["examples"])  # "hypernym idea"
    assert result["run_name"] == "finetune"
    assert "hybrid_finetune" in printed
    hybrid = result["rows"]["hybrid_finetune"]
    assert 0.0 <= hybrid["weight_bm25"] <= 1.0
    for name, row in result["rows"].items():
        for metric in ("ndcg@10", "mrr", "recall@10", "recall@100"):
            assert 0.0 <= row[metric] <= 1.0, (name, metric)
    # every relevant entity is among the 35 indexed texts: all are in the top 100
    assert result["rows"]["dense_finetune"]["recall@100"] == 1.0
