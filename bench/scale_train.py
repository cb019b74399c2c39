"""Training and evaluation cost of the frozen-feature encoder as the entity count grows.

For each size (10k / 100k / 1M entities by default) a fresh process builds a synthetic graph
(``--triples-per-entity`` random train triples per entity over 10 relations, 200 test triples),
puts random 384-d vectors where the cached MiniLM features would be (the encoder then computes
exactly what it computes on real features; encoding the texts, done once and cached, is not
timed), and trains the config of ``pipelines/scale_frozen.yaml`` for ``--steps`` optimiser
steps: the time per epoch is the measured seconds per step times the steps of one epoch. It
then evaluates the test triples against all entities (transductive, filtered), and reports the
process's peak resident memory.

    python bench/scale_train.py [--sizes 10000 100000 1000000] [--steps 30]

Writes bench/results/scale_train.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "pipelines" / "scale_frozen.yaml"


def one_size(entities: int, per_entity: int, steps: int) -> dict:
    """Runs in its own process (peak memory is per process)."""
    import numpy as np
    import torch

    import kgforge.embed.encoders as encoders
    from kgforge.embed.config import load_config
    from kgforge.embed.data import KGData
    from kgforge.embed.evaluate import evaluate
    from kgforge.embed.trainer import Trainer
    from kgforge.progress import set_progress

    set_progress(False)
    torch.set_num_threads(1)

    def random_features(texts, model=None, cache_dir=None):  # stands in for the MiniLM cache
        rng = np.random.default_rng(0)
        x = rng.standard_normal((len(texts), 384), dtype=np.float32)
        return x / np.linalg.norm(x, axis=1, keepdims=True)

    encoders.encode_texts = random_features
    g = torch.Generator().manual_seed(0)
    n_train = entities * per_entity
    heads = torch.cat([torch.arange(entities).repeat(per_entity)])
    tails = torch.randint(0, entities, (n_train,), generator=g)
    rels = torch.randint(0, 10, (n_train,), generator=g)
    train = torch.stack([heads, rels, tails], 1)
    pick = torch.randperm(n_train, generator=g)[:200]
    test, keep = train[pick], torch.ones(n_train, dtype=torch.bool)
    keep[pick] = False
    data = KGData(
        entities=[f"e{i}" for i in range(entities)],
        relations=[f"r{i}" for i in range(10)],
        entity_text=[f"entity {i}" for i in range(entities)],
        relation_text=[f"relation {i}" for i in range(10)],
        train=train[keep],
        test=test,
    )
    cfg = load_config(CONFIG, {"training": {"max_steps": steps, "epochs": 1}})
    build = time.perf_counter()
    trainer = Trainer(cfg, data, Path(os.environ.get("TMPDIR", "/tmp")) / f"scale-{entities}")
    build = time.perf_counter() - build
    trainer.config.checkpoint.every_steps = None
    trainer.config.evaluation.every_epochs = None
    start = time.perf_counter()
    trainer.fit()
    seconds = time.perf_counter() - start
    per_step = seconds / trainer.step
    steps_per_epoch = trainer.steps_per_epoch
    start = time.perf_counter()
    result = evaluate(trainer.model, data, split="test", protocol="transductive", batch_size=100)
    eval_seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB -> MiB on Linux
    return {
        "entities": entities,
        "train_triples": len(data.train),
        "examples_per_epoch": len(trainer.examples),
        "steps_timed": trainer.step,
        "seconds_per_step": round(per_step, 4),
        "steps_per_epoch": steps_per_epoch,
        "epoch_seconds_estimated": round(per_step * steps_per_epoch, 1),
        "setup_seconds": round(build, 1),
        "eval_triples": len(data.test),
        "eval_candidates": result["num_candidates"],
        "eval_seconds": round(eval_seconds, 2),
        "peak_rss_mib": round(peak),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--triples-per-entity", type=int, default=2)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)  # the child process
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "scale_train.json")
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one_size(args.one, args.triples_per_entity, args.steps)))
        return
    rows = []
    for size in args.sizes:
        command = [sys.executable, __file__, "--one", str(size), "--steps", str(args.steps)]
        command += ["--triples-per-entity", str(args.triples_per_entity)]
        started = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, check=True)
        row = json.loads(done.stdout.strip().splitlines()[-1])
        row["process_seconds"] = round(time.perf_counter() - started, 1)
        rows.append(row)
        print(json.dumps(row), flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    record = {
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "config": str(CONFIG.relative_to(ROOT)),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, one torch thread",
        "load_average_at_end": os.getloadavg(),
        "rows": rows,
    }
    args.out.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
