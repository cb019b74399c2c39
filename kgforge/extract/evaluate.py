"""Scoring extraction against gold sentences (CoNLL04-style JSONL) with the strict criterion.

A predicted relation counts as correct only when its head span and type, its tail span and type
and its relation type all equal a gold relation's (the "strict" measure of SpERT and REBEL).
Scores are micro precision/recall/F1 over all relations and per relation type; entity-level
strict F1 (span and type) is reported as a diagnostic.

Gold files are read by ``kgforge.extract.gold``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from kgforge.extract.gold import read_gold, relation_tuples
from kgforge.extract.pipeline import ExtractionPipeline, load_pipeline
from kgforge.extract.types import CLASS_LABEL, IS_A


def _prf(tp: int, n_pred: int, n_gold: int) -> dict[str, float]:
    p = tp / n_pred if n_pred else 0.0
    r = tp / n_gold if n_gold else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"precision": p, "recall": r, "f1": f, "support": n_gold, "predicted": n_pred}


def score(gold: Sequence[tuple[set, set]], pred: Sequence[tuple[set, set]]) -> dict[str, Any]:
    """Strict micro scores from per-sentence (entity tuples, relation tuples), gold vs predicted.

    Entity tuples are (start, end, type); relation tuples as in :func:`relation_tuples`.
    """
    if len(gold) != len(pred):
        raise ValueError("gold and predictions must cover the same sentences")
    types = sorted(
        {r[-1] for _, rels in gold for r in rels} | {r[-1] for _, rels in pred for r in rels}
    )
    counts = {t: [0, 0, 0] for t in types}  # tp, predicted, gold
    ent = [0, 0, 0]
    for (gent, grel), (pent, prel) in zip(gold, pred, strict=True):
        ent[0] += len(gent & pent)
        ent[1] += len(pent)
        ent[2] += len(gent)
        for r in prel:
            counts[r[-1]][1] += 1
            counts[r[-1]][0] += r in grel
        for r in grel:
            counts[r[-1]][2] += 1
    micro = [sum(c[i] for c in counts.values()) for i in range(3)]
    per_type = {t: _prf(*c) for t, c in counts.items()}
    macro = sum(v["f1"] for v in per_type.values()) / len(per_type) if per_type else 0.0
    return {
        "sentences": len(gold),
        "relations": _prf(*micro),
        "relations_macro_f1": macro,
        "per_relation": per_type,
        "entities": _prf(*ent),
    }


def format_scores(scores: dict[str, Any]) -> str:
    """A plain-text table: per relation type, micro average, and the entity diagnostic."""
    rows = [("relation", "P", "R", "F1", "gold", "pred")]

    def row(name: str, s: dict[str, float]) -> tuple[str, ...]:
        return (
            name,
            f"{100 * s['precision']:.1f}",
            f"{100 * s['recall']:.1f}",
            f"{100 * s['f1']:.1f}",
            str(s["support"]),
            str(s["predicted"]),
        )

    rows += [row(name, s) for name, s in scores["per_relation"].items()]
    rows.append(row("micro (strict)", scores["relations"]))
    rows.append(row("entities (strict)", scores["entities"]))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(r, widths, strict=True))
        )
        for r in rows
    ]
    lines.insert(1, "-" * len(lines[0]))
    lines.insert(len(lines) - 2, "-" * len(lines[0]))
    return "\n".join(lines) + f"\n({scores['sentences']} sentences)"


def evaluate_extraction(
    gold_path: str | Path,
    pipeline: str | Path | ExtractionPipeline = "conll04",
    batch_size: int = 64,
) -> dict[str, Any]:
    """Run a pipeline (name, YAML path or ``ExtractionPipeline``) over gold sentences and score it.

    Every statement the pipeline makes counts as a prediction (``is_a`` type statements
    excepted); predicted entities are the document's mentions with their pipeline types.
    """
    gold = read_gold(gold_path)
    if isinstance(pipeline, str | Path):
        pipeline = load_pipeline(pipeline)
    gold_sets, pred_sets = [], []
    docs = pipeline.process((s.text for s in gold), batch_size=batch_size)
    for sentence, doc in zip(gold, docs, strict=True):
        gold_sets.append(
            (
                {(m.start, m.end, m.label) for m in sentence.mentions},
                relation_tuples(sentence.mentions, sentence.relations),
            )
        )
        pred_sets.append(
            (
                {(m.start, m.end, m.label) for m in doc.mentions if m.label != CLASS_LABEL},
                {
                    (
                        s.subject.start,
                        s.subject.end,
                        s.subject.label,
                        s.object.start,
                        s.object.end,
                        s.object.label,
                        s.predicate,
                    )
                    for s in doc.statements
                    if s.predicate != IS_A
                },
            )
        )
    result = score(gold_sets, pred_sets)
    result["gold"] = str(gold_path)
    result["pipeline"] = pipeline.name
    return result
