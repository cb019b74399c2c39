"""Text2KGBench (Wikidata-TekGen): the schema pipeline on all 10 ontologies, next to the LLMs.

    python bench/text2kg_eval.py                 # test split, once, with the final settings
    python bench/text2kg_eval.py --split dev     # development: train on 80 % of each train
                                                 # file, score the other 20 % (no test data)

For each ontology the ``kind: schema`` pipeline trains on ``train/ont_<o>_train.jsonl`` (its
thresholds tuned on a seeded 20 % of it) and extracts from every test sentence through
``ExtractionPipeline.process`` (spaCy, candidates, encoder, scorer) on one CPU thread; the scores
are Text2KGBench's (``kgforge.extract.schema.metrics``). Published rows: the benchmark
repository's ``baselines/*/eval_metrics`` (see ../shared/data/README.md).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import torch  # noqa: E402

from kgforge.extract.schema.evaluate import evaluate_schema, format_scores, schema_pipeline  # noqa: E402
from kgforge.extract.schema.metrics import average  # noqa: E402

ONTOLOGIES = ("1_movie", "2_music", "3_sport", "4_book", "5_military", "6_computer", "7_space",
              "8_politics", "9_nature", "10_culture")  # fmt: skip
KEYS = ("precision", "recall", "f1", "onto_conf", "sub_halluc", "rel_halluc", "obj_halluc")
PUBLISHED = {  # mean over ontologies, P/R/F1/OC/SH/RH/OH (../shared/data/README.md)
    "Vicuna-13B": (0.38, 0.35, 0.35, 0.84, 0.17, 0.13, 0.17),
    "Alpaca-LoRA-13B": (0.32, 0.26, 0.27, 0.88, 0.19, 0.12, 0.18),
}
PUBLISHED_F1 = {  # per ontology, Vicuna / Alpaca
    "1_movie": (0.25, 0.17), "2_music": (0.32, 0.22), "3_sport": (0.52, 0.45),
    "4_book": (0.26, 0.19), "5_military": (0.24, 0.21), "6_computer": (0.35, 0.29),
    "7_space": (0.66, 0.55), "8_politics": (0.33, 0.21), "9_nature": (0.25, 0.27),
    "10_culture": (0.31, 0.15),
}  # fmt: skip


def dev_split(train: Path, out: Path, seed: int = 0) -> tuple[Path, Path]:
    """80 % of a train file's sentences to train on, the other 20 % as ground truth."""
    rows = [json.loads(line) for line in train.read_text(encoding="utf-8").splitlines() if line]
    sents = sorted({r["sent"] for r in rows})
    random.Random(seed).shuffle(sents)
    held = set(sents[: len(sents) // 5])
    tr, gt = out / f"{train.stem}.fit.jsonl", out / f"{train.stem}.dev.jsonl"
    tr.write_text("".join(json.dumps(r) + "\n" for r in rows if r["sent"] not in held), "utf-8")
    gold: dict[str, list] = {}
    for r in rows:
        if r["sent"] in held:
            gold.setdefault(r["sent"], []).append(
                {"sub": r["sub_label"], "rel": r["rel_label"], "obj": r["obj_label"]}
            )
    lines = [
        json.dumps({"id": f"dev_{i}", "sent": s, "triples": t})
        for i, (s, t) in enumerate(gold.items())
    ]
    gt.write_text("\n".join(lines) + "\n", "utf-8")
    return tr, gt


def common_options(doc: str) -> argparse.ArgumentParser:
    """The options every Text2KGBench script takes: the data, the ontologies, the objective."""
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("--data", default=str(REPO.parent / "shared/data/text2kgbench-tekgen"))
    ap.add_argument("--ontologies", nargs="*", default=list(ONTOLOGIES))
    ap.add_argument("--objective", choices=("strict_f1", "f1"), default="strict_f1")
    return ap


def main() -> None:
    ap = common_options(__doc__)
    ap.add_argument("--split", choices=("test", "dev"), default="test")
    ap.add_argument("--out", default=None, help="results JSON (default bench/results/...)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    data = Path(args.data)
    per, total_s, total_n, train_s = {}, 0.0, 0, 0.0
    with tempfile.TemporaryDirectory() as tmp:
        for o in args.ontologies:
            onto = data / "ontologies" / f"{o}_ontology.json"
            train = data / "train" / f"ont_{o}_train.jsonl"
            gold = data / "ground_truth" / f"ont_{o}_ground_truth.jsonl"
            if args.split == "dev":
                train, gold = dev_split(train, Path(tmp))
            pipe = schema_pipeline(onto, train, name=f"text2kg_{o}", objective=args.objective)
            t0 = time.perf_counter()
            pipe._load_trained()
            train_s += time.perf_counter() - t0
            result = evaluate_schema(gold, onto, pipe)
            s = result["scores"]
            per[o] = s
            total_s += s["seconds"]
            total_n += s["sentences"]
            print(f"{o}: F1 {s['f1']:.3f} OC {s['onto_conf']:.3f} strict F1 {s['strict_f1']:.3f}"
                  f" ({s['sentences_per_second']:.1f} sentences/s)", flush=True)  # fmt: skip
    avg = average(per)
    print()
    print(format_scores(per | {"average": avg}))
    for name, row in PUBLISHED.items():
        print(f"{name:<14} " + " ".join(f"{v:10.2f}" for v in row))
    speed = total_n / total_s if total_s else 0.0
    print(f"\n{total_n} sentences, {speed:.1f} sentences/s on one CPU thread "
          f"(training {train_s:.0f} s in all)")  # fmt: skip
    out = Path(args.out) if args.out else REPO / "bench/results" / f"text2kg_{args.split}.json"
    report = {
        "command": " ".join(["python", *sys.argv]),
        "split": args.split,
        "objective": args.objective,
        "per_ontology": per,
        "average": avg,
        "published": {k: dict(zip(KEYS, v, strict=True)) for k, v in PUBLISHED.items()},
        "published_f1_per_ontology": PUBLISHED_F1,
        "sentences": total_n,
        "sentences_per_second": speed,
        "training_seconds": train_s,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores (shared), torch threads 1",
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
