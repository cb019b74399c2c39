"""Scoring extraction against gold sentences (CoNLL04-style JSONL) with the strict criterion.

A predicted relation counts as correct only when its head span and type, its tail span and type
and its relation type all equal a gold relation's (the "strict" measure of SpERT and REBEL).
Scores are micro precision/recall/F1 over all relations and per relation type; entity-level
strict F1 (span and type) is reported as a diagnostic.

Gold file: one JSON object per line, ``{"id", "text", "entities": [{"start", "end", "type"}],
"relations": [{"head", "tail", "type"}]}``; offsets are character offsets into ``text`` and
``head``/``tail`` index ``entities``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kgforge.errors import CorpusError
from kgforge.extract.types import Mention, RelationMention

Relation = tuple[int, int, str, int, int, str, str]
"""(head start, head end, head type, tail start, tail end, tail type, relation type)."""


@dataclass(frozen=True)
class GoldSentence:
    """One annotated sentence: its text, typed entity mentions and relations between them."""

    id: str
    text: str
    mentions: list[Mention]
    relations: list[RelationMention] = field(default_factory=list)


def _parse(line: str, path: Path, lineno: int) -> GoldSentence:
    def fail(message: str, field_name: str | None = None) -> CorpusError:
        return CorpusError(message, path, lineno, field_name)

    try:
        obj = json.loads(line)
    except json.JSONDecodeError as exc:
        raise fail(f"invalid JSON: {exc.msg}") from None
    if not isinstance(obj, dict):
        raise fail("a gold line must be a JSON object")
    text = obj.get("text")
    if not isinstance(text, str) or not text:
        raise fail("missing or empty text", "text")
    entities, relations = obj.get("entities", []), obj.get("relations", [])
    if not isinstance(entities, list) or not isinstance(relations, list):
        raise fail("entities and relations must be lists", "entities")
    mentions = []
    for k, ent in enumerate(entities):
        try:
            start, end, label = int(ent["start"]), int(ent["end"]), str(ent["type"])
        except (KeyError, TypeError, ValueError):
            raise fail("an entity needs integer start, end and a type", f"entities[{k}]") from None
        if not 0 <= start < end <= len(text):
            raise fail(f"offsets {start}:{end} outside the text", f"entities[{k}]")
        mentions.append(Mention(start, end, text[start:end], label))
    rels = []
    for k, rel in enumerate(relations):
        try:
            head, tail, label = int(rel["head"]), int(rel["tail"]), str(rel["type"])
        except (KeyError, TypeError, ValueError):
            raise fail(
                "a relation needs integer head, tail and a type", f"relations[{k}]"
            ) from None
        if not (0 <= head < len(mentions) and 0 <= tail < len(mentions)):
            raise fail("head or tail is not an entity index", f"relations[{k}]")
        rels.append(RelationMention(head, tail, label, 1.0))
    return GoldSentence(str(obj.get("id", f"{path.name}:{lineno}")), text, mentions, rels)


def read_gold(path: str | Path) -> list[GoldSentence]:
    """Read a gold JSONL file; a malformed line raises ``CorpusError`` with file and line."""
    path = Path(path)
    try:
        with path.open(encoding="utf-8") as f:
            return [_parse(line, path, n) for n, line in enumerate(f, 1) if line.strip()]
    except OSError as exc:
        raise CorpusError(f"cannot read gold file: {exc.strerror}", path) from None
    except UnicodeDecodeError:
        raise CorpusError("not UTF-8 text", path) from None


def relation_tuples(mentions: Sequence[Mention], relations: Iterable[RelationMention]) -> set:
    """A sentence's relations as comparable (head span+type, tail span+type, type) tuples."""
    out = set()
    for r in relations:
        h, t = mentions[r.head], mentions[r.tail]
        out.add((h.start, h.end, h.label, t.start, t.end, t.label, r.label))
    return out


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
    gold_path: str | Path, pipeline: Any = "conll04", batch_size: int = 64
) -> dict[str, Any]:
    """Run a pipeline (name, YAML path or ``ExtractionPipeline``) over gold sentences and score it.

    Every statement the pipeline makes counts as a prediction (``is_a`` type statements
    excepted); predicted entities are the document's mentions with their pipeline types.
    """
    from kgforge.extract.pipeline import load_pipeline
    from kgforge.extract.types import CLASS_LABEL, IS_A

    gold = read_gold(gold_path)
    if not hasattr(pipeline, "process"):
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
    result["pipeline"] = getattr(pipeline, "name", str(pipeline))
    return result
