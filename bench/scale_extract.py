"""Extraction engines on one corpus, in one run: 1 process, ``--workers 2``, Ray with 2 actors;
and the driver's peak memory as the corpus grows.

Throughput: the 2,000-document corpus of ``bench/extract_bench.py`` (fixed-seed draws of 4 real
sentences each), each engine into a new on-disk store, docs/s as the run reports it (reading,
extraction, resolution, writes and entity records; the Ray cluster, ``ray.init(num_cpus=2)``,
is started once before the clock, its actors start inside the run). Every store must hold the
same quads.

Memory: a fresh process per corpus size extracts documents of repeated text (50 distinct
texts, cycled) with the local engine and reports its peak resident memory, the resident memory
every ``--sample-every`` documents (written in the main thread after each batch), the entities
it made (with ``split_topics`` every copy of a text opens its own document, so about one
entity in two documents is new; past ``--entities-in-memory``, default 20,000, the others wait
on disk) and the growth per document and per entity between the first sample past 10% of the
run and the last one.

    python bench/scale_extract.py [--docs 2000] [--memory-docs 10000 100000] [--skip-throughput]
        [--entities-in-memory N]

Writes bench/results/scale_extract.json and, with memory runs, scale_extract_memory.png.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))


def throughput(docs: int, work: Path) -> list[dict]:
    import ray
    from extract_bench import make_corpus

    from kgforge.extract.pipeline import load_pipeline
    from kgforge.extract.run import extract
    from kgforge.graph.store import KnowledgeGraph

    corpus = work / "corpus.jsonl"
    make_corpus(corpus, docs)
    pipeline = load_pipeline("default")
    pipeline.fingerprint()  # loads spaCy before any clock
    started = time.perf_counter()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    ray_start = time.perf_counter() - started
    rows, quads = [], []
    for name, kwargs in (
        ("1 process", {"workers": 1}),
        ("--workers 2", {"workers": 2}),
        ("Ray, 2 actors", {"engine": "ray", "workers": 2}),
    ):
        store = work / name.replace(" ", "_").replace(",", "")
        summary = extract(corpus, store, pipeline, batch_size=64, **kwargs)
        with KnowledgeGraph.open(store, read_only=True) as kg:
            quads.append(set(kg.quads()))
        rows.append(
            {
                "engine": name,
                "documents": summary.extracted,
                "seconds": round(summary.seconds, 1),
                "docs_per_second": round(summary.docs_per_second, 1),
                "statements": summary.statements,
            }
        )
        print(json.dumps(rows[-1]), flush=True)
        shutil.rmtree(store)
    ray.shutdown()
    assert all(q == quads[0] for q in quads), "the engines wrote different statements"
    rows.append({"ray_init_seconds": round(ray_start, 1), "same_quads": True})
    return rows


def _rss_mib() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def memory_child(docs: int, work: Path, every: int, in_memory: int | None) -> dict:
    from extract_bench import sentences

    from kgforge.extract import run
    from kgforge.extract.run import extract

    pool = sentences()[:50]
    corpus = work / f"repeated-{docs}.jsonl"
    with corpus.open("w", encoding="utf-8") as fh:
        for i in range(docs):
            fh.write(json.dumps({"id": f"d{i}", "text": pool[i % len(pool)]}) + "\n")
    series: list[dict] = []
    written = [0]
    write = run.ExtractionRun._write

    def sampled(self, batch):  # after each batch: documents so far, resident memory
        write(self, batch)
        before = written[0]
        written[0] += len(batch)
        if written[0] // every > before // every or (batch and written[0] == docs):
            row = {"documents": written[0], "rss_mib": round(_rss_mib(), 1)}
            senses = self.resolver.senses
            series.append({**row, "entities": len(senses), "in_memory": senses.in_memory})

    run.ExtractionRun._write = sampled  # type: ignore[method-assign]
    kwargs = {} if in_memory is None else {"entities_in_memory": in_memory}
    summary = extract(corpus, work / f"store-{docs}", batch_size=64, **kwargs)
    first = next(r for r in series if r["documents"] >= docs // 10)
    last = series[-1]
    grown = (last["rss_mib"] - first["rss_mib"]) * 2**20
    return {
        "documents": docs,
        "seconds": round(summary.seconds, 1),
        "docs_per_second": round(summary.docs_per_second, 1),
        "statements": summary.statements,
        "entities": summary.entities_updated,
        "entities_in_memory": in_memory,
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "rss_growth_bytes_per_document": round(grown / (last["documents"] - first["documents"])),
        "rss_growth_bytes_per_entity": round(grown / max(1, last["entities"] - first["entities"])),
        "series": series,
    }


def plot(memory: list[dict], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    for row in memory:
        series = row.get("series") or []
        ax.plot(
            [r["documents"] for r in series],
            [r["rss_mib"] for r in series],
            label=f"{row['documents']:,} documents",
        )
    ax.set_xlabel("documents extracted")
    ax.set_ylabel("resident memory (MiB)")
    ax.set_ylim(bottom=0)
    ax.set_title("kgforge extract, repeated text, 1 process")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=int, default=2000)
    parser.add_argument("--memory-docs", type=int, nargs="*", default=[10_000, 100_000])
    parser.add_argument("--skip-throughput", action="store_true")
    parser.add_argument("--sample-every", type=int, default=1000)
    parser.add_argument(
        "--entities-in-memory", type=int, help="extract(entities_in_memory=...); default: its own"
    )
    parser.add_argument("--memory-child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    parser.add_argument(
        "--out", type=Path, default=ROOT / "bench" / "results" / "scale_extract.json"
    )
    args = parser.parse_args()
    from kgforge.progress import set_progress

    set_progress(False)
    if args.memory_child:
        child = memory_child(
            args.memory_child, args.work, args.sample_every, args.entities_in_memory
        )
        print(json.dumps(child))
        return
    record: dict = {
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
    }
    if args.out.exists():  # keep the other part of an earlier run
        record = {**json.loads(args.out.read_text()), **record}
    args.out.parent.mkdir(parents=True, exist_ok=True)

    def save() -> None:  # after every part: a long run keeps what it measured
        args.out.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")

    with tempfile.TemporaryDirectory(prefix="kgf-scale-") as tmp:
        work = Path(tmp)
        if not args.skip_throughput:
            record["throughput"] = throughput(args.docs, work)
            record["load_average_after_throughput"] = os.getloadavg()
            save()
        if args.memory_docs:
            record["memory"] = []
            for docs in args.memory_docs:
                command = [sys.executable, __file__, "--memory-child", str(docs)]
                command += ["--sample-every", str(args.sample_every)]
                if args.entities_in_memory is not None:
                    command += ["--entities-in-memory", str(args.entities_in_memory)]
                done = subprocess.run(
                    [*command, "--work", str(work)], capture_output=True, text=True, check=True
                )
                record["memory"].append(json.loads(done.stdout.strip().splitlines()[-1]))
                record["load_average_after_memory"] = os.getloadavg()
                print(json.dumps(record["memory"][-1]), flush=True)
                save()
                plot(record["memory"], args.out.with_name(args.out.stem + "_memory.png"))


if __name__ == "__main__":
    main()
