"""The graph encoder on WN18RR-ind / FB15k-237-ind: both protocols against the published rows,
and inference cost per query on one CPU thread.

Reads a finished ``kgforge train`` run of ``pipelines/*_graph.yaml`` and ranks the test split
(or a seeded ``--test-triples`` subsample) once per protocol, text only and with context
(filtered, dynamic: every entity a candidate), with one torch thread from a cold entity cache,
so the time per query includes encoding all entities and re-encoding both ends of each scored
triple without it. Writes ``bench/results/<run name>.json``::

    python bench/graph_encoder.py --from-run runs/wn18rr_ind_graph --data ../shared/data/wn18rr-ind
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


def rank_test(run_dir: Path, data_dir: Path, triples: int | None) -> dict[str, dict]:
    """Test metrics and milliseconds per ranked query (one head or one tail ranking), per
    context, on one thread, from a cold entity cache (all entities encoded anew, both ends of
    each scored triple re-encoded without it). ``triples``: a seeded subsample of the test
    split (None: all of it)."""
    import torch

    from kgforge.embed.data import KGData
    from kgforge.embed.evaluate import evaluate
    from kgforge.embed.model import LinkPredictor

    torch.set_num_threads(1)
    data = KGData.load_dir(data_dir)
    sample = None
    if triples is not None and triples < len(data.test):
        g = torch.Generator().manual_seed(0)
        pick = torch.randperm(len(data.test), generator=g)[:triples]
        sample = data.test[pick]  # ranked; context, candidates and filter keep the whole split
    out = {}
    for context in ("none", "split"):
        model = LinkPredictor.load(run_dir, device="cpu")
        start = time.perf_counter()
        result = evaluate(model, data, split="test", context=context, triples=sample)
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--from-run", type=Path, required=True, help="a finished run folder")
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument(
        "--test-triples", type=int, default=None, help="a seeded test subsample (default: all)"
    )
    args = parser.parse_args()

    results = json.loads((args.from_run / "results.json").read_text(encoding="utf-8"))
    load_before = os.getloadavg()
    test = rank_test(args.from_run, args.data, args.test_triples)
    published = PUBLISHED.get(args.data.name, {})
    record = {
        "command": " ".join(["python", *sys.argv]),
        "run": str(args.from_run),
        "data": str(args.data),
        "config": (args.from_run / "config.yaml").read_text(encoding="utf-8"),
        "test": test,
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
    out = RESULTS / f"{args.from_run.name}.json"
    out.write_text(json.dumps(record, indent=2), encoding="utf-8")
    print(f"{'':22s}" + "".join(f"{k:>9s}" for k in KEYS[:4]) + "  ms/query")
    for context, label in (("none", "kgforge text only"), ("split", "kgforge with context")):
        row = test[context]
        cells = "".join(f"{row[k]:9.3f}" for k in KEYS[:4])
        print(f"{label:22s}" + cells + f"{row['ms_per_query']:9.1f}")
    for label, ref in published.items():
        cells = "".join(f"{ref[k]:9.3f}" if k in ref else f"{'-':>9s}" for k in KEYS[:4])
        print(f"{label:22s}" + cells)
    ratio = test["split"]["ms_per_query"] / test["none"]["ms_per_query"]
    print(f"with context / text only, time per query: {ratio:.2f}")
    print(f"wall {results['wall_seconds']:.0f} s, training {results['train_seconds']:.0f} s")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
