"""The entity-type refiner: re-types and completes the mentions a spaCy pipeline found."""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
from torch import nn

from kgforge.extract.trained.encoder import pool
from kgforge.extract.trained.head import NONE, TrainedHead, f1
from kgforge.extract.types import Mention

_WORD = re.compile(r"\S+")


def _candidates(text: str, given: Sequence[Mention], max_width: int) -> list[tuple[int, int]]:
    """Spans to classify: the given mentions plus capitalised/numeric word spans."""
    words = [(m.start(), m.end(), m.group()) for m in _WORD.finditer(text)]
    spans = {(m.start, m.end) for m in given}
    for i, (start, _, first) in enumerate(words):
        if not (first[0].isupper() or first[0].isdigit()):
            continue
        for j in range(i, min(len(words), i + max_width)):
            last = words[j][2]
            if j > i and not any(c.isalnum() for c in last) and last != ".":
                continue
            spans.add((start, words[j][1]))
    return sorted(spans)


class EntityTypeClassifier(TrainedHead):
    """Re-types and completes spaCy's mentions with a trained span classifier."""

    kind = "entity-types"

    def __init__(self, *args, max_width: int = 8, context: bool = True, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.max_width = max_width
        self.context = context
        self.given_labels: list[str] = []

    def _extra_state(self) -> dict:
        return {
            "max_width": self.max_width,
            "context": self.context,
            "given_labels": self.given_labels,
        }

    def _set_extra_state(self, state: dict) -> None:
        self.max_width = int(state["max_width"])
        self.context = bool(state.get("context", False))
        self.given_labels = list(state["given_labels"])

    def _features(
        self, items: Sequence[tuple[str, Sequence[Mention]]], desc: str | None = None
    ) -> tuple[np.ndarray, list[list[tuple[int, int]]]]:
        encoded = self.encoder.encode([text for text, _ in items], desc=desc)
        rows, spans_per_item = [], []
        n_given = len(self.given_labels) + 1
        for (text, given), (vecs, offsets) in zip(items, encoded, strict=True):
            spans = _candidates(text, given, self.max_width)
            spans_per_item.append(spans)
            exact = {(m.start, m.end): m.label for m in given}
            for start, end in spans:
                width = np.zeros(self.max_width + 1, dtype=np.float32)
                width[min(len(text[start:end].split()), self.max_width + 1) - 1] = 1
                label = np.zeros(n_given, dtype=np.float32)
                overlap = np.zeros(n_given, dtype=np.float32)
                lab = exact.get((start, end))
                label[self.given_labels.index(lab) if lab in self.given_labels else -1] = 1
                for m in given:
                    if m.start < end and m.end > start and (m.start, m.end) != (start, end):
                        k = self.given_labels.index(m.label) if m.label in self.given_labels else -1
                        overlap[k] = 1
                shape = np.array(
                    [text[start].isupper(), text[start].isdigit(), text[end - 1] == "."],
                    dtype=np.float32,
                )
                rows.append(
                    np.concatenate(
                        [
                            pool(vecs, offsets, start, end, self.context),
                            width,
                            label,
                            overlap,
                            shape,
                        ]
                    )
                )
        dim = (5 if self.context else 3) * self.encoder.dim + self.max_width + 1 + 2 * n_given + 3
        x = np.stack(rows).astype(np.float32) if rows else np.zeros((0, dim), np.float32)
        return x, spans_per_item

    def _decode(self, text: str, spans: list[tuple[int, int]], probs: np.ndarray) -> list[Mention]:
        """Keep the most confident non-"none" spans that do not overlap each other."""
        none = self.labels.index(NONE)
        ranked = []
        for span, p in zip(spans, probs, strict=True):
            k = self._choose(p, none)
            if k != none:
                ranked.append((float(p[k]), span, k))
        ranked.sort(reverse=True)
        chosen: list[Mention] = []
        for conf, (start, end), k in ranked:
            if all(end <= m.start or start >= m.end for m in chosen):
                chosen.append(Mention(start, end, text[start:end], self.labels[k], conf))
        return sorted(chosen, key=lambda m: m.start)

    def fit(
        self,
        items: Sequence[tuple[str, Sequence[Mention]]],
        gold: Sequence[Sequence[Mention]],
        held_out: tuple[Sequence[tuple[str, Sequence[Mention]]], Sequence[Sequence[Mention]]]
        | None = None,
    ) -> EntityTypeClassifier:
        """Train on sentences with the pipeline's mentions (``items``) and the gold mentions."""
        types = sorted({m.label for ms in gold for m in ms})
        self.labels = [*types, NONE]
        self.given_labels = sorted({m.label for _, ms in items for m in ms})
        x, spans = self._features(items, desc="entity features")
        y = []
        for sent_spans, ms in zip(spans, gold, strict=True):
            lab = {(m.start, m.end): m.label for m in ms}
            y += [self.labels.index(lab.get(s, NONE)) for s in sent_spans]
        score = None
        if held_out is not None:
            hx, hspans = self._features(held_out[0], desc="held-out entity features")
            hgold = {(i, m.start, m.end, m.label) for i, ms in enumerate(held_out[1]) for m in ms}

            def score(net: nn.Module) -> float:
                self.net = net
                pred = self._predict_from(held_out[0], hx, hspans)
                return f1(
                    hgold, {(i, m.start, m.end, m.label) for i, ms in enumerate(pred) for m in ms}
                )

        self._fit_net(x, np.array(y, dtype=np.int64), score)
        return self

    def _predict_from(self, items, x, spans) -> list[list[Mention]]:
        probs = self._probs(x)
        out, pos = [], 0
        for (text, _), sent_spans in zip(items, spans, strict=True):
            out.append(self._decode(text, sent_spans, probs[pos : pos + len(sent_spans)]))
            pos += len(sent_spans)
        return out

    def predict_batch(self, items: Sequence[tuple[str, Sequence[Mention]]]) -> list[list[Mention]]:
        """Per sentence: the typed mentions it holds (offsets relative to the sentence)."""
        x, spans = self._features(items)
        return self._predict_from(items, x, spans)
