"""Distillation: texts/s and test MRR of a teacher and its distilled students, in one run.

Every model embeds the same entity texts (the first ``--texts`` test-entity texts: text model
plus the teacher's MLP) on one CPU thread, one after the other, the teacher first and again last
(its speed is the mean of the two); then each is evaluated once on the test split (filtered,
dynamic protocol: every test triple ranked against all entities). Students are the outputs of
``kgforge distill`` (a run folder, or its ``student-*`` folder); each is attached to
``--teacher`` (its MLP, relations, scorer and prior), so a student trained with a features-only
loss against another model with the same text encoder is measured with this teacher. Writes ``bench/results/<name>.json`` and the
speed/quality curve as a PNG::

    python bench/distill_bench.py --teacher runs/wn18rr_ind_frozen \\
        --student runs/distill_static --student runs/distill_layerdrop \\
        --data ../shared/data/wn18rr-ind --name distill_wn18rr_ind
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--teacher", type=Path, required=True)
    parser.add_argument("--student", type=Path, action="append", default=[])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared/data/wn18rr-ind")
    parser.add_argument("--texts", type=int, default=2000)
    parser.add_argument("--name", default="distill_wn18rr_ind")
    parser.add_argument("--batch-size", type=int, default=250)
    parser.add_argument(
        "--eval-json",
        action="append",
        default=[],
        metavar="NAME=FILE",
        help="use this `kgforge evaluate` output (same split, protocol, filter) for model NAME "
        "instead of evaluating it here (to run the evaluations in parallel; waits for the file)",
    )
    args = parser.parse_args()

    import torch

    from kgforge.embed.data import KGData
    from kgforge.embed.evaluate import evaluate
    from kgforge.embed.model import LinkPredictor
    from kgforge.transfer.distill.pipeline import (
        plot_speed_quality,
        student_model,
        texts_per_second,
    )

    torch.set_num_threads(1)
    given = dict(item.split("=", 1) for item in args.eval_json)
    kg = KGData.load_dir(args.data)
    ids = kg.split_entities("test").tolist()
    texts = [kg.entity_text[i] for i in ids][: args.texts]
    names = ["teacher", *(p.name for p in args.student)]
    teacher = LinkPredictor.load(args.teacher)
    models = [teacher, *(student_model(teacher, _student_dir(p)) for p in args.student)]
    speeds = [texts_per_second(m, texts) for m in models]
    speeds[0] = (speeds[0] + texts_per_second(models[0], texts)) / 2  # teacher before and after
    rows = []
    for name, path, model, speed in zip(
        names, [args.teacher, *args.student], models, speeds, strict=True
    ):
        started = time.perf_counter()
        if name in given:
            res = _wait_for_json(Path(given[name]))
            assert (res["split"], res["protocol"], res["filtered"]) == ("test", "dynamic", True)
        else:
            res = evaluate(model, kg, split="test", protocol="dynamic", batch_size=args.batch_size)
        both = res["both"]
        rows.append(
            {
                "name": name,
                "run": str(path),
                "text_model": Path(model.encoder.text_model).name,
                "texts_per_s": round(speed, 1),
                "speedup": round(speed / speeds[0], 2),
                "mrr": round(both["mrr"], 4),
                "hits@1": round(both["hits@1"], 4),
                "hits@10": round(both["hits@10"], 4),
                "eval_seconds": round(time.perf_counter() - started, 1),
                "eval_from": given.get(name),
            }
        )
    teacher_mrr = rows[0]["mrr"]
    for row in rows:
        row["mrr_kept"] = round(row["mrr"] / teacher_mrr, 3)
    print(f"{'model':28s} {'texts/s':>9s} {'speedup':>8s} {'MRR':>7s} {'kept':>6s} {'H@10':>7s}")
    for r in rows:
        print(
            f"{r['name']:28s} {r['texts_per_s']:9.0f} {r['speedup']:7.1f}x {r['mrr']:7.4f}"
            f" {r['mrr_kept']:6.3f} {r['hits@10']:7.4f}"
        )
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = {
        "data": str(args.data),
        "split": "test",
        "protocol": "dynamic",
        "filtered": True,
        "texts": len(texts),
        "threads": 1,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores (shared with other jobs)",
        "rows": rows,
    }
    (RESULTS / f"{args.name}.json").write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    plot_speed_quality(rows, RESULTS / f"{args.name}.png", metric="test MRR (filtered, dynamic)")
    print(f"wrote {RESULTS / (args.name + '.json')} and .png")


def _wait_for_json(path: Path) -> dict:
    if not path.exists():
        print(f"waiting for {path} ...", flush=True)
    while not path.exists() or not path.stat().st_size:
        time.sleep(10)
    time.sleep(1)  # a file being written: let the writer finish
    return json.loads(path.read_text(encoding="utf-8"))


def _student_dir(path: Path) -> Path:
    """The sentence-transformers folder of a student: given, or the one a run's model reads."""
    if (path / "modules.json").exists():
        return path.resolve()
    spec = json.loads((path / "model" / "model.json").read_text(encoding="utf-8"))
    text_model = Path(spec["encoder_kwargs"]["text_model"])
    if not text_model.is_absolute():  # saved relative to the model folder (a run that moves)
        text_model = path / spec.get("text_model_relative_to", "model") / text_model
    return text_model.resolve()


if __name__ == "__main__":
    main()
