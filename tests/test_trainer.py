"""Training runs: resume after interruption, checkpoints, early stopping, configs, CLI, bad data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import yaml
from tiny_kg import write_tiny_kg
from typer.testing import CliRunner

from kgforge.cli import app
from kgforge.embed.config import load_config, parse_set
from kgforge.embed.pipeline import train
from kgforge.embed.trainer import lr_lambda, resolve_precision
from kgforge.errors import ConfigError, DataError

ROOT = Path(__file__).resolve().parents[1]
# every shipped training config
PIPELINES = sorted(
    [*(ROOT / "pipelines").glob("wn18rr_*.yaml"), *(ROOT / "pipelines").glob("fb15k237_*.yaml")]
)


pytestmark = pytest.mark.usefixtures("one_thread_and_private_cache")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    return write_tiny_kg(tmp_path_factory.mktemp("tiny") / "data")


CONFIG = {
    "model": {"encoder": "lookup", "dim": 16, "scorer": "complex"},
    "training": {
        "epochs": 4,
        "lr": 0.05,
        "batch_size": 32,
        "grad_accumulation": 2,
        "warmup": 0.2,
        "schedule": "linear",
        "log_every": 1,
    },
    "checkpoint": {"every_steps": 3},
    "evaluation": {"protocol": "transductive", "every_epochs": 1},
}


class Interrupt(RuntimeError):
    pass


def _stop_at(step: int):
    def callback(trainer, current: int) -> None:
        if current == step:
            raise Interrupt(f"stopped at step {current}")

    return callback


def _log(path: Path) -> list[dict]:
    return [json.loads(line) for line in (path / "metrics.jsonl").read_text().splitlines()]


def test_resumed_run_matches_uninterrupted_run(tiny, tmp_path):
    full = train(CONFIG, data=tiny, output=tmp_path / "full")
    with pytest.raises(Interrupt):
        train(CONFIG, data=tiny, output=tmp_path / "cut", callbacks=[_stop_at(8)])
    ckpt = torch.load(tmp_path / "cut" / "checkpoints" / "last.pt", weights_only=False)
    assert 0 < ckpt["step"] < 8  # the last checkpoint before the interruption survived
    resumed = train(CONFIG, data=tiny, output=tmp_path / "cut", resume=True)

    for key, value in full.model.state_dict().items():
        torch.testing.assert_close(resumed.model.state_dict()[key], value)
    assert resumed.test["both"] == pytest.approx(full.test["both"])
    # the log reads as one run: every step once, the same losses
    full_log, cut_log = _log(full.output), _log(resumed.output)
    steps = [r["step"] for r in cut_log if r["type"] == "train"]
    assert steps == sorted(set(steps))
    assert [r["loss"] for r in cut_log if r["type"] == "train"] == pytest.approx(
        [r["loss"] for r in full_log if r["type"] == "train"]
    )
    for name in ("config.yaml", "curve.png", "results.json", "model/weights.pt"):
        assert (resumed.output / name).exists()


def test_seeded_runs_reproduce_and_seeds_differ(tiny, tmp_path):
    cfg = {**CONFIG, "evaluation": {"every_epochs": None, "test": False}}
    a = train(cfg, data=tiny, output=tmp_path / "a", training={"epochs": 1})
    b = train(cfg, data=tiny, output=tmp_path / "b", training={"epochs": 1})
    c = train(cfg, data=tiny, output=tmp_path / "c", training={"epochs": 1}, seed=7)
    wa, wb, wc = (r.model.relation_embedding.weight for r in (a, b, c))
    assert torch.equal(wa, wb)
    assert not torch.equal(wa, wc)


def test_failed_checkpoint_write_keeps_previous_checkpoint(tiny, tmp_path, monkeypatch):
    out = tmp_path / "run"
    with pytest.raises(Interrupt):
        train(CONFIG, data=tiny, output=out, callbacks=[_stop_at(5)])
    path = out / "checkpoints" / "last.pt"
    before = path.read_bytes()

    def broken_save(obj, f, *args, **kwargs):
        Path(f).write_bytes(b"half a checkpoint")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        train(CONFIG, data=tiny, output=out, resume=True)
    assert path.read_bytes() == before
    assert not [p for p in path.parent.iterdir() if p.name != "last.pt" and "tmp" not in p.name]


def test_existing_run_needs_resume(tiny, tmp_path):
    with pytest.raises(Interrupt):
        train(CONFIG, data=tiny, output=tmp_path / "run", callbacks=[_stop_at(4)])
    with pytest.raises(ConfigError, match="--resume"):
        train(CONFIG, data=tiny, output=tmp_path / "run")


def test_early_stopping_on_validation_mrr(tiny, tmp_path):
    settings = {
        "training": {"epochs": 30, "lr": 1e-12, "warmup": 0.0, "schedule": "constant"},
        "evaluation": {"patience": 2},
    }
    result = train(CONFIG, data=tiny, output=tmp_path / "run", **settings)
    assert result.stopped_early
    evals = [r for r in _log(result.output) if r["type"] == "eval"]
    assert len(evals) == 3  # the first sets the best, two more without improvement stop it
    assert result.best_step == evals[0]["step"]
    # resuming a run that stopped early does not train on
    again = train(CONFIG, data=tiny, output=tmp_path / "run", resume=True, **settings)
    assert again.stopped_early
    assert [r for r in _log(again.output) if r["type"] == "eval"] == evals


def test_schedule_and_precision():
    f = lr_lambda("linear", warmup_steps=10, total_steps=110)
    assert f(0) == pytest.approx(0.1) and f(9) == pytest.approx(1.0)
    assert f(60) == pytest.approx(0.5) and f(110) == pytest.approx(0.0)
    assert lr_lambda("cosine", 0, 100)(50) == pytest.approx(0.5)
    assert resolve_precision("auto", torch.device("cpu")) is None
    assert resolve_precision("bf16", torch.device("cuda")) == torch.bfloat16


def test_config_errors_name_field_and_file(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("model:\n  dim: -3\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"bad\.yaml.*model\.dim"):
        load_config(bad)
    bad.write_text("training:\n  epoch: 3\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"training\.epoch"):
        load_config(bad)
    bad.write_text("model: [unclosed\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="invalid YAML"):
        load_config(bad)
    with pytest.raises(ConfigError, match="key=value"):
        load_config({}, set_values=["training.lr"])
    cfg = load_config({}, set_values=["training.lr=0.5", "model.scorer=rotate"])
    assert cfg.training.lr == 0.5 and cfg.model.scorer == "rotate"
    assert parse_set(["a.b=[1, 2]"]) == {"a": {"b": [1, 2]}}


@pytest.mark.parametrize("path", PIPELINES, ids=lambda p: p.name)
def test_shipped_configs_validate(path):
    cfg = load_config(path)
    assert cfg.data is not None and cfg.output is not None


def test_frozen_config_shape_is_shared_by_the_shipped_pipelines():
    """WN18RR-ind and FB15k-237-ind teachers come from one config shape: only the data, the
    output, whether self-loops may be predicted and the epochs (the step budget) differ."""
    wn = load_config(ROOT / "pipelines" / "wn18rr_ind_frozen.yaml").model_dump()
    fb = load_config(ROOT / "pipelines" / "fb15k237_ind_frozen.yaml").model_dump()
    for config in (wn, fb):
        config["model"].pop("allow_self")
        config["training"].pop("epochs")
    assert wn["model"] == fb["model"] and wn["evaluation"] == fb["evaluation"]
    assert wn["training"] == fb["training"] and wn["checkpoint"] == fb["checkpoint"]


def test_cli_trains_a_shipped_config_and_resumes(tiny, tmp_path):
    runner = CliRunner()
    out = tmp_path / "run"
    args = [
        "train",
        str(ROOT / "pipelines" / "wn18rr_ind_frozen.yaml"),
        "--data",
        str(tiny),
        "--output",
        str(out),
        "--set",
        "training.epochs=1",
        "--set",
        "training.batch_size=64",
        "--set",
        "model.encoder_kwargs.hidden=32",
        "--quiet",
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "test: MRR" in result.output
    saved = yaml.safe_load((out / "config.yaml").read_text())
    assert saved["training"]["epochs"] == 1 and saved["data"] == str(tiny)
    results = json.loads((out / "results.json").read_text())
    assert 0 < results["test"]["both"]["mrr"] <= 1
    again = runner.invoke(app, [*args, "--resume"])
    assert again.exit_code == 0, again.output


def test_bad_data_files_are_user_errors(tmp_path):
    data = write_tiny_kg(tmp_path / "data")
    with open(data / "train.tsv", "a", encoding="utf-8") as f:
        f.write("e1\tmember_of\n")
    with pytest.raises(DataError, match=r"train\.tsv:\d+"):
        train(CONFIG, data=data, output=tmp_path / "out")
    (data / "train.tsv").write_text("e1\tmember_of\tnobody\n", encoding="utf-8")
    with pytest.raises(DataError, match="nobody"):
        train(CONFIG, data=data, output=tmp_path / "out")
    with pytest.raises(ConfigError, match="data"):
        train({k: v for k, v in CONFIG.items()}, output=tmp_path / "out")


def test_cli_reports_errors_in_one_line(tmp_path):
    import subprocess
    import sys

    bad = tmp_path / "bad.yaml"
    bad.write_text("training:\n  lr: -1\n", encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-m", "kgforge", "train", str(bad), "--data", str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert proc.returncode == 1
    assert proc.stderr.strip().startswith("error:") and "training.lr" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_shipped_transductive_config_trains_from_python(tiny, tmp_path):
    torch.set_num_threads(2)
    result = train(
        ROOT / "pipelines" / "wn18rr_transe.yaml",
        data=tiny,
        output=tmp_path / "run",
        training={"epochs": 60, "num_threads": 1},
        evaluation={"every_epochs": 30},
    )
    assert [r["epoch"] for r in result.history] == [30, 60]
    assert result.test["protocol"] == "transductive"
    assert result.test["both"]["mrr"] > 0.1  # above a random order of the 66 entities
    assert torch.get_num_threads() == 2  # training.num_threads held for the run only


def test_trainer_drives_the_sampler_curriculum(tiny, tmp_path):
    """The trainer tells the sampler how far training is: lmnearest's ratio climbs to its target."""
    config = {
        **CONFIG,
        "model": {"encoder": "frozen", "dim": 16, "scorer": "distmult"},
        "training": {
            **CONFIG["training"],
            "objective": "negatives",
            "loss": "softplus",
            "negative_sampler": "lmnearest",
            "negative_sampler_kwargs": {"k": 5, "ratio": 0.8, "ratio_start": 0.0},
            "num_negatives": 4,
        },
        "evaluation": {"protocol": "transductive", "every_epochs": None},
    }
    seen: list[float] = []
    train(
        config,
        data=tiny,
        output=tmp_path / "run",
        callbacks=[lambda trainer, step: seen.append(trainer.sampler.current_ratio)],
    )
    assert seen[0] == pytest.approx(0.0)
    assert seen == sorted(seen) and seen[-1] > 0.6
