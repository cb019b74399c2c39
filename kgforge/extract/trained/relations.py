"""The relation classifier: each ordered pair of mentions of a sentence, a relation or "none"."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np
from torch import nn

from kgforge.extract.gold import GoldSentence
from kgforge.extract.trained.encoder import mean_vector
from kgforge.extract.trained.head import NONE, TrainedHead, f1
from kgforge.extract.types import Mention, RelationMention

# Words used inside the entity markers: the frozen encoder reads them as text.
_TYPE_WORDS = {"Peop": "person", "Org": "organization", "Loc": "location", "Other": "other"}


def _mark(text: str, a: Mention, b: Mention) -> tuple[str, list[tuple[int, int, int]]]:
    """Insert typed markers around two non-overlapping mentions.

    Returns the marked text and, per mention (in the order a, b), the character offsets of its
    opening marker and of the mention itself in the marked text.
    """
    pieces, spans, pos, shift = [], {}, 0, 0
    for key, m in sorted((("a", a), ("b", b)), key=lambda km: km[1].start):
        opening = f"@ * {_TYPE_WORDS.get(m.label, m.label.lower())} * "
        pieces += [text[pos : m.start], opening, text[m.start : m.end], " @"]
        marker = m.start + shift
        shift += len(opening)
        spans[key] = (marker, m.start + shift, m.end + shift)
        shift += 2
        pos = m.end
    pieces.append(text[pos:])
    return "".join(pieces), [spans["a"], spans["b"]]


class RelationClassifier(TrainedHead):
    """Classifies each ordered pair of mentions of a sentence as a relation or "none"."""

    kind = "relations"

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.entity_labels: list[str] = []
        self.signatures: dict[str, list[tuple[str, str]]] = {}

    def _extra_state(self) -> dict:
        return {"entity_labels": self.entity_labels, "signatures": self.signatures}

    def _set_extra_state(self, state: dict) -> None:
        self.entity_labels = list(state["entity_labels"])
        self.signatures = {k: [tuple(s) for s in v] for k, v in state["signatures"].items()}

    def _type(self, label: str) -> np.ndarray:
        v = np.zeros(len(self.entity_labels) + 1, dtype=np.float32)
        v[self.entity_labels.index(label) if label in self.entity_labels else -1] = 1
        return v

    def _features(
        self, items: Sequence[tuple[str, Sequence[Mention]]], desc: str | None = None
    ) -> tuple[np.ndarray, list[list[tuple[int, int]]]]:
        """One row per ordered pair of non-overlapping mentions; one encoder pass per pair."""
        texts, jobs = [], []
        for n, (text, ms) in enumerate(items):
            for i in range(len(ms)):
                for j in range(i + 1, len(ms)):
                    if ms[i].end <= ms[j].start or ms[j].end <= ms[i].start:
                        marked, spans = _mark(text, ms[i], ms[j])
                        texts.append(marked)
                        jobs.append((n, i, j, spans))
        encoded = self.encoder.encode(texts, desc=desc)
        rows: list[np.ndarray] = []
        pairs: list[list[tuple[int, int]]] = [[] for _ in items]
        for (n, i, j, spans), (vecs, offsets) in zip(jobs, encoded, strict=True):
            ms = items[n][1]
            reps = []
            for marker, start, end in spans:
                reps.append(
                    np.concatenate(
                        [
                            mean_vector(vecs, offsets, marker, marker + 1),
                            mean_vector(vecs, offsets, start, end),
                        ]
                    )
                )
            first_end = min(spans[0][2], spans[1][2])
            second_start = max(spans[0][0], spans[1][0])
            between = mean_vector(vecs, offsets, first_end, second_start)
            sentence = vecs.mean(0) if len(vecs) else np.zeros(self.encoder.dim, np.float32)
            gap = len(
                items[n][0][min(ms[i].end, ms[j].end) : max(ms[i].start, ms[j].start)].split()
            )
            dist = np.zeros(6, dtype=np.float32)
            dist[min(int(np.log2(gap + 1)), 5)] = 1
            for (h, t), (rh, rt) in (((i, j), (reps[0], reps[1])), ((j, i), (reps[1], reps[0]))):
                forward = np.array([float(ms[h].start < ms[t].start)], dtype=np.float32)
                rows.append(
                    np.concatenate(
                        [
                            rh,
                            rt,
                            between,
                            sentence,
                            self._type(ms[h].label),
                            self._type(ms[t].label),
                            dist,
                            forward,
                        ]
                    )
                )
                pairs[n].append((h, t))
        dim = 6 * self.encoder.dim + 2 * (len(self.entity_labels) + 1) + 7
        x = np.stack(rows).astype(np.float32) if rows else np.zeros((0, dim), np.float32)
        return x, pairs

    def fit(self, train: Sequence[GoldSentence], held_out: Sequence[GoldSentence] | None = None):
        """Train on sentences with gold mentions; keep the epoch best on ``held_out`` F1."""
        self.entity_labels = sorted({m.label for ex in train for m in ex.mentions})
        self.labels = [*sorted({r.label for ex in train for r in ex.relations}), NONE]
        counts = Counter(
            (r.label, ex.mentions[r.head].label, ex.mentions[r.tail].label)
            for ex in train
            for r in ex.relations
        )
        self.signatures = {}
        for (rel, h, t), c in sorted(counts.items()):
            if c >= 2:  # a single odd pair is more likely an annotation slip than a signature
                self.signatures.setdefault(rel, []).append((h, t))
        x, pairs = self._features([(ex.text, ex.mentions) for ex in train], desc="pair features")
        y = []
        for ex, sent_pairs in zip(train, pairs, strict=True):
            lab = {(r.head, r.tail): r.label for r in ex.relations}
            y += [self.labels.index(lab.get(p, NONE)) for p in sent_pairs]
        score = None
        if held_out:
            items = [(ex.text, ex.mentions) for ex in held_out]
            hx, hpairs = self._features(items, desc="held-out pair features")
            hgold = {
                (n, r.head, r.tail, r.label) for n, ex in enumerate(held_out) for r in ex.relations
            }

            def score(net: nn.Module) -> float:
                self.net = net
                pred = self._predict_from(items, hx, hpairs)
                return f1(
                    hgold, {(n, r.head, r.tail, r.label) for n, rs in enumerate(pred) for r in rs}
                )

        self._fit_net(x, np.array(y, dtype=np.int64), score)
        return self

    def _predict_from(self, items, x, pairs) -> list[list[RelationMention]]:
        probs = self._probs(x)
        none = self.labels.index(NONE)
        out, pos = [], 0
        for (_, ms), sent_pairs in zip(items, pairs, strict=True):
            found = []
            for (h, t), p in zip(sent_pairs, probs[pos : pos + len(sent_pairs)], strict=True):
                p = p.copy()
                for k, rel in enumerate(self.labels):
                    if k != none and (ms[h].label, ms[t].label) not in self.signatures.get(rel, ()):
                        p[k] = 0.0
                k = self._choose(p, none)
                if k != none:
                    found.append(RelationMention(h, t, self.labels[k], float(p[k])))
            out.append(found)
            pos += len(sent_pairs)
        return out

    def predict_batch(
        self, items: Sequence[tuple[str, Sequence[Mention]]]
    ) -> list[list[RelationMention]]:
        """Per sentence: relations between its mentions (head/tail index the mention list)."""
        x, pairs = self._features(items)
        return self._predict_from(items, x, pairs)
