"""Text2KGBench's metrics, as its ``src/evaluation/run_eval.py`` defines them.

Per test sentence, with gold triples ``G`` and system triples ``S`` (relation names with ``_``
for spaces, as the extractor writes them):

- ``S'`` = the triples of ``S`` whose relation is one of the sentence's gold relations (the
  others are dropped: they never lower precision); each triple of ``S'`` and ``G`` becomes
  ``norm(s) + norm(r) + norm(o)`` with ``norm`` = lower-case, all whitespace and ``_`` removed;
- ``P = |S' ∩ G| / |S'|``, ``R = |S' ∩ G| / |G|``, ``F1 = 2PR / (P + R)``; all 0 when ``S'``
  is empty (so a sentence without gold triples always scores 0);
- ``OC`` = share of ``S`` whose relation is in the ontology, ``RH = 1 - OC`` (1 and 0 when
  ``S`` is empty);
- ``SH`` (``OH``) = share of ``S`` whose subject (object) is not a substring of the sentence
  joined (without a space) to the ontology's concept labels, both sides tokenised, Porter-stemmed,
  joined, lower-cased, whitespace and ``_`` removed, and ``01januari`` deleted from the entity.

An ontology's score is the mean over all its gold sentences (a sentence without system output
counts 0 on every metric, OC included); the overall score is the unweighted mean over
ontologies. One deviation: the script's NLTK ``word_tokenize`` first splits sentences with the
Punkt model, a download this package cannot assume; the Treebank word tokenizer runs on the whole
string instead, which only differs where a sentence-final period sits inside the text.

``strict_*`` are reported beside them: the same per-sentence scores without dropping the
triples of other relations, i.e. every predicted triple counts.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

from kgforge.errors import CorpusError

Triple = tuple[str, str, str]
METRICS = ("precision", "recall", "f1", "onto_conf", "sub_halluc", "rel_halluc", "obj_halluc")
STRICT = ("strict_precision", "strict_recall", "strict_f1")
_SPACE = re.compile(r"(_|\s+)")


def normalize_triple(sub: str, rel: str, obj: str) -> str:
    """``norm(s) + norm(r) + norm(o)``: lower-case, without whitespace and ``_``."""
    return "".join(_SPACE.sub("", x).lower() for x in (sub, rel, obj))


def prf(gold: set[str], pred: set[str]) -> tuple[float, float, float]:
    """Precision, recall, F1 of two sets; 0, 0, 0 when nothing is predicted."""
    if not pred:
        return 0.0, 0.0, 0.0
    hit = len(gold & pred)
    p, r = hit / len(pred), hit / len(gold) if gold else 0.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


@lru_cache(maxsize=1)
def _nlp_tools() -> tuple[Any, Any]:
    from nltk.stem import PorterStemmer
    from nltk.tokenize import NLTKWordTokenizer

    return NLTKWordTokenizer(), PorterStemmer()


@lru_cache(maxsize=1 << 16)
def stemmed(text: str) -> str:
    """Tokens Porter-stemmed and joined, lower-cased, whitespace and ``_`` removed."""
    tokenizer, stemmer = _nlp_tools()
    joined = "".join(stemmer.stem(w) for w in tokenizer.tokenize(text))
    return _SPACE.sub("", joined).lower()


def sentence_scores(
    sentence: str,
    gold: Sequence[Triple],
    pred: Sequence[Triple],
    relation_names: Iterable[str],
    concept_labels: Sequence[str],
) -> dict[str, float]:
    """All metrics of one sentence (see the module docstring)."""
    gold_rels = {r.replace(" ", "_") for _, r, _ in gold}
    kept = [t for t in pred if t[1] in gold_rels]
    gold_keys = {normalize_triple(*t) for t in gold}
    p, r, f = prf(gold_keys, {normalize_triple(*t) for t in kept})
    sp, sr, sf = prf(gold_keys, {normalize_triple(*t) for t in pred})
    out = {"precision": p, "recall": r, "f1": f}
    out.update(strict_precision=sp, strict_recall=sr, strict_f1=sf)
    if not pred:
        out.update(onto_conf=1.0, rel_halluc=0.0, sub_halluc=0.0, obj_halluc=0.0)
        return out
    names = set(relation_names)
    oc = sum(t[1] in names for t in pred) / len(pred)
    context = stemmed(sentence + " ".join(concept_labels))
    sh = sum(stemmed(s).replace("01januari", "") not in context for s, _, _ in pred)
    oh = sum(stemmed(o).replace("01januari", "") not in context for _, _, o in pred)
    out.update(
        onto_conf=oc, rel_halluc=1 - oc, sub_halluc=sh / len(pred), obj_halluc=oh / len(pred)
    )
    return out


def score_ontology(
    gold: Sequence[Mapping[str, Any]],
    predictions: Mapping[str, Sequence[Triple]],
    relation_names: Iterable[str],
    concept_labels: Sequence[str],
) -> dict[str, float]:
    """Mean metrics over gold sentences ``{"id", "sent", "triples": [{"sub","rel","obj"}]}``;
    ``predictions`` maps ids to triples, and a missing id scores 0 on every metric."""
    names = list(relation_names)
    totals = dict.fromkeys(METRICS + STRICT, 0.0)
    for g in gold:
        if g["id"] not in predictions:
            continue
        triples = [(t["sub"], t["rel"], t["obj"]) for t in g["triples"]]
        s = sentence_scores(g["sent"], triples, predictions[g["id"]], names, concept_labels)
        for k in totals:
            totals[k] += s[k]
    n = len(gold)
    return {k: v / n if n else 0.0 for k, v in totals.items()} | {"sentences": n}


def average(per_ontology: Mapping[str, Mapping[str, float]]) -> dict[str, float]:
    """The unweighted mean of the ontologies' scores."""
    rows = list(per_ontology.values())
    return {k: sum(r[k] for r in rows) / len(rows) for k in METRICS + STRICT} if rows else {}


def read_ground_truth(path: str | Path) -> list[dict[str, Any]]:
    """Text2KGBench ground truth: ``{"id", "sent", "triples": [{"sub", "rel", "obj"}]}`` lines."""
    path = Path(path)
    out = []
    try:
        with path.open(encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise CorpusError(f"invalid JSON: {exc.msg}", path, n) from None
                if not isinstance(obj, dict) or not isinstance(obj.get("sent"), str):
                    raise CorpusError("a gold line needs a 'sent' string", path, n, "sent")
                triples = obj.get("triples", [])
                if not isinstance(triples, list) or not all(
                    isinstance(t, dict) and {"sub", "rel", "obj"} <= t.keys() for t in triples
                ):
                    raise CorpusError("triples must be {sub, rel, obj} objects", path, n, "triples")
                obj.setdefault("id", f"{path.name}:{n}")
                obj["triples"] = triples
                out.append(obj)
    except OSError as exc:
        raise CorpusError(f"cannot read gold file: {exc.strerror}", path) from None
    return out
