"""Query latency of ``LinkPredictor.predict_tails`` / ``predict_heads``: cached entity vectors
against re-encoding every entity per query (the path before the cache), in the same run.

The model has the shape of ``pipelines/wn18rr_ind_frozen.yaml`` over WN18RR-ind's 40,943
entities (frozen MiniLM features from the feature cache, the 2-layer MLP, ComplEx with inverse
relations, the text prior). Its weights are random unless ``--model`` names a trained run: the
time of a query does not depend on the values of the weights, only on their shapes, so both
measure the same path. "before" calls ``invalidate_cache()`` before every query, which makes
each query encode all entities once (the old code did it once per call for a query by id, twice
for a query by text: this baseline is the cheaper of the two). "after" is the cached path: the
first query builds the cache (timed separately), later ones cost one scoring pass. "exact
cached" scores every entity in float32 on the cached vectors; "after" is the default path on a
CPU, a half-precision pass choosing a shortlist that is then scored exactly
(:mod:`kgforge.embed.shortlist`): the bench reports how often its top 10 scores equal the exact
path's. One thread.

    python bench/query_latency.py --out bench/results/query_latency.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import time
from pathlib import Path


def timed(fn, calls: list) -> list[float]:
    out = []
    for args in calls:
        start = time.perf_counter()
        fn(*args)
        out.append(1000 * (time.perf_counter() - start))
    return out


def summary(ms: list[float]) -> dict[str, float]:
    ms = sorted(ms)
    return {
        "n": len(ms),
        "median_ms": round(statistics.median(ms), 3),
        "p95_ms": round(ms[min(len(ms) - 1, int(0.95 * len(ms)))], 3),
        "mean_ms": round(statistics.fmean(ms), 3),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--config", default="pipelines/wn18rr_ind_frozen.yaml")
    ap.add_argument("--data", default="../shared/data/wn18rr-ind")
    ap.add_argument("--model", default=None, help="a trained run or model (default: random)")
    ap.add_argument("--queries", type=int, default=200, help="cached queries per kind")
    ap.add_argument("--before", type=int, default=5, help="uncached queries per kind (slow)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default=None, help="write the results here (JSON)")
    args = ap.parse_args()

    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    import torch

    torch.set_num_threads(args.threads)
    from kgforge.embed.config import load_config
    from kgforge.embed.data import KGData
    from kgforge.embed.model import LinkPredictor
    from kgforge.progress import set_progress

    set_progress(False)
    started = time.perf_counter()
    if args.model is not None:
        model = LinkPredictor.load(args.model)
        weights = f"trained ({args.model})"
    else:
        torch.manual_seed(0)
        model = LinkPredictor.from_data(
            KGData.load_dir(args.data), **load_config(args.config).model.model_dump()
        )
        weights = f"random, the shapes of {args.config}"
    model.eval()
    load_s = time.perf_counter() - started

    rng = random.Random(0)
    n = max(args.queries, args.before)
    by_id = [(rng.randrange(model.num_entities), rng.choice(model.relations)) for _ in range(n)]
    texts = [(f"{model.entity_text[e]} (a new entry)", r) for e, r in by_id]
    kinds = {
        "tails_by_id": (lambda e, r: model.predict_tails(e, r, k=10), by_id),
        "heads_by_id": (lambda e, r: model.predict_heads(r, e, k=10), by_id),
        "tails_by_text": (lambda t, r: model.predict_tails(t, r, k=10), texts),
    }

    def uncached(fn):
        def call(*a):
            model.invalidate_cache()
            return fn(*a)

        return call

    start = time.perf_counter()
    model.all_entity_repr()
    cache_build_ms = 1000 * (time.perf_counter() - start)
    shortlist_at = model.shortlist_min_entities
    results = {}
    for name, (fn, calls) in kinds.items():
        fn(*calls[0])  # warm-up (and, for text, the sentence model's first load)
        model.shortlist_min_entities = 10**12  # every entity scored exactly in float32
        before = summary(timed(uncached(fn), calls[: args.before]))
        exact = summary(timed(fn, calls[: args.queries]))
        exact_top = [[round(p.score, 4) for p in fn(*c)] for c in calls[: args.queries]]
        model.shortlist_min_entities = shortlist_at  # the default: fp16 shortlist, exact top k
        fn(*calls[0])  # builds the half-precision keys (timed below as their own row)
        after = summary(timed(fn, calls[: args.queries]))
        fast_top = [[round(p.score, 4) for p in fn(*c)] for c in calls[: args.queries]]
        same = sum(a == b for a, b in zip(exact_top, fast_top, strict=True)) / len(exact_top)
        ratio = before["median_ms"] / after["median_ms"]
        results[name] = {
            "before": before,
            "exact_cached": exact,
            "after": after,
            "speedup": round(ratio, 1),
            "speedup_over_exact_cached": round(exact["median_ms"] / after["median_ms"], 1),
            "top10_identical_to_exact": round(same, 4),
            "shortlist_path": bool(model._half_keys),
        }
        print(
            f"{name:14s} before {before['median_ms']:8.1f} ms  exact cached "
            f"{exact['median_ms']:6.2f} ms  after {after['median_ms']:6.2f} ms"
            f" (p95 {after['p95_ms']:.2f})  speedup {ratio:6.1f}x; top 10 = exact in "
            f"{100 * same:.1f}% of queries"
        )
    # the floor of one scoring pass: the bare matrix-vector products over all entities that a
    # query cannot avoid (entity vectors; with the text prior also its sentence features)
    reps = model.all_entity_repr()
    mats = [reps] + ([model.prior.features] if model.prior is not None else [])
    mats = [m for m in mats if m is not None]
    query = [m[:1].clone() for m in mats]
    floor = summary(
        timed(lambda: [q @ m.T for q, m in zip(query, mats, strict=True)], [()] * args.queries)
    )
    results["floor_matvec"] = floor
    print(
        f"floor (bare mat-vec products, {'+'.join(str(m.shape[1]) for m in mats)}-d): "
        f"{floor['median_ms']:.2f} ms"
    )
    print(f"cache build (all {model.num_entities:,} entities): {cache_build_ms:.0f} ms")
    out = {
        "what": "LinkPredictor.predict_tails/predict_heads latency, k=10, one query per call",
        "command": "python bench/query_latency.py"
        + (f" --model {args.model}" if args.model else "")
        + (f" --out {args.out}" if args.out else ""),
        "model": weights,
        "entities": model.num_entities,
        "relations": model.num_relations,
        "threads": args.threads,
        "model_load_s": round(load_s, 1),
        "cache_build_ms": round(cache_build_ms, 1),
        "results": results,
        "torch": torch.__version__,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.processor() or ''}",
    }
    if args.out:
        Path(args.out).write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
