"""Annotated example sentences for schema-guided extraction.

Two JSONL forms, one object per line:

- Text2KGBench train: ``{"sent", "sub_label", "rel_label", "obj_label", ...}``, one triple a line
  (a sentence with several triples is on several lines);
- a sentence with all its triples: ``{"sent" or "text", "triples": [{"sub", "rel", "obj"}]}``
  (the Text2KGBench ground-truth form).

Relation labels are matched to the ontology's relations (``publication date`` and
``publication_date`` both name ``publication_date``). Triples of relations the ontology lacks
cannot be learned (a relation outside the ontology is never extracted): they are left out and
counted in a warning that names them, or, with ``strict=True``, are an error naming the line.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from pathlib import Path

from kgforge.errors import CorpusError
from kgforge.extract.schema.model import Example
from kgforge.extract.schema.ontology import Ontology

log = logging.getLogger(__name__)


def read_examples(path: str | Path, ontology: Ontology, strict: bool = False) -> list[Example]:
    """Example sentences in file order, each with its triples (duplicates merged)."""
    path = Path(path)
    unknown: Counter = Counter()
    by_text: dict[str, list[tuple[str, str, str]]] = {}
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise CorpusError(f"cannot read examples: {exc.strerror}", path) from None
    except UnicodeDecodeError:
        raise CorpusError("not UTF-8 text", path) from None
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise CorpusError(f"invalid JSON: {exc.msg}", path, n) from None
        text = obj.get("sent", obj.get("text")) if isinstance(obj, dict) else None
        if not isinstance(text, str) or not text.strip():
            raise CorpusError("missing or empty sentence", path, n, "sent")
        if "triples" in obj:
            raw = obj["triples"]
            if not isinstance(raw, list) or not all(
                isinstance(t, dict) and {"sub", "rel", "obj"} <= t.keys() for t in raw
            ):
                raise CorpusError("triples must be {sub, rel, obj} objects", path, n, "triples")
            triples = [(str(t["sub"]), str(t["rel"]), str(t["obj"])) for t in raw]
        elif {"sub_label", "rel_label", "obj_label"} <= obj.keys():
            triples = [(str(obj["sub_label"]), str(obj["rel_label"]), str(obj["obj_label"]))]
        else:
            raise CorpusError("needs 'triples' or sub_label/rel_label/obj_label", path, n)
        rows = by_text.setdefault(text, [])
        for k, (s, r, o) in enumerate(triples):
            try:
                name = ontology.relation(r).name
            except KeyError:
                if strict:
                    raise CorpusError(
                        f"relation {r!r} is not in the ontology", path, n, f"triples[{k}]"
                    ) from None
                unknown[r] += 1
                continue
            if (s, name, o) not in rows:
                rows.append((s, name, o))
    if unknown:
        names = ", ".join(f"{r!r} ({n})" for r, n in unknown.most_common())
        log.warning("%s: left out %d triples of relations not in the ontology: %s",
                    path, sum(unknown.values()), names)  # fmt: skip
    return [Example(text, tuple(triples)) for text, triples in by_text.items()]
