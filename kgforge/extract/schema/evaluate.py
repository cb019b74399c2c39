"""Run a schema pipeline over Text2KGBench-style gold sentences and score it (``metrics``)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from kgforge.extract.schema.metrics import Triple, read_ground_truth, score_ontology
from kgforge.extract.schema.ontology import load_ontology


def schema_pipeline(
    ontology: str | Path, examples: str | Path | None = None, name: str = "schema", **options: Any
) -> Any:
    """An ``ExtractionPipeline`` with one ``kind: schema`` extractor and one sentence per record
    (spaCy's entities only feed the candidates: no other mentions are written)."""
    from kgforge.extract.config import PipelineConfig
    from kgforge.extract.pipeline import ExtractionPipeline

    config = PipelineConfig.model_validate(
        {
            "name": name,
            "spacy": {"sentences": "record"},
            "drop_unmapped": True,
            "relations": [
                {"kind": "schema", "ontology": str(ontology), "examples": examples, **options}
            ],
        }
    )
    return ExtractionPipeline(config)


def predict(pipeline: Any, texts: list[str], batch_size: int = 64) -> list[list[Triple]]:
    """(subject, relation, object) triples per text, in order."""
    return [
        [(s.subject.text, s.predicate, s.object.text) for s in doc.statements]
        for doc in pipeline.process(texts, batch_size=batch_size)
    ]


def evaluate_schema(
    gold_path: str | Path, ontology_path: str | Path, pipeline: Any, batch_size: int = 64
) -> dict[str, Any]:
    """Text2KGBench metrics of ``pipeline`` on one ontology's gold file, with throughput."""
    gold = read_ground_truth(gold_path)
    onto = load_ontology(ontology_path)
    pipeline._load_trained()  # train (or load) before the clock starts
    t0 = time.perf_counter()
    triples = predict(pipeline, [g["sent"] for g in gold], batch_size)
    seconds = time.perf_counter() - t0
    preds = {g["id"]: t for g, t in zip(gold, triples, strict=True)}
    concepts = [c.label for c in onto.classes.values()]
    scores = score_ontology(gold, preds, onto.relation_names, concepts)
    scores["seconds"] = seconds
    scores["sentences_per_second"] = len(gold) / seconds if seconds else 0.0
    return {"scores": scores, "predictions": preds}


def format_scores(rows: dict[str, dict[str, float]]) -> str:
    """A table of per-ontology (and average) metrics."""
    cols = ("precision", "recall", "f1", "onto_conf", "sub_halluc", "rel_halluc", "obj_halluc")
    head = ("ontology", "P", "R", "F1", "OC", "SH", "RH", "OH", "strict F1")
    lines = [" ".join(f"{h:>10}" if i else f"{h:<14}" for i, h in enumerate(head))]
    for name, s in rows.items():
        cells = [f"{s[c]:10.3f}" for c in cols] + [f"{s.get('strict_f1', 0.0):10.3f}"]
        lines.append(f"{name:<14} " + " ".join(cells))
    return "\n".join(lines)
