"""CoNLL04 diagnostics for the conll04 pipeline: where the strict F1 is lost.

Prints, on one gold file (default: the dev split):
1. entity strict F1 of spaCy + the type mapping alone, and with the trained refiner;
2. relation strict F1 of the relation classifier given the gold mentions (upper bound of the
   relation step);
3. the end-to-end strict scores of the pipeline (what ``kgforge evaluate-extraction`` reports),
with wall times.

    .venv/bin/python bench/conll04_eval.py [--gold ../shared/data/conll04/dev.jsonl]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from kgforge.extract.evaluate import evaluate_extraction, format_scores, score
from kgforge.extract.gold import read_gold, relation_tuples
from kgforge.extract.pipeline import load_pipeline
from kgforge.extract.trained import EntityTypeClassifier, RelationClassifier

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gold", default=str(ROOT.parent / "shared/data/conll04/dev.jsonl"))
    parser.add_argument("--pipeline", default="conll04")
    parser.add_argument("--json", help="write all scores here")
    args = parser.parse_args()

    gold = read_gold(args.gold)
    pipeline = load_pipeline(args.pipeline)
    texts = [s.text for s in gold]
    gold_sets = [
        ({(m.start, m.end, m.label) for m in s.mentions}, relation_tuples(s.mentions, s.relations))
        for s in gold
    ]
    out: dict = {}

    t = time.perf_counter()
    spacy_mentions = pipeline.spacy_mentions(texts)
    out["entities_spacy"] = score(
        gold_sets, [({(m.start, m.end, m.label) for m in ms}, set()) for ms in spacy_mentions]
    )["entities"]
    print(f"spaCy + type mapping: entity F1 {100 * out['entities_spacy']['f1']:.1f}")
    if pipeline.config.entity_types is not None:
        typer = EntityTypeClassifier.load(pipeline.config.entity_types.model)
        refined = typer.predict_batch(list(zip(texts, spacy_mentions, strict=True)))
        out["entities_refined"] = score(
            gold_sets, [({(m.start, m.end, m.label) for m in ms}, set()) for ms in refined]
        )["entities"]
        print(f"+ trained refiner:    entity F1 {100 * out['entities_refined']['f1']:.1f}")
    print(f"({time.perf_counter() - t:.0f} s)")

    t = time.perf_counter()
    (spec,) = [r for r in pipeline.config.relations if r.kind == "classifier"]
    relations = RelationClassifier.load(spec.model)
    predicted = relations.predict_batch([(s.text, s.mentions) for s in gold])
    out["relations_gold_mentions"] = score(
        gold_sets,
        [
            (gent, relation_tuples(s.mentions, rs))
            for (gent, _), s, rs in zip(gold_sets, gold, predicted, strict=True)
        ],
    )
    print("\nrelation classifier on gold mentions:")
    print(format_scores(out["relations_gold_mentions"]))
    print(f"({time.perf_counter() - t:.0f} s)")

    t = time.perf_counter()
    out["end_to_end"] = evaluate_extraction(args.gold, pipeline)
    print("\nend to end (kgforge evaluate-extraction):")
    print(format_scores(out["end_to_end"]))
    print(f"({time.perf_counter() - t:.0f} s)")
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
