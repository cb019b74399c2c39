"""WN18RR-ind (BLP's inductive split): kgforge's shipped configs against the published numbers.

Trains a config (or reads a finished run with ``--from-run``) and compares its test metrics
(filtered, dynamic protocol: every test triple ranked against all 40,943 entities) with BLP's and
StATIK's published ones. Writes ``bench/results/<config or run name>.json``::

    python bench/wn18rr_ind.py                                   # the frozen-feature CPU config
    python bench/wn18rr_ind.py --config pipelines/wn18rr_ind_finetune.yaml   # BLP, needs a GPU
    python bench/wn18rr_ind.py --from-run runs/wn18rr_ind_frozen            # record a finished run
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
# Daza et al. (WWW 2021), Table 3, and Markowitz et al. (StATIK, NAACL 2022): filtered test
# MRR / H@1 / H@3 / H@10, dynamic setting
PUBLISHED = {
    "BLP-TransE": {"mrr": 0.285, "hits@1": 0.135, "hits@3": 0.361, "hits@10": 0.580},
    "BLP-DistMult": {"mrr": 0.248, "hits@1": 0.135, "hits@3": 0.288, "hits@10": 0.481},
    "BLP-ComplEx": {"mrr": 0.261, "hits@1": 0.156, "hits@3": 0.297, "hits@10": 0.472},
    "StATIK": {"mrr": 0.516, "hits@1": 0.425, "hits@3": 0.558, "hits@10": 0.690},
}
KEYS = ("mrr", "hits@1", "hits@3", "hits@10", "mr")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--config", type=Path, default=ROOT / "pipelines" / "wn18rr_ind_frozen.yaml"
    )
    parser.add_argument("--data", type=Path, default=None)
    parser.add_argument("--output", type=Path, default=None)
    parser.add_argument("--set", dest="set_values", action="append", default=[])
    parser.add_argument("--from-run", type=Path, default=None, help="a finished run folder")
    args = parser.parse_args()

    if args.from_run is not None:
        run_dir = args.from_run
        results = json.loads((run_dir / "results.json").read_text(encoding="utf-8"))
        wall = results["wall_seconds"]
        name = run_dir.name
    else:
        import kgforge

        start = time.perf_counter()
        result = kgforge.train(
            args.config, data=args.data, output=args.output, set_values=args.set_values
        )
        wall = time.perf_counter() - start
        run_dir = result.output
        results = json.loads((run_dir / "results.json").read_text(encoding="utf-8"))
        name = args.config.stem
    test = results["test"]["both"]
    record = {
        "run": str(run_dir),
        "config": (run_dir / "config.yaml").read_text(encoding="utf-8"),
        "test": {k: test[k] for k in KEYS},
        "valid": {k: results["valid"]["both"][k] for k in KEYS} if results.get("valid") else None,
        "train_seconds": results["train_seconds"],
        "wall_seconds": wall,
        "device": results["device"],
        "hardware": {
            "machine": platform.machine(),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
        },
        "published": PUBLISHED,
        "mrr_over_blp_transe": test["mrr"] / PUBLISHED["BLP-TransE"]["mrr"],
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"{name}.json"
    out.write_text(json.dumps(record, indent=2), encoding="utf-8")
    print(f"{'':14s}" + "".join(f"{k:>9s}" for k in KEYS[:4]))
    print(f"{'kgforge':14s}" + "".join(f"{test[k]:9.3f}" for k in KEYS[:4]))
    for label, ref in PUBLISHED.items():
        print(f"{label:14s}" + "".join(f"{ref[k]:9.3f}" for k in KEYS[:4]))
    print(f"wall {wall:.0f} s, training {results['train_seconds']:.0f} s on {results['device']}")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
