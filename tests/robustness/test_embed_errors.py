"""Issue 12, embedding commands: bad runs, files and options end in one located line, exit 1,
and leave what was on disk as it was.

The cases run ``kgforge.cli.run()`` in-process with ``sys.argv`` set (the entry point the
``kgforge`` script calls, so exit codes and messages are the user's), which keeps them fast; one
case runs the real subprocess to show the same.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml
from rdflib import Literal, URIRef
from rdflib.namespace import DCTERMS, RDFS
from tiny_kg import write_tiny_kg

from kgforge import cli
from kgforge.embed.evaluate import evaluate, metrics, rank_true
from kgforge.embed.pipeline import train
from kgforge.errors import ConfigError, NonFiniteError, NonFiniteLossError
from kgforge.graph.namespaces import ENTITIES_GRAPH, REL, entity_iri
from kgforge.graph.store import KnowledgeGraph

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.usefixtures("one_thread_and_private_cache")

CONFIG = """\
model: {encoder: lookup, dim: 16, scorer: distmult}
training: {epochs: 2, batch_size: 32, log_every: 1, num_threads: 1}
checkpoint: {every_steps: 2}
evaluation: {protocol: transductive}
"""


def kgforge(monkeypatch, capsys, *args: object) -> tuple[int, str, str]:
    """Run the CLI as the ``kgforge`` script does, without progress bars (as the robustness
    harness does); (exit code, stdout, stderr)."""
    monkeypatch.setattr(sys, "argv", ["kgforge", *map(str, args)])
    monkeypatch.setenv("KGFORGE_PROGRESS", "0")  # bars are no error lines
    capsys.readouterr()
    try:
        cli.run()
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    out, err = capsys.readouterr()
    return code, out, err


def assert_error(result: tuple[int, str, str], *mentions: str) -> str:
    code, out, err = result
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 1, result
    assert "Traceback" not in out + err, result
    assert len(lines) == 1 and lines[0].startswith("error: "), result
    for text in mentions:
        assert text in lines[0], (text, lines[0])
    return lines[0]


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    return write_tiny_kg(tmp_path_factory.mktemp("tiny") / "data")


@pytest.fixture
def config(tmp_path) -> Path:
    path = tmp_path / "cfg.yaml"
    path.write_text(CONFIG, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def finished(tmp_path_factory, data) -> Path:
    """A finished run's output folder (do not modify: copy it)."""
    out = tmp_path_factory.mktemp("run") / "run"
    train(yaml.safe_load(CONFIG), data=data, output=out)
    return out


def copy_run(finished: Path, to: Path) -> Path:
    import shutil

    return Path(shutil.copytree(finished, to))


# -- #5: a diverged model never reports metrics ----------------------------------------------
def test_infinite_lr_is_rejected_when_the_config_loads(monkeypatch, capsys, config, data, tmp_path):
    out = tmp_path / "run"
    result = kgforge(monkeypatch, capsys, "train", config, "--data", data, "-o", out,
                     "--set", "training.lr=inf", "-q")  # fmt: skip
    assert_error(result, "cfg.yaml", "training.lr", "finite")
    assert not out.exists()


def test_non_finite_loss_stops_training_and_keeps_the_last_good_checkpoint(tmp_path, data):
    cfg = yaml.safe_load(CONFIG)
    out = tmp_path / "run"
    kept: dict[str, bytes] = {}

    def poison(trainer, step: int) -> None:
        if step == 2:  # the checkpoint of step 2 is written after this call
            return
        if step == 3:
            kept["last.pt"] = trainer.checkpoint_path.read_bytes()
            with torch.no_grad():
                next(trainer.model.parameters()).fill_(float("nan"))

    with pytest.raises(NonFiniteLossError, match=r"diverged at step 4.*loss is nan"):
        train(cfg, data=data, output=out, callbacks=[poison])
    ckpt = out / "checkpoints" / "last.pt"
    assert ckpt.read_bytes() == kept["last.pt"]
    state = torch.load(ckpt, weights_only=False)
    assert state["step"] == 2
    assert all(torch.isfinite(v).all() for v in state["model"].values())
    lines = (out / "metrics.jsonl").read_text().splitlines()
    assert len(lines) == 3  # steps 1-3; strict JSON (no bare NaN)
    for line in lines:
        json.loads(line, parse_constant=lambda name: pytest.fail(f"{name} in metrics.jsonl"))
    assert not (out / "results.json").exists()


def test_weights_that_turn_non_finite_are_never_checkpointed(tmp_path, data):
    cfg = yaml.safe_load(CONFIG)
    out = tmp_path / "run"

    def poison(trainer, step: int) -> None:
        if step == 4:  # the step after it checkpoints: the broken weights must not be saved
            with torch.no_grad():
                next(trainer.model.parameters()).fill_(float("inf"))

    with pytest.raises(NonFiniteLossError, match="weights are no longer finite"):
        train(cfg, data=data, output=out, callbacks=[poison])
    state = torch.load(out / "checkpoints" / "last.pt", weights_only=False)
    assert state["step"] == 2


def test_evaluating_a_diverged_model_is_an_error(monkeypatch, capsys, finished, data, tmp_path):
    run = copy_run(finished, tmp_path / "run")
    weights = run / "model" / "weights.pt"
    state = torch.load(weights, weights_only=True)
    for value in state.values():
        value.fill_(float("nan"))
    torch.save(state, weights)
    result = kgforge(monkeypatch, capsys, "evaluate", run, "--data", data)
    assert_error(result, "non-finite", "diverged")


def test_ranks_are_never_below_one_or_above_the_candidates():
    g = torch.Generator().manual_seed(0)
    for _ in range(50):
        b, c = 8, int(torch.randint(1, 30, (), generator=g))
        # few distinct values: many ties, the case where a rank could slip below 1
        scores = torch.randint(0, 3, (b, c), generator=g).float()
        true = torch.randint(0, c, (b,), generator=g)
        pairs = torch.unique(torch.randint(0, b * c, (10,), generator=g))
        rows, cols = pairs // c, pairs % c
        ranks = rank_true(scores, true, rows, cols)
        filtered = torch.bincount(rows[cols != true[rows]], minlength=b)
        assert (ranks >= 1).all() and (ranks <= c - filtered).all()
        m = metrics(ranks)
        assert 0 < m["mrr"] <= 1 and m["mr"] >= 1 and 0 <= m["hits@1"] <= 1
    for bad in (float("nan"), float("inf"), -float("inf")):
        scores = torch.zeros(2, 4)
        scores[1, 2] = bad
        with pytest.raises(NonFiniteError):
            rank_true(scores, torch.tensor([0, 2]))


# -- #3, #15, #16: checkpoints, weights, resume -------------------------------------------------
@pytest.mark.parametrize("content", [b"", b"garbage\n"], ids=["empty", "corrupt"])
def test_unreadable_checkpoint_with_resume(monkeypatch, capsys, finished, config, data, tmp_path,
                                           content):  # fmt: skip
    run = copy_run(finished, tmp_path / "run")
    (run / "checkpoints" / "last.pt").write_bytes(content)
    before = snapshot(run)
    result = kgforge(monkeypatch, capsys, "train", config, "--data", data, "-o", run, "--resume")
    assert_error(result, "checkpoints/last.pt", "empty" if not content else "corrupt")
    assert snapshot(run) == before


def test_corrupt_weights(monkeypatch, capsys, finished, data, tmp_path):
    run = copy_run(finished, tmp_path / "run")
    (run / "model" / "weights.pt").write_bytes(b"\x00not torch")
    result = kgforge(monkeypatch, capsys, "evaluate", run, "--data", data)
    assert_error(result, "model/weights.pt", "corrupt")


def test_resume_with_another_model_dim(monkeypatch, capsys, finished, config, data, tmp_path):
    run = copy_run(finished, tmp_path / "run")
    before = snapshot(run)
    result = kgforge(monkeypatch, capsys, "train", config, "--data", data, "-o", run, "--resume",
                     "--set", "model.dim=8")  # fmt: skip
    assert_error(result, "config.yaml", "model.dim", "16")
    assert snapshot(run) == before


def test_resume_of_a_missing_run(monkeypatch, capsys, config, data, tmp_path):
    out = tmp_path / "nowhere"
    result = kgforge(monkeypatch, capsys, "train", config, "--data", data, "-o", out, "--resume")
    assert_error(result, "nowhere", "resume")
    assert not out.exists()


# -- #15: config, options and data files ------------------------------------------------------
@pytest.mark.parametrize(
    ("assignment", "field", "hint"),
    [
        ("model.scorer=bogus", "model.scorer", "transe"),
        ("model.scorer=transee", "model.scorer", "did you mean 'transe'"),
        ("training.loss=nope", "training.loss", "margin"),
        ("training.negative_sampler=lmclustr", "training.negative_sampler", "'lmcluster'?"),
        ("model.encoder_kwargs.hiden=3", "model.encoder_kwargs", "'hiden'"),
        ("training.epoch=3", "training.epoch", "did you mean 'epochs'"),
    ],
)
def test_bad_component_names_fail_when_the_config_loads(monkeypatch, capsys, config, data,
                                                        tmp_path, assignment, field, hint):  # fmt: skip
    out = tmp_path / "run"
    result = kgforge(monkeypatch, capsys, "train", config, "--data", data, "-o", out,
                     "--set", assignment)  # fmt: skip
    assert_error(result, "cfg.yaml", f"'{field}'", hint)
    assert not out.exists()


def test_empty_train_file(monkeypatch, capsys, config, data, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    for name in ("entity2text.tsv", "relation2text.tsv"):
        (empty / name).write_bytes((data / name).read_bytes())
    (empty / "train.tsv").write_text("", encoding="utf-8")
    out = tmp_path / "run"
    result = kgforge(monkeypatch, capsys, "train", config, "--data", empty, "-o", out)
    assert_error(result, "empty/train.tsv", "no triples")
    assert not out.exists()


def test_evaluate_batch_size_zero_is_rejected(finished, data):
    with pytest.raises(ConfigError, match="batch_size"):
        evaluate(finished, data, batch_size=0)


@pytest.fixture
def store(tmp_path) -> Path:
    """An on-disk store with a few entity records and facts."""
    path = tmp_path / "store"
    names = [f"thing {i}" for i in range(12)]
    with KnowledgeGraph.open(str(path), create=True) as kg:
        for i, name in enumerate(names):
            e = entity_iri(name)
            nxt = entity_iri(names[(i + 1) % len(names)])
            kg.add_many(
                [(e, RDFS.label, Literal(name)), (e, DCTERMS.description, Literal("a thing"))],
                graph=ENTITIES_GRAPH,
            )
            kg.add_many([(e, REL["next_to"], nxt)], graph=URIRef("https://example.org/doc/1"))
    return path


@pytest.mark.parametrize(
    ("options", "mentions"),
    [
        (["--test", "1.5"], ["test_fraction", "1.5"]),
        (["--test", "0.6", "--valid", "0.6"], ["valid_fraction", "test_fraction"]),
    ],
)
def test_dataset_shares(monkeypatch, capsys, store, tmp_path, options, mentions):
    out = tmp_path / "out"
    result = kgforge(monkeypatch, capsys, "dataset", store, "-o", out, *options)
    assert_error(result, *mentions)
    assert not out.exists()


def test_dataset_output_is_an_existing_file(monkeypatch, capsys, store, tmp_path):
    out = tmp_path / "taken.txt"
    out.write_text("keep me\n", encoding="utf-8")
    result = kgforge(monkeypatch, capsys, "dataset", store, "-o", out)
    assert_error(result, "taken.txt", "not a directory")
    assert out.read_text(encoding="utf-8") == "keep me\n"


def test_search_with_a_missing_model(monkeypatch, capsys, store, tmp_path):
    result = kgforge(monkeypatch, capsys, "search", store, "thing", "--model", tmp_path / "none")
    assert_error(result, "none", "sentence-transformers")


def test_the_real_command_exits_1_with_one_line(config, data, tmp_path):
    out = tmp_path / "run"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "kgforge",
            "train",
            str(config),
            "--data",
            str(data),
            "-o",
            str(out),
            "--set",
            "model.scorer=transee",
        ],  # fmt: skip
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("error: ")
    assert "did you mean 'transe'" in proc.stderr and "Traceback" not in proc.stderr
