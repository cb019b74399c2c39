"""How much of a training step negative sampling takes, per sampler, on this machine's CPU.

For each sampler: the time of ``sampler.sample(batch)`` (filtered, as in training) against the
time of one whole training step of kgforge's trainer (its own sampling, frozen-feature encoder,
ComplEx scorer, loss, backward, optimizer) on ``../shared/data/wn18rr-ind``, with the model of
the sampler ablation (``bench/sampler_ablation.py``: the trainer's frozen-feature config with
sampled negatives); prints sampling as a percentage of the step. Median over ``--steps`` steps after warm-up::

    nice -n 5 .venv/bin/python bench/sampler_speed.py --threads 1
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "wn18rr-ind"
SAMPLERS = ("uniform", "bernoulli", "inbatch", "lmcluster", "lmnearest")


def main() -> None:
    from sampler_ablation import KG_MODEL, KG_TRAINING  # the ablation's model and optimiser

    from kgforge.embed.config import load_config
    from kgforge.embed.data import KGData
    from kgforge.embed.trainer import Trainer

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--samplers", nargs="+", default=list(SAMPLERS), choices=SAMPLERS)
    parser.add_argument("--batch", type=int, default=512)
    parser.add_argument("--negatives", type=int, default=32)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: all)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    data = KGData.load_dir(DATA)
    print(
        f"wn18rr-ind, batch {args.batch} x {args.negatives} negatives, filtered, "
        f"{torch.get_num_threads()} torch thread(s)"
    )
    print("step = one whole training step, its own sampling included")
    print(f"{'sampler':10s} {'sample ms':>10s} {'step ms':>9s} {'sampling/step':>14s}")
    for name in args.samplers:
        config = load_config(
            {
                "seed": 0,
                "model": KG_MODEL,
                "training": {
                    **KG_TRAINING,
                    "loss": "ce",
                    "negative_sampler": name,
                    "negative_sampler_kwargs": {"filtered": True},
                    "num_negatives": args.negatives,
                    "batch_size": args.batch,
                },
                "checkpoint": {"every_steps": None},
                "evaluation": {"every_epochs": None},
            }
        )
        with tempfile.TemporaryDirectory() as out:
            trainer = Trainer(config, data, out)
            sampler = trainer.sampler
            g = torch.Generator().manual_seed(0)
            batches = [
                trainer.examples[torch.randperm(len(trainer.examples), generator=g)[: args.batch]]
                for _ in range(args.steps + 3)
            ]
            # the trainer hands its sampler local ids (training entities only)
            local = [b if trainer._identity else trainer._localize(b) for b in batches]
            sample_ms, step_ms = [], []
            for i, (batch, loc) in enumerate(zip(batches, local, strict=True)):
                t0 = time.perf_counter()
                sampler.sample(loc)
                t1 = time.perf_counter()
                trainer.optimizer.zero_grad(set_to_none=True)
                trainer.compute_loss(batch).backward()
                trainer.optimizer.step()
                t2 = time.perf_counter()
                if i >= 3:  # warm-up
                    sample_ms.append((t1 - t0) * 1000)
                    step_ms.append((t2 - t1) * 1000)
        s, st = statistics.median(sample_ms), statistics.median(step_ms)
        print(f"{name:10s} {s:10.2f} {st:9.1f} {100 * s / st:13.1f}%", flush=True)


if __name__ == "__main__":
    main()
