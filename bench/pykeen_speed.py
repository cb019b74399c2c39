"""kgforge vs PyKEEN: training and evaluation time for the same work, in one run, on CPU.

Transductive TransE (L1) on ``../shared/data/wn18rr``: the same embedding size, batch size,
uniform negatives per positive, margin ranking loss, Adam learning rate and epochs, on the CPU.

- training: PyKEEN's ``pipeline()`` (sLCWA) against ``kgforge.train`` (lookup encoder, no
  validation during training); each side's own training-time measurement;
- evaluation: filtered test ranking of both trained models with both evaluators: PyKEEN's
  ``RankBasedEvaluator`` (filtered by train + valid, all entities, realistic ranks) and
  kgforge's ``evaluate`` (protocol "transductive", the same setting). The kgforge model is
  ranked by PyKEEN after copying its (normalised) vectors into a PyKEEN TransE, the PyKEEN model
  by kgforge through :class:`~kgforge.embed.pykeen_interop.PyKEENModelAdapter`.

Prints times, ratios (kgforge / PyKEEN) and metrics; writes ``bench/results/pykeen_speed.json``::

    nice -n 5 .venv/bin/python bench/pykeen_speed.py
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "wn18rr"
RESULTS = ROOT / "bench" / "results" / "pykeen_speed.json"
KEYS = ("mrr", "mr", "hits@1", "hits@3", "hits@10")
PYKEEN_KEYS = {
    "mrr": "inverse_harmonic_mean_rank",
    "mr": "arithmetic_mean_rank",
    "hits@1": "hits_at_1",
    "hits@3": "hits_at_3",
    "hits@10": "hits_at_10",
}


def pykeen_metrics(result: Any) -> dict[str, float]:
    return {
        k: float(result.get_metric(f"both.realistic.{name}")) for k, name in PYKEEN_KEYS.items()
    }


def timed(fn, *args, **kwargs) -> tuple[Any, float]:
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - start


def main() -> None:
    from pykeen.evaluation import RankBasedEvaluator
    from pykeen.models import TransE
    from pykeen.pipeline import pipeline

    import kgforge
    from kgforge.embed.data import KGData
    from kgforge.embed.evaluate import evaluate
    from kgforge.embed.pykeen_interop import PyKEENModelAdapter

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--dim", type=int, default=100)
    parser.add_argument("--batch", type=int, default=512)
    parser.add_argument("--negatives", type=int, default=4)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--lr", type=float, default=0.01)
    parser.add_argument("--eval-batch", type=int, default=256)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()

    data = KGData.load_dir(args.data)
    train_tf, valid_tf, test_tf = (data.to_triples_factory(s) for s in ("train", "valid", "test"))
    filters = [data.train, data.valid]
    print(f"{args.data.name}: {data}; torch threads {torch.get_num_threads()}", flush=True)

    # -- PyKEEN: pipeline() trains, then evaluates with RankBasedEvaluator -----------------
    pk = pipeline(
        training=train_tf,
        validation=valid_tf,
        testing=test_tf,
        model="TransE",
        model_kwargs={"embedding_dim": args.dim, "scoring_fct_norm": 1},
        loss="MarginRankingLoss",
        loss_kwargs={"margin": 1.0},
        optimizer="Adam",
        optimizer_kwargs={"lr": args.lr},
        training_loop="sLCWA",
        negative_sampler="basic",
        negative_sampler_kwargs={"num_negs_per_pos": args.negatives},
        training_kwargs={"num_epochs": args.epochs, "batch_size": args.batch},
        evaluator=RankBasedEvaluator,
        evaluator_kwargs={"filtered": True},
        evaluation_kwargs={"batch_size": args.eval_batch},
        random_seed=args.seed,
        device="cpu",
    )
    pk_model = pk.model
    print(
        f"PyKEEN: train {pk.train_seconds:.1f} s, evaluate {pk.evaluate_seconds:.1f} s", flush=True
    )

    # -- kgforge: train() with the same settings ----------------------------------------------
    with tempfile.TemporaryDirectory() as out:
        config = {
            "data": str(args.data),
            "output": out,
            "seed": args.seed,
            "model": {
                "encoder": "lookup",
                "scorer": "transe",
                "scorer_kwargs": {"p": 1},
                "dim": args.dim,
                "normalize": True,  # PyKEEN's TransE keeps entity vectors on the unit sphere
            },
            "training": {
                "objective": "negatives",
                "loss": "margin",
                "loss_kwargs": {"margin": 1.0},
                "negative_sampler": "uniform",
                "num_negatives": args.negatives,
                "batch_size": args.batch,
                "epochs": args.epochs,
                "lr": args.lr,
                "device": "cpu",
                "precision": "fp32",
            },
            "checkpoint": {"every_steps": None},
            "evaluation": {"protocol": "transductive", "every_epochs": None, "test": False},
        }
        kg = kgforge.train(config)
    kg_model = kg.model
    print(f"kgforge: train {kg.train_seconds:.1f} s", flush=True)

    # -- evaluation: both models, both evaluators ------------------------------------------
    kg_on_pk, kg_eval_pk_model = timed(
        evaluate,
        PyKEENModelAdapter(pk_model),
        data,
        protocol="transductive",
        batch_size=args.eval_batch,
        device="cpu",
    )
    print(f"kgforge evaluator, PyKEEN model: {kg_eval_pk_model:.1f} s", flush=True)
    kg_on_kg, kg_eval_kg_model = timed(
        evaluate,
        kg_model,
        data,
        protocol="transductive",
        batch_size=args.eval_batch,
        device="cpu",
    )
    print(f"kgforge evaluator, kgforge model: {kg_eval_kg_model:.1f} s", flush=True)
    # the kgforge model as a PyKEEN TransE: same (normalised) entity and relation vectors
    as_pykeen = TransE(triples_factory=train_tf, embedding_dim=args.dim, scoring_fct_norm=1)
    with torch.no_grad():
        kg_model.eval()
        as_pykeen.entity_representations[0]._embeddings.weight.copy_(kg_model.all_entity_repr())
        as_pykeen.relation_representations[0]._embeddings.weight.copy_(
            kg_model.relation_embedding.weight
        )
    pk_on_kg, pk_eval_kg_model = timed(
        RankBasedEvaluator(filtered=True).evaluate,
        as_pykeen,
        data.test,
        additional_filter_triples=filters,
        batch_size=args.eval_batch,
        use_tqdm=False,
    )
    print(f"PyKEEN evaluator, kgforge model: {pk_eval_kg_model:.1f} s", flush=True)

    metrics = {
        "pykeen_model": {
            "pykeen_evaluator": pykeen_metrics(pk.metric_results),
            "kgforge_evaluator": {k: kg_on_pk["both"][k] for k in KEYS},
        },
        "kgforge_model": {
            "pykeen_evaluator": pykeen_metrics(pk_on_kg),
            "kgforge_evaluator": {k: kg_on_kg["both"][k] for k in KEYS},
        },
    }
    seconds = {
        "train": {"pykeen": pk.train_seconds, "kgforge": kg.train_seconds},
        "evaluate": {
            "pykeen_evaluator_pykeen_model": pk.evaluate_seconds,
            "pykeen_evaluator_kgforge_model": pk_eval_kg_model,
            "kgforge_evaluator_pykeen_model": kg_eval_pk_model,
            "kgforge_evaluator_kgforge_model": kg_eval_kg_model,
        },
    }
    ratios = {
        "train_kgforge_over_pykeen": kg.train_seconds / pk.train_seconds,
        # each side's evaluator on its own model (the user-facing comparison)
        "evaluate_kgforge_over_pykeen": kg_eval_kg_model / pk.evaluate_seconds,
        # both evaluators on the same PyKEEN-trained model
        "evaluate_same_model_kgforge_over_pykeen": kg_eval_pk_model / pk.evaluate_seconds,
    }
    report = {
        "data": str(args.data.relative_to(ROOT.parent))
        if args.data.is_relative_to(ROOT.parent)
        else str(args.data),
        "split": "test",
        "setting": "transductive TransE (L1), filtered ranking of heads and tails, realistic ranks",
        "settings": {
            "dim": args.dim,
            "batch_size": args.batch,
            "negatives_per_positive": args.negatives,
            "epochs": args.epochs,
            "lr": args.lr,
            "loss": "margin ranking (margin 1)",
            "optimizer": "Adam",
            "eval_batch_size": args.eval_batch,
            "seed": args.seed,
        },
        "hardware": {
            "machine": platform.machine(),
            "cpus": torch.get_num_threads(),
            "torch": torch.__version__,
            "device": "cpu",
        },
        "seconds": seconds,
        "ratios": ratios,
        "metrics_both": metrics,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(json.dumps({"seconds": seconds, "ratios": ratios, "metrics_both": metrics}, indent=2))
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
