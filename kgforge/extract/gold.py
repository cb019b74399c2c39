"""Gold-annotated sentences (CoNLL04-style JSONL): what extraction is scored against and what
the trained classifiers learn from.

Gold file: one JSON object per line, ``{"id", "text", "entities": [{"start", "end", "type"}],
"relations": [{"head", "tail", "type"}]}``; offsets are character offsets into ``text`` and
``head``/``tail`` index ``entities``. A malformed line raises ``CorpusError`` with file, line
and field.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

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
