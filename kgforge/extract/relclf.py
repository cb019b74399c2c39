"""Trained entity-type and relation classifiers over a frozen sentence-transformers encoder.

Both models keep the transformer frozen and train only a small MLP head on its contextual
word-piece vectors, so they train on a CPU in minutes and ship as files of a few MB.

* :class:`EntityTypeClassifier` re-types and completes the mentions a spaCy pipeline found: it
  scores those mentions and every capitalised or numeric span of up to ``max_width`` words as one
  of the trained types or "none" (features: the span's first, last and mean word-piece vectors,
  its width, and the label spaCy gave it), then keeps the best non-overlapping spans.
* :class:`RelationClassifier` encodes each pair of mentions of a sentence once, with both
  mentions marked by their types (``@ * person * Bill Gates @``), and classifies each ordered
  pair as one of the trained relations or "none" from the marker and span vectors of head and
  tail, the context between them and the whole sentence. Relation labels are only predicted for
  (head type, tail type) signatures seen in training.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import hashlib
import os
import random
import re
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from kgforge.errors import ConfigError
from kgforge.extract.types import Mention, RelationMention
from kgforge.fileio import atomic_write
from kgforge.models import default_text_model

NONE = "none"

# Words used inside the entity markers: the frozen encoder reads them as text.
_TYPE_WORDS = {"Peop": "person", "Org": "organization", "Loc": "location", "Other": "other"}
_WORD = re.compile(r"\S+")


@dataclass(frozen=True)
class Example:
    """One training sentence: its text, entity mentions and the relations between them."""

    text: str
    mentions: list[Mention]
    relations: list[RelationMention] = field(default_factory=list)


def _cache_root() -> Path:
    env = os.environ.get("KGFORGE_CACHE")
    return (Path(env) if env else Path.home() / ".cache" / "kgforge") / "tokens"


class TokenEncoder:
    """A frozen transformer that returns contextual word-piece vectors with character offsets.

    With ``cache=True`` each batch of texts encoded is kept on disk (half precision, keyed by the
    model and a hash of the texts), so training again on the same data skips the encoder.
    """

    def __init__(
        self,
        model: str | None = None,
        max_length: int = 256,
        batch_size: int = 32,
        cache: bool = False,
    ) -> None:
        from sentence_transformers import SentenceTransformer

        self.name = model or default_text_model()
        self.max_length = max_length
        self.batch_size = batch_size
        self.cache = cache
        device = "cuda" if torch.cuda.is_available() else "cpu"
        st = SentenceTransformer(self.name, device=device)
        self.tokenizer = st[0].tokenizer
        self.model = st[0].auto_model.eval()
        self.device = device
        self.dim = int(self.model.config.hidden_size)

    def encode(
        self, texts: Sequence[str], desc: str | None = None
    ) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per text: (word-piece vectors [n, d] float32, char offsets [n, 2]); specials dropped."""
        if not self.cache or not texts:
            return self._encode(texts, desc)
        digest = hashlib.sha1(f"{self.name}\0{self.max_length}".encode())
        for text in texts:
            digest.update(text.encode("utf-8") + b"\0")
        path = _cache_root() / f"{digest.hexdigest()}.npz"
        if path.exists():
            with np.load(path) as data:
                bounds = np.cumsum(data["lengths"])[:-1]
                return [
                    (v.astype(np.float32), o)
                    for v, o in zip(
                        np.split(data["vectors"], bounds),
                        np.split(data["offsets"], bounds),
                        strict=True,
                    )
                ]
        out = self._encode(texts, desc)
        atomic_write(
            path,
            lambda tmp: np.savez(
                tmp,
                vectors=np.concatenate([v for v, _ in out]).astype(np.float16),
                offsets=np.concatenate([o for _, o in out]),
                lengths=np.array([len(v) for v, _ in out]),
            ),
        )
        return [(v.astype(np.float16).astype(np.float32), o) for v, o in out]

    @torch.inference_mode()
    def _encode(
        self, texts: Sequence[str], desc: str | None
    ) -> list[tuple[np.ndarray, np.ndarray]]:
        out: list[tuple[np.ndarray, np.ndarray]] = [None] * len(texts)  # type: ignore[list-item]
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        batches = [order[i : i + self.batch_size] for i in range(0, len(order), self.batch_size)]
        for batch in tqdm(batches, desc=desc or "encoding", disable=desc is None, leave=False):
            enc = self.tokenizer(
                [texts[i] for i in batch],
                padding=True,
                truncation=True,
                max_length=self.max_length,
                return_offsets_mapping=True,
                return_special_tokens_mask=True,
                return_tensors="pt",
            )
            offsets = enc.pop("offset_mapping").numpy()
            special = enc.pop("special_tokens_mask").numpy().astype(bool)
            enc = {k: v.to(self.device) for k, v in enc.items()}
            hidden = self.model(**enc).last_hidden_state.float().cpu().numpy()
            mask = enc["attention_mask"].cpu().numpy().astype(bool) & ~special
            for row, i in enumerate(batch):
                keep = mask[row]
                out[i] = (hidden[row][keep], offsets[row][keep])
        return out


@functools.lru_cache(maxsize=2)
def _shared_encoder(name: str | None) -> TokenEncoder:
    """One loaded encoder per model name, shared by the refiner and the relation classifier."""
    return TokenEncoder(name)


def _pool(
    vecs: np.ndarray, offsets: np.ndarray, start: int, end: int, context: bool = False
) -> np.ndarray:
    """First, last and mean word-piece vector of the pieces inside [start, end); with
    ``context``, also the pieces just before and after it (zeros at the text's edges)."""
    n = (5 if context else 3) * vecs.shape[1]
    inside = np.nonzero((offsets[:, 0] < end) & (offsets[:, 1] > start))[0]
    if len(inside) == 0:  # truncated away
        return np.zeros(n, dtype=np.float32)
    span = vecs[inside]
    parts = [span[0], span[-1], span.mean(0)]
    if context:
        zero = np.zeros(vecs.shape[1], dtype=np.float32)
        parts.append(vecs[inside[0] - 1] if inside[0] > 0 else zero)
        parts.append(vecs[inside[-1] + 1] if inside[-1] + 1 < len(vecs) else zero)
    return np.concatenate(parts)


def _mean(vecs: np.ndarray, offsets: np.ndarray, start: int, end: int) -> np.ndarray:
    inside = (offsets[:, 0] < end) & (offsets[:, 1] > start)
    if not inside.any():
        return np.zeros(vecs.shape[1], dtype=np.float32)
    return vecs[inside].mean(0)


class _MLP(nn.Module):
    def __init__(self, n_in: int, n_hidden: int, n_out: int, dropout: float) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Dropout(dropout),
            nn.Linear(n_in, n_hidden),
            nn.GELU(),
            nn.Dropout(dropout),
            nn.Linear(n_hidden, n_out),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


@contextlib.contextmanager
def _one_thread() -> Iterator[None]:
    """Run torch on one thread inside the block, restoring the previous count after."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


@_one_thread()
def _train_mlp(
    x: np.ndarray,
    y: np.ndarray,
    n_out: int,
    score: Callable[[nn.Module], float] | None,
    *,
    hidden: int,
    dropout: float,
    epochs: int,
    lr: float,
    weight_decay: float,
    batch_size: int,
    seed: int,
) -> tuple[nn.Module, list[float]]:
    """Train an MLP with AdamW; keep the epoch that ``score`` (held-out F1) likes best.

    Runs on one thread: batches this small gain nothing from more, and on a busy machine
    several threads spinning on them make an epoch many times slower.
    """
    torch.manual_seed(seed)
    net = _MLP(x.shape[1], hidden, n_out, dropout)
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=weight_decay)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    gen = torch.Generator().manual_seed(seed)
    best, best_state, history = -1.0, None, []
    for _ in tqdm(range(epochs), desc="training", leave=False):
        net.train()
        for idx in torch.randperm(len(xt), generator=gen).split(batch_size):
            opt.zero_grad()
            loss = nn.functional.cross_entropy(net(xt[idx]), yt[idx])
            loss.backward()
            opt.step()
        net.eval()
        if score is not None:
            value = score(net)
            history.append(value)
            if value > best:
                best, best_state = value, copy.deepcopy(net.state_dict())
    if best_state is not None:
        net.load_state_dict(best_state)
    net.eval()
    return net, history


def _f1(gold: set, pred: set) -> float:
    tp = len(gold & pred)
    return 2 * tp / (len(gold) + len(pred)) if gold or pred else 1.0


class _Model:
    """Shared parts: hyperparameters, the frozen encoder, saving and loading."""

    kind = ""

    def __init__(
        self,
        encoder: str | None = None,
        hidden: int = 256,
        dropout: float = 0.3,
        epochs: int = 40,
        lr: float = 1e-3,
        weight_decay: float = 1e-2,
        batch_size: int = 64,
        seed: int = 0,
    ) -> None:
        self.encoder_name = encoder
        self.params = dict(
            hidden=hidden,
            dropout=dropout,
            epochs=epochs,
            lr=lr,
            weight_decay=weight_decay,
            batch_size=batch_size,
            seed=seed,
        )
        self.labels: list[str] = []
        self.net: nn.Module | None = None
        self.history: list[float] = []
        self.none_weight = 1.0
        self.held_out_f1: float | None = None
        self._encoder: TokenEncoder | None = None

    @property
    def encoder(self) -> TokenEncoder:
        """The frozen encoder, loaded on first use; assign one to share it between models."""
        if self._encoder is None:
            self._encoder = _shared_encoder(self.encoder_name)
        return self._encoder

    @encoder.setter
    def encoder(self, value: TokenEncoder) -> None:
        self._encoder = value

    def _extra_state(self) -> dict:
        return {}

    def _set_extra_state(self, state: dict) -> None:
        pass

    def _fit_net(self, x: np.ndarray, y: np.ndarray, score: Callable | None) -> None:
        """Train the head; with a held-out ``score``, also tune the weight of "none".

        The head is trained on many more "none" examples than real ones; scaling the "none"
        probability by a factor chosen on held-out F1 trades its precision for recall.
        """
        random.seed(self.params["seed"])
        np.random.seed(self.params["seed"])
        self.net, self.history = _train_mlp(x, y, len(self.labels), score, **self.params)
        if score is None:
            return
        best, best_weight = -1.0, 1.0
        for weight in (1.0, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 1.5, 2.0):
            self.none_weight = weight
            value = score(self.net)
            if value > best:
                best, best_weight = value, weight
        self.none_weight, self.held_out_f1 = best_weight, best

    def _choose(self, p: np.ndarray, none: int) -> int:
        """The predicted label of one row of probabilities, "none" scaled by its weight."""
        q = p.copy()
        q[none] *= self.none_weight
        return int(q.argmax())

    def _probs(self, x: np.ndarray) -> np.ndarray:
        if self.net is None:
            raise ConfigError(f"the {self.kind} classifier is not trained")
        if len(x) == 0:
            return np.zeros((0, len(self.labels)), dtype=np.float32)
        with torch.inference_mode():
            return torch.softmax(self.net(torch.from_numpy(x)), -1).numpy()

    def save(self, path: str | Path) -> None:
        """Write the head (half precision), labels and settings; the encoder is referenced."""
        if self.net is None:
            raise ConfigError(f"the {self.kind} classifier is not trained")
        state = {k: v.half() for k, v in self.net.state_dict().items()}
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        torch.save(
            {
                "kind": self.kind,
                "encoder": self.encoder_name,
                "params": self.params,
                "labels": self.labels,
                "history": self.history,
                "none_weight": self.none_weight,
                "held_out_f1": self.held_out_f1,
                "state": state,
                **self._extra_state(),
            },
            path,
        )

    @classmethod
    def load(cls, path: str | Path, encoder: str | None = None):
        """Load a saved model; ``encoder`` overrides the encoder it was trained with."""
        try:
            blob = torch.load(path, map_location="cpu", weights_only=True)
        except FileNotFoundError:
            raise ConfigError(f"model file not found: {path}") from None
        except Exception as exc:
            raise ConfigError(f"not a kgforge model file: {exc}", path) from None
        if not isinstance(blob, dict) or blob.get("kind") != cls.kind:
            raise ConfigError(f"not a kgforge {cls.kind} classifier file", path)
        model = cls(encoder=encoder or blob["encoder"], **blob["params"])
        model.labels = list(blob["labels"])
        model.history = list(blob["history"])
        model.none_weight = float(blob.get("none_weight", 1.0))
        model.held_out_f1 = blob.get("held_out_f1")
        model._set_extra_state(blob)
        state = {k: v.float() for k, v in blob["state"].items()}
        n_in, n_hidden = state["net.1.weight"].shape[1], state["net.1.weight"].shape[0]
        model.net = _MLP(n_in, n_hidden, len(model.labels), model.params["dropout"])
        model.net.load_state_dict(state)
        model.net.eval()
        return model


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


class EntityTypeClassifier(_Model):
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
                            _pool(vecs, offsets, start, end, self.context),
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
                return _f1(
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


class RelationClassifier(_Model):
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
                        [_mean(vecs, offsets, marker, marker + 1), _mean(vecs, offsets, start, end)]
                    )
                )
            first_end = min(spans[0][2], spans[1][2])
            second_start = max(spans[0][0], spans[1][0])
            between = _mean(vecs, offsets, first_end, second_start)
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

    def fit(self, train: Sequence[Example], held_out: Sequence[Example] | None = None):
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
                return _f1(
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


@dataclass
class TrainSummary:
    """What ``train_from_gold`` did: sizes, held-out scores and wall time."""

    train_sentences: int
    held_out_sentences: int
    tuned_on: str
    relation_f1: float
    entity_f1: float | None
    seconds: float

    def __str__(self) -> str:
        lines = [
            f"trained on {self.train_sentences} sentences, early stopping on "
            f"{self.held_out_sentences} ({self.tuned_on})",
            f"relations (gold mentions), best held-out strict F1: {100 * self.relation_f1:.1f}",
        ]
        if self.entity_f1 is not None:
            lines.append(f"entity types, best held-out strict F1: {100 * self.entity_f1:.1f}")
        lines.append(f"{self.seconds:.0f} s")
        return "\n".join(lines)


def pipeline_mentions(pipeline: Any, texts: Sequence[str]) -> list[list[Mention]]:
    """The mentions a pipeline's spaCy model and type mapping give each text (no refiner)."""
    mapping, drop = pipeline.config.type_mapping, pipeline.config.drop_unmapped
    out = []
    for doc in pipeline.nlp.pipe(texts):
        ms = []
        for ent in doc.ents:
            label = mapping.get(ent.label_, None if drop else ent.label_)
            if label is not None:
                ms.append(Mention(ent.start_char, ent.end_char, ent.text, label))
        out.append(ms)
    return out


def train_from_gold(
    train_path: str | Path,
    output: str | Path,
    dev_path: str | Path | None = None,
    entity_output: str | Path | None = None,
    encoder: str | None = None,
    pipeline: Any = "conll04",
    held_out: float = 0.15,
    epochs: int = 40,
    seed: int = 0,
) -> TrainSummary:
    """Train the relation classifier (and optionally the entity-type refiner) on gold JSONL.

    Early stopping uses ``dev_path`` when given, else a seeded ``held_out`` fraction of the
    training sentences (so the dev set stays unseen). The refiner learns from the mentions that
    ``pipeline``'s spaCy model and type mapping produce; encoder outputs are cached on disk.
    """
    import time

    from kgforge.extract.evaluate import read_gold
    from kgforge.extract.pipeline import load_pipeline

    start = time.perf_counter()
    train = read_gold(train_path)
    if dev_path is not None:
        tune, tuned_on = read_gold(dev_path), str(dev_path)
    else:
        if not 0 < held_out < 1:
            raise ConfigError(f"held-out fraction must be in (0, 1), not {held_out}")
        order = list(range(len(train)))
        random.Random(seed).shuffle(order)
        cut = max(1, int(held_out * len(train)))
        tune = [train[i] for i in order[:cut]]
        train = [train[i] for i in sorted(order[cut:])]
        tuned_on = f"{held_out:.0%} of {train_path}"
    token_encoder = TokenEncoder(encoder, cache=True)

    relations = RelationClassifier(encoder=encoder, epochs=epochs, seed=seed)
    relations.encoder = token_encoder
    relations.fit(
        [Example(s.text, s.mentions, s.relations) for s in train],
        [Example(s.text, s.mentions, s.relations) for s in tune],
    )
    relations.save(output)
    entity_f1 = None
    if entity_output is not None:
        if not hasattr(pipeline, "nlp"):
            pipeline = load_pipeline(pipeline)
        types = EntityTypeClassifier(encoder=encoder, epochs=epochs, seed=seed)
        types.encoder = token_encoder
        train_texts, tune_texts = [s.text for s in train], [s.text for s in tune]
        types.fit(
            list(zip(train_texts, pipeline_mentions(pipeline, train_texts), strict=True)),
            [s.mentions for s in train],
            (
                list(zip(tune_texts, pipeline_mentions(pipeline, tune_texts), strict=True)),
                [s.mentions for s in tune],
            ),
        )
        types.save(entity_output)
        entity_f1 = types.held_out_f1
    return TrainSummary(
        len(train),
        len(tune),
        tuned_on,
        relations.held_out_f1,
        entity_f1,
        time.perf_counter() - start,
    )
