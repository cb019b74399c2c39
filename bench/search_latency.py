"""`kgforge search` from the command line: the first call (builds the index beside the store)
against later ones (load it), in the same run, as a user runs them (a new process each).

The store holds one entity record per entity of a data directory (default WN18RR-ind: 40,943
entities; the record's label is the entity's whole text, so the dense vectors come from the
feature cache that training filled). Each mode is timed on a fresh index folder: call 1 builds
(what every call cost before the index was kept), calls 2..n load it. Wall times include the
process start (Python, imports, the sentence model for dense and hybrid); the last row of
each mode times the saved index's load and one query inside one process.

    python bench/search_latency.py --out bench/results/search_latency.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default="../shared/data/wn18rr-ind")
    ap.add_argument("--modes", default="bm25,hybrid")
    ap.add_argument("--calls", type=int, default=4, help="calls per mode (the first builds)")
    ap.add_argument("--query", default="a breed of small dog with a curly coat")
    ap.add_argument("--out", default=None)
    args = ap.parse_args()

    from rdflib import Literal
    from rdflib.namespace import RDFS

    from kgforge.graph.namespaces import ENT, ENTITIES_GRAPH
    from kgforge.graph.store import KnowledgeGraph

    root = Path(tempfile.mkdtemp(prefix="kgforge-search-"))
    store = root / "kg"
    lines = (Path(args.data) / "entity2text.tsv").read_text(encoding="utf-8").splitlines()
    records = [line.split("\t", 1) for line in lines if "\t" in line]
    with KnowledgeGraph.open(store) as kg:
        kg.add_many(
            ((ENT[f"e{eid}"], RDFS.label, Literal(text)) for eid, text in records),
            graph=ENTITIES_GRAPH,
        )
    env = {**os.environ, "OMP_NUM_THREADS": "1", "KGFORGE_PROGRESS": "0"}
    results = {}
    for mode in args.modes.split(","):
        shutil.rmtree(root / "kg.search", ignore_errors=True)
        times = []
        for _ in range(args.calls):
            cmd = [sys.executable, "-m", "kgforge", "-q", "search", str(store), args.query]
            start = time.perf_counter()
            out = subprocess.run([*cmd, "--mode", mode, "-k", "5"], env=env, capture_output=True)
            times.append(time.perf_counter() - start)
            if out.returncode != 0:
                raise SystemExit(out.stderr.decode())
        first, later = times[0], statistics.median(times[1:])
        results[mode] = {
            "first_s": round(first, 2),
            "later_median_s": round(later, 2),
            "later_s": [round(t, 2) for t in times[1:]],
            "ratio": round(first / later, 1),
            "top": out.stdout.decode().splitlines()[0],
        }
        # in one process: what a call costs besides starting Python and importing
        from kgforge.progress import set_progress
        from kgforge.transfer.retrieval import EntityIndex

        set_progress(False)
        start = time.perf_counter()
        with KnowledgeGraph.open(store, read_only=True) as kg:
            index = EntityIndex.for_store(kg, dense=mode != "bm25")
        loaded = time.perf_counter() - start
        start = time.perf_counter()
        index.search(args.query, k=5, mode=mode)  # type: ignore[arg-type]
        query = time.perf_counter() - start
        results[mode].update({"in_process_load_s": round(loaded, 3), "query_s": round(query, 4)})
        print(
            f"{mode:7s} first {first:6.2f} s  later {later:5.2f} s  ({first / later:.1f}x); "
            f"in one process: load {loaded:.2f} s, query {1000 * query:.0f} ms"
        )
    shutil.rmtree(root, ignore_errors=True)
    report = {
        "what": "kgforge search wall time per CLI call; the first builds STORE.search",
        "command": "python " + " ".join(sys.argv),
        "entities": len(records),
        "data": args.data,
        "results": results,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
    }
    if args.out:
        Path(args.out).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
