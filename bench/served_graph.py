"""Load and query rates of a served graph (``kgforge serve`` = ``oxigraph serve`` on loopback,
reached through kgforge's SPARQL backend) against the embedded store, same data, same run.

Data: ``bench/graph_bench.py``'s synthetic N-Triples (people, organisations, places).
Loads: the file into a new embedded store (``kg.load``, one transaction; and ``bulk=True``,
pyoxigraph's bulk loader) and into a new served store (``kg.load`` = one ``INSERT DATA``;
``bulk=True`` = streamed to the Graph Store protocol). Queries: ``graph_bench``'s four queries
(best of ``--repeat``, stores alternating) and point lookups (one entity's label by bound IRI,
``--lookups`` of them, queries/s), on the embedded store and on the served one.

    python bench/served_graph.py [--triples 200000] [--repeat 3] [--lookups 500]

Writes bench/results/served_graph.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from graph_bench import run_queries, write_synthetic  # noqa: E402

from kgforge.graph.namespaces import ENT  # noqa: E402
from kgforge.graph.serve import serve  # noqa: E402
from kgforge.graph.store import KnowledgeGraph  # noqa: E402


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def timed_load(kg: KnowledgeGraph, path: Path, bulk: bool) -> dict:
    start = time.perf_counter()
    n = kg.load(path, bulk=bulk)
    seconds = time.perf_counter() - start
    assert len(kg) == n, (len(kg), n)
    return {"seconds": round(seconds, 2), "triples_per_second": round(n / seconds)}


def lookups(kg: KnowledgeGraph, count: int, people: int) -> float:
    start = time.perf_counter()
    for i in range(count):
        rows = list(kg.query("SELECT ?l WHERE { ?e rdfs:label ?l }", e=ENT[f"person_{i % people}"]))
        assert len(rows) == 1
    return count / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--triples", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--lookups", type=int, default=500)
    parser.add_argument(
        "--out", type=Path, default=ROOT / "bench" / "results" / "served_graph.json"
    )
    args = parser.parse_args()
    record: dict = {
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "load_average_at_start": os.getloadavg(),
    }
    with tempfile.TemporaryDirectory(prefix="kgf-served-") as tmp:
        work = Path(tmp)
        data = work / "data.nt"
        n = write_synthetic(data, args.triples)
        record["triples"] = n
        loads = {}
        for bulk in (False, True):
            with KnowledgeGraph.open(work / f"embedded-{bulk}") as kg:
                loads[f"embedded{', bulk' if bulk else ''}"] = timed_load(kg, data, bulk)
            with (
                serve(work / f"served-{bulk}", port=free_port()) as server,
                KnowledgeGraph.open(server.url) as kg,
            ):
                name = "served, Graph Store protocol stream" if bulk else "served, INSERT DATA"
                loads[name] = timed_load(kg, data, bulk)
        record["load"] = loads
        for label, row in loads.items():
            print(f"load {label:38s} {row['seconds']:8.2f} s  {row['triples_per_second']:>9,}/s")
        people = max(n // 8, 10)
        with (
            serve(work / "served-True", port=free_port(), read_only=True) as server,
            KnowledgeGraph.open(server.url) as served,
            KnowledgeGraph.open(work / "embedded-True", read_only=True) as embedded,
        ):
            stores = {"embedded": embedded, "served": served}
            record["queries"] = run_queries(stores, args.repeat, "org_3")
            record["lookups_per_second"] = {
                label: round(lookups(kg, args.lookups, people)) for label, kg in stores.items()
            }
        print("point lookups/s:", record["lookups_per_second"])
    record["load_average_at_end"] = os.getloadavg()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
