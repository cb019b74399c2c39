"""Negative-sampler ablation: uniform vs Bernoulli vs LM-cluster (LEMON) vs LM-nearest.

Two settings, the same fixed budget for every sampler, several seeds each:

- ``kgforge``: kgforge's trainer on the inductive split ``../shared/data/wn18rr-ind`` with the
  trainer's frozen-feature config (frozen MiniLM features + a linear projection, ComplEx with
  inverse relations; pinned below as ``KG_MODEL``/``KG_TRAINING``) switched to sampled negatives
  and a softmax cross-entropy over them; test ranked with kgforge's evaluator in BLP's "dynamic"
  protocol, on a fixed random subset of the test triples (``--kg-test-triples``);
- ``pykeen``: PyKEEN's sLCWA training loop on ``../shared/data/wn18rr`` (TransE and RotatE);
  uniform and Bernoulli are PyKEEN's own samplers, the LM ones kgforge's PyKEEN adapters; test
  ranked with kgforge's evaluator over PyKEEN's scores (transductive, filtered, realistic ties),
  on all test triples or a fixed random subset (``--pk-test-triples``).

Every run appends one JSON line to ``<out>/sampler_ablation.jsonl`` (runs already there are
skipped, so an interrupted ablation resumes); the summary table (mean and sample std over seeds
of filtered MRR and Hits@10) goes to ``<out>/sampler_ablation.md`` and the validation-MRR curves
to ``<out>/sampler_curves.png``::

    nice -n 5 .venv/bin/python bench/sampler_ablation.py --threads 1
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
SAMPLERS = ("uniform", "bernoulli", "lmcluster", "lmnearest")

# kgforge side: the trainer's frozen-feature config (pipelines/wn18rr_ind_frozen.yaml as of
# 14:06 UTC, pinned here so later edits of that file cannot change a running ablation),
# switched from one-vs-all to sampled negatives with a softmax cross-entropy over them
KG_MODEL: dict[str, Any] = {
    "encoder": "frozen",
    "encoder_kwargs": {"hidden": 512, "layers": 1, "dropout": 0.1},
    "scorer": "complex",
    "dim": 256,
    "inverse_relations": True,
}
KG_TRAINING: dict[str, Any] = {
    "objective": "negatives",
    "batch_size": 512,
    "lr": 0.003,
    "device": "cpu",
}


def lm_kwargs(sampler: str, args: argparse.Namespace) -> dict[str, Any]:
    """LM-sampler settings, shared by both trainers (the samplers' defaults otherwise)."""
    if sampler == "lmnearest":
        kwargs: dict[str, Any] = {"k": args.nearest_k, "ratio": args.nearest_ratio}
        if args.nearest_ratio_start is not None:
            kwargs["ratio_start"] = args.nearest_ratio_start
        return kwargs
    return {}


def subset(data: Any, valid: int | None = None, test: int | None = None) -> Any:
    """The data with fixed random subsets of its validation and/or test triples."""
    g = torch.Generator().manual_seed(0)
    parts = []
    for triples, size in ((data.valid, valid), (data.test, test)):
        if size is not None and size < len(triples):
            triples = triples[torch.randperm(len(triples), generator=g)[:size]]
        parts.append(triples)
    return data.with_splits(data.train, *parts)


# -- kgforge's trainer on wn18rr-ind ------------------------------------------------------------
def run_kgforge(sampler: str, seed: int, args: argparse.Namespace) -> dict[str, Any]:
    from kgforge.embed.config import load_config
    from kgforge.embed.data import KGData
    from kgforge.embed.evaluate import evaluate
    from kgforge.embed.trainer import Trainer

    data = KGData.load_dir(DATA / "wn18rr-ind")
    curve_data = subset(data, valid=args.curve_triples)
    test_data = subset(data, test=args.kg_test_triples)
    kwargs = {"filtered": True, **lm_kwargs(sampler, args)}
    config = load_config(
        {
            "seed": seed,
            "model": KG_MODEL,
            "training": {
                **KG_TRAINING,
                "loss": args.kg_loss,
                "negative_sampler": sampler,
                "negative_sampler_kwargs": kwargs,
                "num_negatives": args.kg_negatives,
                "epochs": args.kg_epochs,
            },
            "checkpoint": {"every_steps": None},
            "evaluation": {"every_epochs": None},
        }
    )
    curve: list[tuple[float, float]] = []
    every = max(1, args.kg_curve_every)

    def on_step(trainer: Trainer, step: int) -> None:
        trainer.sampler.step(step / trainer.total_steps)  # curricula (LM-nearest ratio_start)
        if step % every == 0 or step == trainer.total_steps:
            res = evaluate(trainer.model, curve_data, split="valid", protocol="dynamic")
            curve.append((step / trainer.steps_per_epoch, res["both"]["mrr"]))

    with tempfile.TemporaryDirectory() as out:
        started = time.perf_counter()
        trainer = Trainer(config, data, out, callbacks=[on_step])
        model = trainer.fit()
        train_seconds = time.perf_counter() - started
        test = evaluate(model, test_data, split="test", protocol="dynamic")
    return {"test": test["both"], "curve": curve, "train_seconds": train_seconds}


class RotatEScorer:
    """PyKEEN's RotatE scores (``-||h * r - t||``) for all candidates by matrix products.

    Equal to ``PyKEENModelAdapter(model)`` (checked to 1e-6) but ~50x faster on a CPU, where
    PyKEEN's broadcast over all entities makes ranking RotatE the bulk of a run.
    """

    def __init__(self, model: Any) -> None:
        with torch.no_grad():
            self.e = model.entity_representations[0](indices=None).detach()
            self.r = model.relation_representations[0](indices=None).detach()
        self.e_sq = (self.e.abs() ** 2).sum(-1)

    def _scores(self, q: torch.Tensor, candidates: torch.Tensor | None) -> torch.Tensor:
        e = self.e if candidates is None else self.e[candidates]
        e_sq = self.e_sq if candidates is None else self.e_sq[candidates]
        dot = q.real @ e.real.T + q.imag @ e.imag.T
        sq = (q.abs() ** 2).sum(-1, keepdim=True) + e_sq.unsqueeze(0) - 2 * dot
        return -sq.clamp_min(0).sqrt()

    def score_t(self, hr: torch.Tensor, candidates: torch.Tensor | None = None) -> torch.Tensor:
        return self._scores(self.e[hr[:, 0]] * self.r[hr[:, 1]], candidates)

    def score_h(self, rt: torch.Tensor, candidates: torch.Tensor | None = None) -> torch.Tensor:
        # |h * r - t| = |h - t * conj(r)| for unit-modulus r
        return self._scores(self.e[rt[:, 1]] * self.r[rt[:, 0]].conj(), candidates)


# -- PyKEEN on wn18rr ---------------------------------------------------------------------------
def run_pykeen(model_name: str, sampler: str, seed: int, args: argparse.Namespace) -> dict:
    from pykeen.models import RotatE, TransE
    from pykeen.sampling import BasicNegativeSampler, BernoulliNegativeSampler
    from pykeen.training import SLCWATrainingLoop
    from pykeen.training.callbacks import TrainingCallback

    from kgforge.embed.data import KGData
    from kgforge.embed.evaluate import evaluate
    from kgforge.embed.pykeen_interop import PyKEENModelAdapter
    from kgforge.embed.pykeen_samplers import (
        PyKEENLMClusterNegativeSampler,
        PyKEENLMNearestNegativeSampler,
    )

    data = KGData.load_dir(DATA / "wn18rr")
    curve_data = subset(data, valid=args.curve_triples)
    test_data = subset(data, test=args.pk_test_triples)
    train_tf = data.to_triples_factory("train")
    torch.manual_seed(seed)
    model_cls = {"TransE": TransE, "RotatE": RotatE}[model_name]
    model = model_cls(triples_factory=train_tf, embedding_dim=args.pk_dim, random_seed=seed)
    sampler_cls = {
        "uniform": BasicNegativeSampler,
        "bernoulli": BernoulliNegativeSampler,
        "lmcluster": PyKEENLMClusterNegativeSampler,
        "lmnearest": PyKEENLMNearestNegativeSampler,
    }[sampler]
    sampler_kwargs: dict[str, Any] = {"num_negs_per_pos": args.pk_negatives, "filtered": True}
    if sampler.startswith("lm"):
        sampler_kwargs |= {"entity_text": data.entity_text, "seed": seed}
        sampler_kwargs |= lm_kwargs(sampler, args)
        if "ratio_start" in sampler_kwargs:
            sampler_kwargs["curriculum_epochs"] = args.pk_epochs
    curve: list[tuple[float, float]] = []

    def scorer(model: Any) -> Any:
        return RotatEScorer(model) if model_name == "RotatE" else PyKEENModelAdapter(model)

    class Curve(TrainingCallback):
        def post_epoch(self, epoch: int, epoch_loss: float, **kwargs: Any) -> None:
            self.model.eval()
            res = evaluate(
                scorer(self.model),
                curve_data,
                split="valid",
                protocol="transductive",
            )
            self.model.train()
            curve.append((float(epoch), res["both"]["mrr"]))

    loop = SLCWATrainingLoop(
        model=model,
        triples_factory=train_tf,
        optimizer="Adam",
        optimizer_kwargs={"lr": args.pk_lr},
        negative_sampler=sampler_cls,
        negative_sampler_kwargs=sampler_kwargs,
    )
    started = time.perf_counter()
    loop.train(
        triples_factory=train_tf,
        num_epochs=args.pk_epochs,
        batch_size=args.pk_batch,
        use_tqdm=False,
        callbacks=[Curve()],
    )
    train_seconds = time.perf_counter() - started
    model.eval()
    test = evaluate(scorer(model), test_data, "test", protocol="transductive")
    return {"test": test["both"], "curve": curve, "train_seconds": train_seconds}


# -- reporting ----------------------------------------------------------------------------------
def summarize(records: list[dict[str, Any]]) -> str:
    groups: dict[tuple[str, str], dict[str, list[dict]]] = defaultdict(lambda: defaultdict(list))
    for rec in records:
        groups[(rec["setting"], rec["model"])][rec["sampler"]].append(rec)
    lines = [
        "| setting | model | sampler | seeds | MRR (mean ± std) | H@10 (mean ± std) "
        "| ΔMRR vs uniform | train s/run |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for (setting, model), by_sampler in groups.items():
        base = by_sampler.get("uniform")
        base_mrr = statistics.mean(r["test"]["mrr"] for r in base) if base else None
        for sampler in SAMPLERS:
            runs = by_sampler.get(sampler)
            if not runs:
                continue
            mrr = [r["test"]["mrr"] for r in runs]
            h10 = [r["test"]["hits@10"] for r in runs]
            delta = f"{statistics.mean(mrr) - base_mrr:+.4f}" if base_mrr is not None else "n/a"
            secs = statistics.mean(r["train_seconds"] for r in runs)
            lines.append(
                f"| {setting} | {model} | {sampler} | {len(runs)} | {_ms(mrr)} | {_ms(h10)} "
                f"| {delta} | {secs:.0f} |"
            )
    return "\n".join(lines)


def _ms(values: list[float]) -> str:
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.4f} ± {std:.4f}"


def plot(records: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = sorted({(r["setting"], r["model"]) for r in records})
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 3.8), squeeze=False)
    for ax, (setting, model) in zip(axes[0], panels, strict=True):
        for sampler in SAMPLERS:
            runs = [
                r
                for r in records
                if (r["setting"], r["model"], r["sampler"]) == (setting, model, sampler)
            ]
            if not runs:
                continue
            xs = [x for x, _ in runs[0]["curve"]]
            n = min(len(r["curve"]) for r in runs)
            ys = [[r["curve"][i][1] for r in runs] for i in range(n)]
            mean = [statistics.mean(y) for y in ys]
            lo = [min(y) for y in ys]
            hi = [max(y) for y in ys]
            ax.plot(xs[:n], mean, marker="o", markersize=3, label=sampler)
            ax.fill_between(xs[:n], lo, hi, alpha=0.15)
        data = "wn18rr-ind" if setting == "kgforge" else "wn18rr"
        ax.set_title(f"{setting} {model} on {data}")
        ax.set_xlabel("epoch")
        ax.set_ylabel("validation MRR (subset)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--settings", nargs="+", default=["kgforge", "pykeen"])
    parser.add_argument("--samplers", nargs="+", default=list(SAMPLERS), choices=SAMPLERS)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--pykeen-models", nargs="+", default=["TransE", "RotatE"])
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: all)")
    parser.add_argument("--curve-triples", type=int, default=300)
    parser.add_argument("--nearest-k", type=int, default=50)
    parser.add_argument("--nearest-ratio", type=float, default=0.5)
    parser.add_argument("--nearest-ratio-start", type=float, default=None)
    parser.add_argument("--kg-loss", default="ce")
    parser.add_argument("--kg-negatives", type=int, default=16)
    parser.add_argument("--kg-epochs", type=int, default=1)
    parser.add_argument("--kg-curve-every", type=int, default=68)
    parser.add_argument("--kg-test-triples", type=int, default=2500)
    parser.add_argument("--pk-dim", type=int, default=64)
    parser.add_argument("--pk-negatives", type=int, default=16)
    parser.add_argument("--pk-batch", type=int, default=1024)
    parser.add_argument("--pk-epochs", type=int, default=4)
    parser.add_argument("--pk-test-triples", type=int, default=None, help="default: all")
    parser.add_argument("--pk-lr", type=float, default=5e-3)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    log = args.out / "sampler_ablation.jsonl"
    records = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    done = {(r["setting"], r["model"], r["sampler"], r["seed"]) for r in records}
    settings = vars(args) | {"out": str(args.out)}

    jobs = []
    if "kgforge" in args.settings:
        jobs += [("kgforge", "ComplEx", s, seed) for s in args.samplers for seed in args.seeds]
    if "pykeen" in args.settings:
        jobs += [
            ("pykeen", m, s, seed)
            for m in args.pykeen_models
            for s in args.samplers
            for seed in args.seeds
        ]
    started = time.perf_counter()
    for setting, model, sampler, seed in jobs:
        if (setting, model, sampler, seed) in done:
            continue
        t0 = time.perf_counter()
        if setting == "kgforge":
            result = run_kgforge(sampler, seed, args)
        else:
            result = run_pykeen(model, sampler, seed, args)
        rec = {"setting": setting, "model": model, "sampler": sampler, "seed": seed, **result}
        rec["wall_seconds"] = time.perf_counter() - t0
        rec["args"] = {k: v for k, v in settings.items() if k not in ("out",)}
        records.append(rec)
        with log.open("a", encoding="utf-8") as f:
            f.write(json.dumps(rec) + "\n")
        t = rec["test"]
        print(
            f"{setting:8s} {model:7s} {sampler:10s} seed {seed}: MRR {t['mrr']:.4f} "
            f"H@10 {t['hits@10']:.4f} ({rec['wall_seconds']:.0f} s)",
            flush=True,
        )
    table = summarize(records)
    (args.out / "sampler_ablation.md").write_text(table + "\n", encoding="utf-8")
    plot(records, args.out / "sampler_curves.png")
    print(table)
    print(f"wall time of this invocation: {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
