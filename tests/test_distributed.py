"""`kgforge train --distributed`: two CPU ranks (gloo, under torchrun) against one process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml
from tiny_kg import write_tiny_kg
from typer.testing import CliRunner

from kgforge.cli import app
from kgforge.embed.pipeline import train
from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[1]
# one_vs_all over every training entity: each global batch gives the same gradient on one rank
# as averaged over two, so the runs differ only in the order floats are summed
CONFIG = {
    "model": {"encoder": "lookup", "dim": 16, "scorer": "distmult"},
    "training": {
        "epochs": 4,
        "lr": 0.05,
        "batch_size": 32,
        "objective": "one_vs_all",
        "loss": "ce",
        "schedule": "constant",  # the resumed run may extend the epochs with the same lr
        "log_every": 1,
        "num_threads": 1,
    },
    "checkpoint": {"every_epochs": 1},
    "evaluation": {"protocol": "transductive", "every_epochs": 2},
}
WEIGHT_TOLERANCE = 1e-5  # absolute, on every weight after 36 steps
METRIC_TOLERANCE = 1e-3  # absolute, on MRR and Hits@k


pytestmark = pytest.mark.usefixtures("one_thread_and_private_cache")


def test_two_gloo_ranks_match_one_process_and_resume(tmp_path: Path) -> None:
    data = write_tiny_kg(tmp_path / "data")
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(CONFIG))
    single = train(CONFIG, data=data, output=tmp_path / "single")

    out = tmp_path / "ddp"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
        "OMP_NUM_THREADS": "1",
        "KGFORGE_PROGRESS": "0",
    }
    # 2 epochs with --distributed, then --resume to 4, in the same two rank processes
    command = [
        *(sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2"),
        *("--master-addr", "127.0.0.1", "--master-port", str(free_port())),
        *(str(ROOT / "tests" / "distributed_worker.py"), str(config), str(data), str(out), "2"),
    ]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.count("output:") == 2  # rank 0 alone prints

    results = json.loads((out / "results.json").read_text())
    assert results["world_size"] == 2 and results["steps"] == 36
    for split, ours in (("valid", single.valid), ("test", single.test)):
        assert results[split]["num_triples"] == ours["num_triples"]
        for key in ("mrr", "hits@1", "hits@10"):
            assert results[split]["both"][key] == pytest.approx(
                ours["both"][key], abs=METRIC_TOLERANCE
            )
    weights = torch.load(out / "model" / "weights.pt", weights_only=True)
    for key, value in single.model.state_dict().items():
        torch.testing.assert_close(weights[key], value, atol=WEIGHT_TOLERANCE, rtol=0)

    # rank 0 wrote one log: every step once, the resumed run went on from step 18
    log = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    steps = [r["step"] for r in log if r["type"] == "train"]
    assert steps == list(range(1, 37))
    assert [r["step"] for r in log if r["type"] == "eval"] == [18, 36]
    checkpoint = torch.load(out / "checkpoints" / "last.pt", weights_only=False)
    assert checkpoint["step"] == 36 and len(checkpoint["rng_by_rank"]) == 2


def test_distributed_outside_torchrun_says_how_to_start(tmp_path: Path) -> None:
    data = write_tiny_kg(tmp_path / "data")
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(CONFIG))
    result = CliRunner().invoke(
        app, ["train", str(config), "--data", str(data), "-o", str(tmp_path / "o"), "--distributed"]
    )
    assert result.exit_code == 1
    assert "torchrun --nproc-per-node N -m kgforge train" in str(result.exception)
