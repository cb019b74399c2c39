"""Extraction speed on CoNLL04 sentences, one thread, in one run: plain spaCy ``nlp.pipe`` (the
ceiling: the conll04 pipeline's spaCy model with every component), the frozen ``conll04``
pipeline and the ``conll04_joint`` pipeline, each through ``evaluate_extraction`` (extraction and
strict scoring, as ``kgforge evaluate-extraction`` runs it) over the same sentences.

Models are loaded and warmed up on a few sentences first (load time reported apart); each timed
pass is one ``nlp.pipe`` / ``evaluate_extraction`` over all sentences, best of ``--repeat``.
Wall seconds and this process's CPU seconds are both recorded: on a shared machine the CPU
seconds are the steadier number (with one thread, wall >= CPU). The load average (``uptime``)
before and after goes in the JSON.

    OMP_NUM_THREADS=1 .venv/bin/python bench/extract_speed_joint.py \\
        [--gold ../shared/data/conll04/dev.jsonl] [--json bench/results/extract_speed_joint.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import torch

from kgforge.extract.evaluate import evaluate_extraction
from kgforge.extract.gold import read_gold
from kgforge.extract.pipeline import load_pipeline

ROOT = Path(__file__).resolve().parents[1]


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def timed(fn, repeat: int) -> dict[str, float]:
    """Best (lowest wall) of ``repeat`` calls: wall and process CPU seconds, and the result."""
    best: dict = {}
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        result = fn()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        if not best or wall < best["wall_s"]:
            best = {"wall_s": wall, "cpu_s": cpu, "result": result}
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gold", default=str(ROOT.parent / "shared/data/conll04/dev.jsonl"))
    parser.add_argument("--pipelines", nargs="+", default=["conll04", "conll04_joint"])
    parser.add_argument("--limit", type=int, default=None, help="first N sentences only")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--json", default=str(ROOT / "bench/results/extract_speed_joint.json"))
    args = parser.parse_args()
    torch.set_num_threads(1)

    gold = read_gold(args.gold)[: args.limit]
    gold_file = Path(args.json).with_suffix(".gold.jsonl")
    if args.limit is not None:  # evaluate_extraction reads a file: the first N lines of it
        lines = Path(args.gold).read_text(encoding="utf-8").splitlines(keepends=True)
        gold_file.write_text("".join(lines[: args.limit]), encoding="utf-8")
        gold_path = gold_file
    else:
        gold_path = Path(args.gold)
    texts = [s.text for s in gold]
    out: dict = {
        "gold": str(args.gold),
        "sentences": len(texts),
        "threads": torch.get_num_threads(),
        "cpus": os.cpu_count(),
        "machine": platform.platform(),
        "load_before": load_average(),
        "runs": {},
    }
    print(
        f"{len(texts)} sentences, {torch.get_num_threads()} torch thread, load {out['load_before']}"
    )

    pipelines = {}
    for name in args.pipelines:
        t = time.perf_counter()
        pipeline = load_pipeline(name)
        list(pipeline.process(texts[:8]))  # loads spaCy and the trained models, warms up
        pipelines[name] = (pipeline, time.perf_counter() - t)

    nlp = pipelines[args.pipelines[0]][0].nlp  # the conll04 pipeline's full spaCy model
    run = timed(lambda: sum(1 for _ in nlp.pipe(texts, batch_size=64)), args.repeat)
    out["runs"]["spacy"] = {
        "what": f"spaCy nlp.pipe ({nlp.meta.get('name')}: {', '.join(nlp.pipe_names)})",
        "wall_s": run["wall_s"],
        "cpu_s": run["cpu_s"],
    }
    for name, (pipeline, load_s) in pipelines.items():
        run = timed(lambda p=pipeline: evaluate_extraction(gold_path, p), args.repeat)
        scores = run["result"]
        out["runs"][name] = {
            "what": f"pipeline {name} (extraction + strict scoring)",
            "load_s": load_s,
            "wall_s": run["wall_s"],
            "cpu_s": run["cpu_s"],
            "relation_f1": scores["relations"]["f1"],
            "entity_f1": scores["entities"]["f1"],
        }
    for r in out["runs"].values():
        r["sentences_per_s"] = len(texts) / r["wall_s"]
        r["sentences_per_cpu_s"] = len(texts) / r["cpu_s"]
    out["load_after"] = load_average()
    if len(args.pipelines) == 2:
        a, b = (out["runs"][n] for n in args.pipelines)
        out["ratio"] = {
            f"{args.pipelines[1]}/{args.pipelines[0]}": {
                "wall": b["sentences_per_s"] / a["sentences_per_s"],
                "cpu": b["sentences_per_cpu_s"] / a["sentences_per_cpu_s"],
            }
        }
    for name, r in out["runs"].items():
        scores = ""
        if "relation_f1" in r:
            scores = (
                f", relation F1 {100 * r['relation_f1']:.1f}, entity F1 {100 * r['entity_f1']:.1f}"
            )
        print(
            f"{name:15s} {r['sentences_per_s']:8.1f} sentences/s wall ({r['wall_s']:.1f} s), "
            f"{r['sentences_per_cpu_s']:8.1f} per CPU s{scores}"
        )
    for key, ratio in out.get("ratio", {}).items():
        print(f"{key}: {ratio['wall']:.2f}x (wall), {ratio['cpu']:.2f}x (CPU)")
    print(f"load {out['load_before']} -> {out['load_after']}")
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    if gold_file.exists():
        gold_file.unlink()


if __name__ == "__main__":
    main()
