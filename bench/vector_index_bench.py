"""Dense entity search at scale: build time and query latency of VectorIndex at 10k/100k/1M.

Synthetic unit vectors stand in for entity embeddings: 384-d (MiniLM's width), drawn around
2,000 random topic centres (noise of the same norm as the centre, so neighbours are close but no
two topics overlap), like text embeddings that cluster by subject; queries are drawn the same way. Rows per size: faiss exact (IndexFlatIP), faiss IVF (nlist = sqrt(n),
nprobe 32, k-means (10 iterations) on 32 vectors per cell; recall@10 against the exact result reported), and the torch.topk baseline, timed in
the same run on one thread. Latency = one query at a time (the interactive case), median and
p95 over ``--queries`` queries; batch = all queries in one call, per query. Example::

    python bench/vector_index_bench.py --out bench/results/vector_index.json
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import time
from pathlib import Path

import numpy as np


def unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def clustered(rng: np.random.Generator, centres: np.ndarray, n: int) -> np.ndarray:
    """Unit vectors around random ``centres``, in chunks to bound memory."""
    out = np.empty((n, centres.shape[1]), dtype=np.float32)
    for start in range(0, n, 100_000):
        m = min(100_000, n - start)
        noise = unit(rng.standard_normal((m, centres.shape[1]), dtype=np.float32))
        out[start : start + m] = unit(centres[rng.integers(len(centres), size=m)] + noise)
    return out


def time_queries(index, queries: np.ndarray, k: int) -> dict[str, float]:
    lat = []
    for q in queries:
        start = time.perf_counter()
        index.search(q[None], k)
        lat.append(time.perf_counter() - start)
    start = time.perf_counter()
    _, ids = index.search(queries, k)
    batch = (time.perf_counter() - start) / len(queries)
    return {
        "median_ms": 1000 * float(np.median(lat)),
        "p95_ms": 1000 * float(np.percentile(lat, 95)),
        "batch_ms_per_query": 1000 * batch,
    }, ids


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="10000,100000,1000000")
    ap.add_argument("--dim", type=int, default=384)
    ap.add_argument("--queries", type=int, default=50)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()

    import faiss
    import torch

    torch.set_num_threads(1)
    faiss.omp_set_num_threads(1)
    from kgforge.transfer.vector_index import VectorIndex

    rng = np.random.default_rng(0)
    centres = unit(rng.standard_normal((2000, args.dim), dtype=np.float32))
    rows = []
    for n in [int(s) for s in args.sizes.split(",")]:
        vectors = clustered(rng, centres, n)
        queries = clustered(rng, centres, args.queries)
        exact_ids = None
        for name, kwargs in (
            ("faiss_flat", {"backend": "faiss"}),
            ("faiss_ivf", {"backend": "faiss", "nlist": int(math.sqrt(n)), "nprobe": 32}),
            ("torch_topk", {"backend": "torch"}),
        ):
            start = time.perf_counter()
            index = VectorIndex(vectors, **kwargs)
            build = time.perf_counter() - start
            timing, ids = time_queries(index, queries, args.k)
            if exact_ids is None:
                exact_ids = ids
            recall = float(
                np.mean(
                    [len(set(a) & set(b)) / args.k for a, b in zip(ids, exact_ids, strict=True)]
                )
            )
            row = {
                "n": n,
                "index": name,
                "build_s": round(build, 3),
                **timing,
                "recall@10_vs_exact": recall,
            }
            if "nlist" in kwargs:
                row.update(nlist=kwargs["nlist"], nprobe=kwargs["nprobe"])
            rows.append(row)
            print(
                f"n={n:>8} {name:11s} build {build:7.2f}s  query median {timing['median_ms']:7.2f} ms"
                f"  p95 {timing['p95_ms']:7.2f} ms  batch {timing['batch_ms_per_query']:6.2f} ms/q"
                f"  recall@10 {recall:.3f}",
                flush=True,
            )
            del index
        base = {r["index"]: r for r in rows if r["n"] == n}
        print(
            f"  torch/faiss-flat median latency ratio: "
            f"{base['torch_topk']['median_ms'] / base['faiss_flat']['median_ms']:.2f}x; "
            f"torch/faiss-ivf: {base['torch_topk']['median_ms'] / base['faiss_ivf']['median_ms']:.1f}x"
        )
    result = {
        "dim": args.dim,
        "k": args.k,
        "queries": args.queries,
        "rows": rows,
        "threads": 1,
        "hardware": {
            "machine": platform.machine(),
            "cpus": os.cpu_count(),
            "note": "shared 2-core VM, one thread",
        },
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
