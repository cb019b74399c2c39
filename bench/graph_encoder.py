"""The graph encoder on WN18RR-ind / FB15k-237-ind: both protocols against the published rows,
and inference cost per query on one CPU thread.

Reads a finished ``kgforge train`` run of ``pipelines/*_graph.yaml`` and ranks the test split
(or ``--split valid``; or a seeded ``--triples`` subsample) once per protocol, text only and
with context (filtered, dynamic: every entity a candidate), with one torch thread from a cold
entity cache, so the time per query includes encoding all entities and re-encoding both ends of
each scored triple without it. Writes ``bench/results/<run name>.json``
(``<run name>_valid.json`` for the validation split, what config choices are made on)::

    python bench/graph_encoder.py --from-run runs/wn18rr_ind_graph --data ../shared/data/wn18rr-ind
    python bench/graph_encoder.py --from-run runs/fb15k237_ind_graph \
        --data ../shared/data/fb15k237-ind --split valid --triples 3000
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
# filtered test MRR / H@1 / H@3 / H@10 (dynamic protocol) as published; FB15k-237-ind rows are
# on BLP's split, not the development split in ../shared/data (see its README)
PUBLISHED = {
    "wn18rr-ind": {
        "BLP-TransE": {"mrr": 0.285, "hits@1": 0.135, "hits@3": 0.361, "hits@10": 0.580},
        "FnF-T (text only)": {"mrr": 0.373},
        "StATIK (context)": {"mrr": 0.516, "hits@1": 0.425, "hits@3": 0.558, "hits@10": 0.690},
        "FnF-TG (context)": {"mrr": 0.732, "hits@10": 0.875},
    },
    "fb15k237-ind": {
        "BLP-TransE": {"mrr": 0.195, "hits@1": 0.113, "hits@10": 0.363},
        "FnF-T (text only)": {"mrr": 0.266},
        "StATIK (context)": {"mrr": 0.224, "hits@1": 0.143, "hits@10": 0.381},
        "FnF-TG (context)": {"mrr": 0.316},
    },
}
KEYS = ("mrr", "hits@1", "hits@3", "hits@10", "mr")


def seeded_sample(data, split: str, triples: int | None):
    """A seeded subsample of ``triples`` of ``split``'s triples (None: the whole split is
    ranked). Context, candidates and filter keep the whole split either way."""
    import torch

    ranked = data.triples(split)
    if triples is None or triples >= len(ranked):
        return None
    g = torch.Generator().manual_seed(0)
    return ranked[torch.randperm(len(ranked), generator=g)[:triples]]


def rank_split(run_dir: Path, data, triples: int | None, split: str = "test") -> dict[str, dict]:
    """Metrics of ``split`` of ``data`` (a ``KGData``) and milliseconds per ranked query (one
    head or one tail ranking), per context, on one thread, from a cold entity cache (all
    entities encoded anew, both ends of each scored triple re-encoded without it).
    ``triples``: a seeded subsample of the split (None: all of it)."""
    from kgforge.embed.evaluate import evaluate
    from kgforge.embed.model import LinkPredictor

    sample = seeded_sample(data, split, triples)
    out = {}
    for context in ("none", "split"):
        model = LinkPredictor.load(run_dir, device="cpu")
        start = time.perf_counter()
        result = evaluate(model, data, split=split, context=context, triples=sample)
        seconds = time.perf_counter() - start
        out[context] = {
            **{k: result["both"][k] for k in KEYS},
            "head_mrr": result["head"]["mrr"],
            "tail_mrr": result["tail"]["mrr"],
            "num_triples": result["num_triples"],
            "eval_seconds": round(seconds, 1),
            "ms_per_query": 1000 * seconds / (2 * result["num_triples"]),
        }
    return out


def by_new_end(run_dir: Path, data, triples: int | None, split: str = "test") -> dict[str, dict]:
    """Text-only MRR of the ranked triples (the same ones as :func:`rank_split`'s) grouped by
    which end is new (unseen in training): ranking a new answer from a known query and a known
    answer from a new one are different tasks, and the text-only protocol mixes them about
    half and half."""
    import torch

    from kgforge.embed.evaluate import evaluate
    from kgforge.embed.model import LinkPredictor

    ranked = seeded_sample(data, split, triples)
    ranked = data.triples(split) if ranked is None else ranked
    known = torch.zeros(data.num_entities, dtype=torch.bool)
    known[data.train[:, [0, 2]].reshape(-1)] = True
    head_known, tail_known = known[ranked[:, 0]], known[ranked[:, 2]]
    model = LinkPredictor.load(run_dir, device="cpu")
    out = {}
    for name, mask in (
        ("new head, known tail", ~head_known & tail_known),
        ("known head, new tail", head_known & ~tail_known),
        ("both new", ~head_known & ~tail_known),
    ):
        if mask.any():
            result = evaluate(model, data, split=split, context="none", triples=ranked[mask])
            out[name] = {
                "num_triples": int(mask.sum()),
                "ranking_heads_mrr": result["head"]["mrr"],
                "ranking_tails_mrr": result["tail"]["mrr"],
            }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--from-run", type=Path, required=True, help="a finished run folder")
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--split", choices=("test", "valid"), default="test")
    parser.add_argument(
        "--triples",
        "--test-triples",
        type=int,
        default=None,
        help="a seeded subsample of the split (default: all)",
    )
    parser.add_argument(
        "--by-new-end",
        action="store_true",
        help="also text-only MRR by which end of the triple is new",
    )
    args = parser.parse_args()

    import torch

    from kgforge.embed.data import KGData

    torch.set_num_threads(1)
    results = json.loads((args.from_run / "results.json").read_text(encoding="utf-8"))
    data = KGData.load_dir(args.data)
    load_before = os.getloadavg()
    test = rank_split(args.from_run, data, args.triples, args.split)
    published = PUBLISHED.get(args.data.name, {})
    record = {
        "command": " ".join(["python", *sys.argv]),
        "run": str(args.from_run),
        "data": str(args.data),
        "config": (args.from_run / "config.yaml").read_text(encoding="utf-8"),
        "split": args.split,
        args.split: test,
        **(
            {"by_new_end": by_new_end(args.from_run, data, args.triples, args.split)}
            if args.by_new_end
            else {}
        ),
        "valid_during_training": results.get("best"),
        "train_seconds": results["train_seconds"],
        "wall_seconds": results["wall_seconds"],
        "device": results["device"],
        "hardware": {
            "machine": platform.machine(),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
        },
        "load_average_1min": {"before": load_before[0], "after": os.getloadavg()[0]},
        "published": published,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    suffix = "" if args.split == "test" else f"_{args.split}"
    out = RESULTS / f"{args.from_run.name}{suffix}.json"
    out.write_text(json.dumps(record, indent=2), encoding="utf-8")
    print(f"{'':22s}" + "".join(f"{k:>9s}" for k in KEYS[:4]) + "  ms/query")
    for context, label in (("none", "kgforge text only"), ("split", "kgforge with context")):
        row = test[context]
        cells = "".join(f"{row[k]:9.3f}" for k in KEYS[:4])
        print(f"{label:22s}" + cells + f"{row['ms_per_query']:9.1f}")
    for label, ref in published.items():
        cells = "".join(f"{ref[k]:9.3f}" if k in ref else f"{'-':>9s}" for k in KEYS[:4])
        print(f"{label:22s}" + cells)
    for name, row in record.get("by_new_end", {}).items():
        print(
            f"text only, {name} ({row['num_triples']}): ranking heads "
            f"{row['ranking_heads_mrr']:.3f}, ranking tails {row['ranking_tails_mrr']:.3f}"
        )
    ratio = test["split"]["ms_per_query"] / test["none"]["ms_per_query"]
    print(f"with context / text only, time per query: {ratio:.2f}")
    print(f"wall {results['wall_seconds']:.0f} s, training {results['train_seconds']:.0f} s")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
