"""The schema-guided relation scorer: which ontology relations a sentence states, and between
which of its candidate spans.

Every score is a logistic model over frozen encoder features (the sentence-transformers MiniLM
by default; word-piece vectors mean-pooled over a span, ``v(span)``, and over the sentence,
``v(s)``), so training takes seconds on a CPU:

- relation detection: ``p(r | s) = σ(w_r · [v(s), tfidf(s)] + b_r)`` per relation with
  examples (``tfidf``: word uni- and bigrams, the cue words a pooled vector blurs); a relation
  without examples is scored zero-shot, ``cos(v(s), v(text(r)))`` with ``text(r)`` = "domain
  label relation label range label: description";
- subject: ``p(subj | c) = σ(w · [v(c), f(c)])`` over candidates ``c`` (``v(c)`` also holds the
  two word pieces before the span; ``f``: kinds, position);
- object of ``r``: ``p(obj_r | c) = σ(w_r · [v(c), f(c), g(c, subj)])`` per relation with
  examples, else zero-shot ``cos(v(c), v(label(range(r))))``;
- candidates are typed against the ontology's classes (``TypeTable``): a subject must fit the
  relation's domain and an object its range; a relation outside the ontology is never produced.

Thresholds (relation, object, further objects of the same relation) are tuned on a seeded dev
part of the examples, then the models are refitted on all of them. Examples are sentences with
their triples; gold arguments need not be literally in the text (the dates of Wikidata, another
name), so the surface form a span maps to is learned too: a date template and an alias table
("American" -> "United States of America" for ``country_of_origin``); a sentence that is one
of the examples gets the example's triples.

Example::

    model = SchemaModel.fit(ontology, examples, nlp)
    for triples in model.predict([nlp(text)]): ...
"""

from __future__ import annotations

import hashlib
import logging
import random
import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from kgforge.cache import cache_path
from kgforge.extract.schema.candidates import (
    DATE_TEMPLATES,
    KINDS,
    Candidate,
    DateRenderer,
    candidates,
    surface_forms,
)
from kgforge.extract.schema.metrics import normalize_triple, prf
from kgforge.extract.schema.ontology import Ontology
from kgforge.fileio import atomic_write

log = logging.getLogger(__name__)
_KIND_INDEX = {k: i for i, k in enumerate(KINDS)}
FORMAT = 3  # bump when features or saved models change: cached models are then retrained
_SPACE = re.compile(r"(_|\s+)")


def norm(text: str) -> str:
    """The benchmark's entity normalisation: lower-case, no whitespace or ``_``."""
    return _SPACE.sub("", text).lower()


@dataclass(frozen=True)
class Example:
    """A training sentence and the triples it states (relation names as in the ontology)."""

    text: str
    triples: tuple[tuple[str, str, str], ...]


@dataclass(frozen=True)
class SchemaTriple:
    """One extracted triple: argument spans (sentence offsets; ``None`` for a form not in the
    text) with their canonical surface forms, the relation name and a confidence."""

    subject: Candidate
    subject_text: str
    relation: str
    object: Candidate
    object_text: str
    confidence: float


@dataclass
class SentFeatures:
    """Frozen features of one parsed sentence."""

    cands: list[Candidate]
    text: str
    span: np.ndarray  # [n, 2d] mean word-piece vector of each candidate, and of the 2 before it
    extra: np.ndarray  # [n, k] kinds and position
    sent: np.ndarray  # [d] normalised sentence vector


def _extra(cands: list[Candidate], length: int) -> np.ndarray:
    out = np.zeros((len(cands), len(KINDS) + 8), dtype=np.float32)
    for i, c in enumerate(cands):
        for k in c.kinds:
            if k in _KIND_INDEX:
                out[i, _KIND_INDEX[k]] = 1.0
        base = len(KINDS)
        out[i, base] = c.start / max(length, 1)
        out[i, base + 1] = float(c.start == 0)
        out[i, base + 2] = float(i == 0)
        out[i, base + 3] = min(i, 10) / 10
        out[i, base + 4] = min(len(c.text.split()), 10) / 10
        out[i, base + 5] = float(c.text[:1].isupper())
        out[i, base + 6] = float(c.text.split(" ", 1)[0].lower() in ("the", "a", "an"))
        out[i, base + 7] = float(any(ch.isdigit() for ch in c.text))
    return out


def _pair(cands: list[Candidate], subj: int | None) -> np.ndarray:
    """Where each candidate is relative to the chosen subject."""
    out = np.zeros((len(cands), 3), dtype=np.float32)
    if subj is None:
        return out
    s = cands[subj]
    for i, c in enumerate(cands):
        out[i, 0] = float(c.start >= s.end)
        out[i, 1] = float(c.end <= s.start)
        out[i, 2] = min(abs(c.start - s.start), 200) / 200
    return out


# (relation index, its score, subject index, [(object index, score, canonical form)])
Scored = tuple[int, float, int, list[tuple[int, float, str]]]


def _overlaps(a: Candidate, b: Candidate) -> bool:
    return a.start < b.end and b.start < a.end


class Featurizer:
    """Candidates and frozen encoder features of parsed sentences, cached on disk by content."""

    def __init__(self, encoder: str | None = None, cache: bool = True) -> None:
        self.encoder_name = encoder
        self.cache = cache
        self._encoder: Any = None

    @property
    def encoder(self) -> Any:
        if self._encoder is None:
            from kgforge.extract.trained.encoder import TokenEncoder

            self._encoder = TokenEncoder(self.encoder_name)
        return self._encoder

    def texts(self, texts: Sequence[str]) -> np.ndarray:
        """Normalised mean-pooled vectors of short texts (relation and class labels)."""
        enc = self.encoder.encode(list(texts))
        vecs = np.stack([v.mean(0) if len(v) else np.zeros(self.encoder.dim) for v, _ in enc])
        return vecs / np.maximum(np.linalg.norm(vecs, axis=1, keepdims=True), 1e-9)

    def __call__(self, sents: Sequence[Any], cache: bool | None = None) -> list[SentFeatures]:
        """Features of spaCy sentence spans (``Span`` or ``Doc``), in order; ``cache`` (default:
        the featurizer's setting) keeps them on disk, keyed by the texts and candidates."""
        cands = [candidates(s if hasattr(s, "start_char") else s[:]) for s in sents]
        texts = [s.text for s in sents]
        use_cache = self.cache if cache is None else cache
        path = self._cache_path(texts, cands) if use_cache else None
        if path is not None and path.exists():
            with np.load(path) as data:
                spans, sentv = data["span"].astype(np.float32), data["sent"].astype(np.float32)
        else:
            spans, sentv = self._encode(texts, cands)
            if path is not None:
                atomic_write(
                    path,
                    lambda tmp: np.savez(
                        tmp, span=spans.astype(np.float16), sent=sentv.astype(np.float16)
                    ),
                )
        out, k = [], 0
        for i, cs in enumerate(cands):
            out.append(
                SentFeatures(
                    cs, texts[i], spans[k : k + len(cs)], _extra(cs, len(texts[i])), sentv[i]
                )
            )
            k += len(cs)
        return out

    def _encode(self, texts: list[str], cands: list[list[Candidate]]) -> tuple[np.ndarray, ...]:
        enc = self.encoder.encode(texts, desc="encoding" if len(texts) > 200 else None)
        dim = self.encoder.dim
        spans, sentv = [], np.zeros((len(texts), dim), dtype=np.float32)
        for i, ((vecs, offsets), cs) in enumerate(zip(enc, cands, strict=True)):
            if len(vecs):
                v = vecs.mean(0)
                sentv[i] = v / max(float(np.linalg.norm(v)), 1e-9)
            zero = np.zeros(dim, np.float32)
            for c in cs:
                inside = np.nonzero((offsets[:, 0] < c.end) & (offsets[:, 1] > c.start))[0]
                if not len(inside):  # truncated away
                    spans.append(np.concatenate([zero, zero]))
                    continue
                before = vecs[max(inside[0] - 2, 0) : inside[0]]
                left = before.mean(0) if len(before) else zero
                spans.append(np.concatenate([vecs[inside].mean(0), left]))
        span = np.stack(spans) if spans else np.zeros((0, 2 * dim), dtype=np.float32)
        return span, sentv

    def _cache_path(self, texts: list[str], cands: list[list[Candidate]]) -> Path:
        digest = hashlib.sha1(f"{FORMAT}\0{self.encoder_name or 'default'}".encode())
        for text, cs in zip(texts, cands, strict=True):
            digest.update(text.encode("utf-8") + b"\0")
            digest.update(",".join(f"{c.start}:{c.end}" for c in cs).encode() + b"\0")
        return cache_path("schema") / f"{digest.hexdigest()}.npz"


# ---- logistic models kept as plain arrays ------------------------------------------------------
def _fit_lr(x: np.ndarray, y: np.ndarray, c: float = 1.0) -> np.ndarray:
    """Weights (last entry: bias) of an L2 logistic regression; constant if ``y`` is."""
    from sklearn.linear_model import LogisticRegression

    if y.min() == y.max():
        w = np.zeros(x.shape[1] + 1, dtype=np.float32)
        w[-1] = 6.0 if y[0] else -6.0
        return w
    lr = LogisticRegression(C=c, max_iter=300, class_weight="balanced")
    lr.fit(x, y)
    return np.concatenate([lr.coef_[0], lr.intercept_]).astype(np.float32)


def _prob(w: np.ndarray, x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-(x @ w[:-1] + w[-1])))


class BagOfWords:
    """Sublinear TF-IDF of word uni- and bigrams (seen in two examples at least), L2-normalised:
    the cue words ("directed", "starring") that a mean-pooled sentence vector blurs."""

    def __init__(self, vocab: dict[str, int] | None = None, idf: np.ndarray | None = None) -> None:
        self.vocab = vocab or {}
        self.idf = idf if idf is not None else np.zeros(0, dtype=np.float32)

    @classmethod
    def fit(cls, texts: Sequence[str]) -> BagOfWords:
        from sklearn.feature_extraction.text import TfidfVectorizer

        if len(texts) < 2:
            return cls()
        vec = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True)
        try:
            vec.fit(texts)
        except ValueError:  # no term in two examples
            return cls()
        vocab = {str(k): int(v) for k, v in vec.vocabulary_.items()}
        return cls(vocab, vec.idf_.astype(np.float32))

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        from sklearn.feature_extraction.text import CountVectorizer

        if not self.vocab:
            return np.zeros((len(texts), 0), dtype=np.float32)
        counts = CountVectorizer(ngram_range=(1, 2), vocabulary=self.vocab).transform(texts)
        x = counts.toarray().astype(np.float32)
        x[x > 0] = 1 + np.log(x[x > 0])
        x *= self.idf
        return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-9)


class TypeTable:
    """Candidate kinds seen for each class as a subject (domain) or object (range) in examples.

    A class observed at least ``min_seen`` times accepts a candidate only if one of its kinds
    made up at least ``min_share`` of those observations; a rarer or unconstrained class
    accepts every candidate.
    """

    def __init__(self, min_seen: int = 5, min_share: float = 0.03) -> None:
        self.counts: dict[str, Counter] = defaultdict(Counter)
        self.totals: Counter = Counter()
        self.min_seen, self.min_share = min_seen, min_share

    def add(self, cls: str | None, cand: Candidate) -> None:
        if cls is not None:
            self.totals[cls] += 1
            self.counts[cls].update(cand.kinds)

    def allows(self, cls: str | None, cand: Candidate) -> bool:
        n = self.totals.get(cls, 0) if cls is not None else 0
        if n < self.min_seen:
            return True
        seen = self.counts[cls]  # type: ignore[index]
        return any(seen[k] >= self.min_share * n for k in cand.kinds)

    def state(self) -> dict:
        return {"counts": {c: dict(v) for c, v in self.counts.items()}, "totals": dict(self.totals)}

    @classmethod
    def from_state(cls, state: dict) -> TypeTable:
        t = cls()
        for c, v in state["counts"].items():
            t.counts[c] = Counter(v)
        t.totals = Counter(state["totals"])
        return t


@dataclass
class Thresholds:
    relation: float = 0.5
    object: float = 0.3
    more_objects: float = 0.8
    zero_shot_relation: float = 0.35
    # further objects only for relations whose example sentences have several objects at
    # least this often (a functional relation such as a birth date keeps one)
    multi_share: float = 0.0


@dataclass
class SchemaModel:
    """Relation, subject and object scorers for one ontology (see the module docstring)."""

    ontology: Ontology
    featurizer: Featurizer
    relation_w: dict[str, np.ndarray] = field(default_factory=dict)
    object_w: dict[str, np.ndarray] = field(default_factory=dict)
    subject_w: np.ndarray | None = None
    types: TypeTable = field(default_factory=TypeTable)
    aliases: dict[str, str] = field(default_factory=dict)  # "rel\0normtext" -> surface form
    date_template: str = "text"
    thresholds: Thresholds = field(default_factory=Thresholds)
    words: BagOfWords = field(default_factory=BagOfWords)
    memory: dict[str, list[list[str]]] = field(default_factory=dict)  # norm(text) -> triples
    # per relation: share of its example sentences that state it with several objects
    multi: dict[str, float] = field(default_factory=dict)
    # per relation: p(candidate is an object of the relation) over every example sentence's
    # candidates, the relation's own or not: "directed by X" votes for director
    pair_w: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._dates = DateRenderer(self.date_template)
        self._rel_vecs: np.ndarray | None = None
        self._range_vecs: np.ndarray | None = None

    # -- zero-shot vectors --------------------------------------------------------------------
    def _label_vectors(self) -> tuple[np.ndarray, np.ndarray]:
        if self._rel_vecs is None:
            onto = self.ontology
            self._rel_vecs = self.featurizer.texts([onto.relation_text(r) for r in onto.relations])
            self._range_vecs = self.featurizer.texts(
                [onto.class_label(r.range) if r.range else r.label for r in onto.relations]
            )
        return self._rel_vecs, self._range_vecs  # type: ignore[return-value]

    # -- canonical forms ------------------------------------------------------------------------
    def forms(self, relation: str, cand: Candidate) -> list[str]:
        """The surface forms a candidate may take as an object of ``relation``, best first."""
        alias = self.aliases.get(f"{relation}\0{norm(cand.text)}")
        forms = surface_forms(cand.text, self._dates)
        return [alias, *forms] if alias else forms

    # -- scoring ---------------------------------------------------------------------------------
    def relation_scores(self, feats: Sequence[SentFeatures]) -> np.ndarray:
        """[sentences, relations]: trained probabilities, or zero-shot similarity mapped so
        that its threshold lands on the trained one."""
        sent = self._relation_features(feats)
        plain = np.stack([f.sent for f in feats]) if feats else np.zeros((0, 1))
        rel_vecs, _ = self._label_vectors()
        out = np.zeros((len(feats), len(self.ontology.relations)), dtype=np.float32)
        t = self.thresholds
        for j, r in enumerate(self.ontology.relations):
            w = self.relation_w.get(r.name)
            if w is not None:
                out[:, j] = _prob(w, sent)
                pair = self.pair_w.get(r.name)
                if pair is not None:  # the sentence's vote and its best argument's, averaged
                    out[:, j] = (out[:, j] + self._best_pair(pair, feats)) / 2
            else:  # zero-shot: similarity t.zero_shot_relation scores t.relation
                out[:, j] = np.clip(t.relation + (plain @ rel_vecs[j] - t.zero_shot_relation), 0, 1)
        return out

    @staticmethod
    def _best_pair(w: np.ndarray, feats: Sequence[SentFeatures]) -> np.ndarray:
        """Per sentence, the highest probability that one of its candidates is an object of
        the relation (0 without candidates)."""
        out = np.zeros(len(feats), dtype=np.float32)
        for i, f in enumerate(feats):
            if f.cands:
                out[i] = float(_prob(w, np.hstack([f.span, f.extra])).max())
        return out

    def _relation_features(self, feats: Sequence[SentFeatures]) -> np.ndarray:
        if not feats:
            return np.zeros((0, 1), dtype=np.float32)
        sent = np.stack([f.sent for f in feats])
        return np.hstack([sent, self.words([f.text for f in feats])])

    def subject_scores(self, f: SentFeatures) -> np.ndarray:
        x = np.hstack([f.span, f.extra])
        if self.subject_w is None:  # zero-shot: the first candidate, then text order
            return 1.0 - np.arange(len(f.cands), dtype=np.float32) / max(len(f.cands), 1)
        return _prob(self.subject_w, x)

    def object_scores(self, f: SentFeatures, j: int, subj: int | None) -> np.ndarray:
        r = self.ontology.relations[j]
        w = self.object_w.get(r.name)
        if w is None:
            _, range_vecs = self._label_vectors()
            span = f.span[:, : range_vecs.shape[1]]
            v = span / np.maximum(np.linalg.norm(span, axis=1, keepdims=True), 1e-9)
            return np.clip(0.5 + (v @ range_vecs[j] - 0.3), 0, 1)
        return _prob(w, np.hstack([f.span, f.extra, _pair(f.cands, subj)]))

    def _scored(self, f: SentFeatures, rel_scores: np.ndarray, min_relation: float) -> list[Scored]:
        """Per relation scoring at least ``min_relation``: (relation index, its score, the best
        subject fitting the domain, objects fitting the range with scores and canonical forms,
        best first)."""
        out: list[Scored] = []
        if not f.cands:
            return out
        subj_scores = self.subject_scores(f)
        done = set()
        for j in np.argsort(-rel_scores):
            if rel_scores[j] < min_relation:
                break
            r = self.ontology.relations[j]
            if r.name in done:  # a name declared twice: scored once
                continue
            done.add(r.name)
            allowed = [i for i, c in enumerate(f.cands) if self.types.allows(r.domain, c)]
            if not allowed:
                continue
            subj = max(allowed, key=lambda i: subj_scores[i])
            s = f.cands[subj]
            obj_scores = self.object_scores(f, int(j), subj)
            objs = [
                (int(i), float(obj_scores[i]), self.forms(r.name, f.cands[i])[0])
                for i in np.argsort(-obj_scores)
                if not _overlaps(f.cands[i], s) and self.types.allows(r.range, f.cands[i])
            ]
            out.append((int(j), float(rel_scores[j]), subj, objs))
        return out

    def _select(
        self,
        f: SentFeatures,
        scored: list[Scored],
        t: Thresholds,
    ) -> list[SchemaTriple]:
        out: list[SchemaTriple] = []
        for j, p_rel, subj, objs in scored:
            if p_rel < t.relation:
                continue
            r, s = self.ontology.relations[j], f.cands[subj]
            chosen: list[Candidate] = []
            written = set()
            several = self.multi.get(r.name, 1.0) >= t.multi_share
            for i, p, form in objs:
                if p < (t.object if not chosen else t.more_objects) or (chosen and not several):
                    break
                c = f.cands[i]
                if any(_overlaps(c, o) for o in chosen) or norm(form) in written:
                    continue
                chosen.append(c)
                written.add(norm(form))
                out.append(SchemaTriple(s, s.text, r.name, c, form, p_rel * p))
        return out

    def decode(
        self, f: SentFeatures, rel_scores: np.ndarray, thresholds: Thresholds | None = None
    ) -> list[SchemaTriple]:
        """The triples of one sentence: relations above threshold, the best subject fitting the
        domain, objects fitting the range above threshold."""
        t = thresholds or self.thresholds
        return self._select(f, self._scored(f, rel_scores, t.relation), t)

    def predict(self, sents: Sequence[Any]) -> list[list[SchemaTriple]]:
        """Triples of each parsed sentence (spaCy ``Span`` or ``Doc``)."""
        return self.predict_features(self.featurizer(sents, cache=False))  # new text: no reuse

    def predict_features(self, feats: Sequence[SentFeatures]) -> list[list[SchemaTriple]]:
        """Triples of each featurised sentence."""
        rel = self.relation_scores(feats)
        return [self.recall(f) or self.decode(f, rel[i]) for i, f in enumerate(feats)]

    def recall(self, f: SentFeatures) -> list[SchemaTriple]:
        """The triples of an example sentence seen in training (the same text up to case and
        whitespace), located in the sentence where they occur in it."""
        out = []
        for s, r, o in self.memory.get(norm(f.text), []):
            out.append(SchemaTriple(_locate(f.text, s), s, r, _locate(f.text, o), o, 1.0))
        return out

    # -- training --------------------------------------------------------------------------------
    @classmethod
    def fit(
        cls,
        ontology: Ontology,
        examples: Sequence[Example],
        nlp: Any,
        featurizer: Featurizer | None = None,
        dev_share: float = 0.2,
        seed: int = 0,
        objective: str = "strict_f1",
    ) -> SchemaModel:
        """Fit on ``examples`` (parsed with ``nlp``): thresholds tuned on a seeded ``dev_share``
        of them for ``objective`` (``strict_f1`` or the benchmark's ``f1``), then every model
        refitted on all examples."""
        featurizer = featurizer or Featurizer()
        examples = _known(ontology, examples)
        docs = list(nlp.pipe([e.text for e in examples], batch_size=64))
        return cls.fit_features(
            ontology, examples, featurizer(docs), featurizer, dev_share, seed, objective
        )

    @classmethod
    def fit_features(
        cls,
        ontology: Ontology,
        examples: Sequence[Example],
        feats: Sequence[SentFeatures],
        featurizer: Featurizer,
        dev_share: float = 0.2,
        seed: int = 0,
        objective: str = "strict_f1",
    ) -> SchemaModel:
        """:meth:`fit` on examples already featurised (``feats[i]`` of ``examples[i]``; only
        examples with a triple of the ontology's relations count)."""
        known = _known(ontology, examples, drop_empty=False)
        keep = [i for i, e in enumerate(known) if e.triples]
        examples, feats = [known[i] for i in keep], [feats[i] for i in keep]
        model = cls(ontology, featurizer)
        if not examples:
            return model
        order = list(range(len(examples)))
        random.Random(seed).shuffle(order)
        if dev_share > 0 and len(order) >= 20:
            # cross-validation: every example is scored once by a model fitted without it, and
            # the thresholds are tuned on all of them (a single 20 % part is too few sentences)
            folds = max(2, round(1 / dev_share))
            held: list[tuple[Example, SentFeatures, list[Scored]]] = []
            for k in range(folds):
                dev = set(order[k::folds])
                train = [i for i in order if i not in dev]
                model._fit_parts([examples[i] for i in train], [feats[i] for i in train])
                held.extend(model._score_held([examples[i] for i in dev], [feats[i] for i in dev]))
            model.thresholds = model._tune(held, objective)
            log.info("schema %s: thresholds %s", ontology.id, model.thresholds)
        model._fit_parts(examples, feats)
        return model

    def _fit_parts(self, examples: Sequence[Example], feats: Sequence[SentFeatures]) -> None:
        onto = self.ontology
        self.date_template = _choose_date_template(examples, feats)
        self._dates = DateRenderer(self.date_template)
        self.aliases = {}
        self.aliases = _learn_aliases(self, examples, feats)
        self.types = TypeTable()
        self.words = BagOfWords.fit([e.text for e in examples])
        self.memory = {norm(e.text): [list(t) for t in e.triples] for e in examples}
        self.multi = _multi_shares(examples)
        # positives: candidates whose surface forms equal a gold argument
        subj_x, subj_y = [], []
        obj_rows: dict[str, list[tuple[np.ndarray, np.ndarray]]] = defaultdict(list)
        present: dict[str, list[int]] = {r.name: [] for r in onto.relations}
        pair_y: dict[str, dict[int, np.ndarray]] = defaultdict(dict)
        for k, (e, f) in enumerate(zip(examples, feats, strict=True)):
            rels = {t[1] for t in e.triples}
            for r in rels:
                present[r].append(k)
            if not f.cands:
                continue
            golds = {norm(t[0]) for t in e.triples}
            ys = np.array([norm(c.text) in golds for c in f.cands], dtype=np.float32)
            if ys.any():
                subj_x.append(np.hstack([f.span, f.extra]))
                subj_y.append(ys)
            subj = int(np.argmax(ys)) if ys.any() else None
            for r in rels:
                rel = onto.relation(r)
                gold_objs = {norm(t[2]) for t in e.triples if t[1] == r}
                yo = np.array(
                    [any(norm(s) in gold_objs for s in self.forms(r, c)) for c in f.cands],
                    dtype=np.float32,
                )
                for i in np.nonzero(yo)[0]:
                    self.types.add(rel.range, f.cands[i])
                if subj is not None:
                    self.types.add(rel.domain, f.cands[subj])
                if yo.any():
                    x = np.hstack([f.span, f.extra, _pair(f.cands, subj)])
                    obj_rows[r].append((x, yo))
                    pair_y[r][k] = yo
        self.subject_w = _fit_lr(np.vstack(subj_x), np.concatenate(subj_y), 0.5) if subj_x else None
        self.object_w = {}
        for r, rows in obj_rows.items():
            if len(rows) >= 3:
                x = np.vstack([a for a, _ in rows])
                y = np.concatenate([b for _, b in rows])
                self.object_w[r] = _fit_lr(x, y, 0.5)
        sent = self._relation_features(feats)
        self.relation_w = {}
        for r, ks in present.items():
            if len(ks) >= 2:
                y = np.zeros(len(feats), dtype=np.float32)
                y[ks] = 1
                self.relation_w[r] = _fit_lr(sent, y, 4.0)
        self.pair_w = {}
        pair_x = [np.hstack([f.span, f.extra]) for f in feats if f.cands]
        if pair_x:
            x = np.vstack(pair_x)
            for r, ys in pair_y.items():
                y = np.concatenate([ys.get(k, np.zeros(len(f.cands), np.float32))
                                    for k, f in enumerate(feats) if f.cands])  # fmt: skip
                if r in self.relation_w and y.sum() >= 3:
                    self.pair_w[r] = _fit_lr(x, y, 0.5)

    def _score_held(
        self, examples: Sequence[Example], feats: Sequence[SentFeatures]
    ) -> list[tuple[Example, SentFeatures, list[Scored]]]:
        """Held-out examples with everything :meth:`_select` needs, down to the lowest
        relation threshold tried."""
        rel = self.relation_scores(feats)
        low = min(_GRID_RELATION)
        return [
            (e, f, self._scored(f, rel[i], low))
            for i, (e, f) in enumerate(zip(examples, feats, strict=True))
        ]

    def _tune(
        self, held: Sequence[tuple[Example, SentFeatures, list[Scored]]], objective: str
    ) -> Thresholds:
        feats = [f for _, f, _ in held]
        scored = [s for _, _, s in held]
        gold = [{normalize_triple(*t) for t in e.triples} for e, _, _ in held]
        gold_rels = [{t[1] for t in e.triples} for e, _, _ in held]
        best, best_t = -1.0, self.thresholds
        for tr in _GRID_RELATION:
            for to in (0.2, 0.3, 0.4, 0.5, 0.6, 0.7):
                for tm, ms in _MORE_GRID:
                    if tm < to:
                        continue
                    t = Thresholds(tr, to, tm, self.thresholds.zero_shot_relation, ms)
                    total = 0.0
                    for i, f in enumerate(feats):
                        preds = self._select(f, scored[i], t)
                        if objective == "f1":
                            preds = [p for p in preds if p.relation in gold_rels[i]]
                        keys = {normalize_triple(p.subject_text, p.relation, p.object_text)
                                for p in preds}  # fmt: skip
                        total += prf(gold[i], keys)[2]
                    if total > best:
                        best, best_t = total, t
        return best_t

    # -- persistence -----------------------------------------------------------------------------
    def save(self, path: str | Path) -> None:
        arrays: dict[str, np.ndarray] = {}
        for r, w in self.relation_w.items():
            arrays[f"rel:{r}"] = w
        for r, w in self.object_w.items():
            arrays[f"obj:{r}"] = w
        for r, w in self.pair_w.items():
            arrays[f"pair:{r}"] = w
        if self.subject_w is not None:
            arrays["subject"] = self.subject_w
        import json

        meta = {
            "types": self.types.state(),
            "aliases": self.aliases,
            "date_template": self.date_template,
            "thresholds": self.thresholds.__dict__,
            "relations": self.ontology.relation_names,
            "vocab": self.words.vocab,
            "memory": self.memory,
            "multi": self.multi,
        }
        arrays["idf"] = self.words.idf
        arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
        atomic_write(path, lambda tmp: np.savez(tmp, **arrays))

    @classmethod
    def load(cls, path: str | Path, ontology: Ontology, featurizer: Featurizer) -> SchemaModel:
        import json

        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(bytes(data["meta"]).decode())
            if meta["relations"] != ontology.relation_names:
                raise ValueError(f"{path}: trained for another ontology")
            model = cls(
                ontology,
                featurizer,
                relation_w={k[4:]: data[k] for k in data.files if k.startswith("rel:")},
                object_w={k[4:]: data[k] for k in data.files if k.startswith("obj:")},
                pair_w={k[5:]: data[k] for k in data.files if k.startswith("pair:")},
                subject_w=data["subject"] if "subject" in data.files else None,
                types=TypeTable.from_state(meta["types"]),
                aliases=meta["aliases"],
                date_template=meta["date_template"],
                thresholds=Thresholds(**meta["thresholds"]),
                words=BagOfWords(meta["vocab"], data["idf"]),
                memory=meta["memory"],
                multi=meta["multi"],
            )
        return model


_GRID_RELATION = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8)
_MORE_GRID = [(tm, ms) for tm in (0.5, 0.6, 0.7, 0.8, 0.9) for ms in (0.0, 0.1, 0.2, 0.4)]
_MORE_GRID.append((1.01, 0.0))  # never more than one object


def _multi_shares(examples: Sequence[Example]) -> dict[str, float]:
    """Per relation, the share of example sentences stating it that give it several objects
    (of one subject)."""
    seen: Counter = Counter()
    several: Counter = Counter()
    for e in examples:
        objs: dict[tuple[str, str], set[str]] = defaultdict(set)
        for s, r, o in e.triples:
            objs[(norm(s), r)].add(norm(o))
        for r in {r for _, r in objs}:
            seen[r] += 1
            several[r] += any(len(v) > 1 for (_, rr), v in objs.items() if rr == r)
    return {r: several[r] / n for r, n in seen.items()}


def _known(
    ontology: Ontology, examples: Sequence[Example], drop_empty: bool = True
) -> list[Example]:
    """The examples with only the triples of the ontology's relations (and, with
    ``drop_empty``, only those that keep one)."""
    names = set(ontology.relation_names)
    out = [Example(e.text, tuple(t for t in e.triples if t[1] in names)) for e in examples]
    return [e for e in out if e.triples or not drop_empty]


def _locate(text: str, arg: str) -> Candidate:
    """An argument's span in the text (case-insensitive), or an empty span at its start."""
    i = text.lower().find(arg.lower())
    if i < 0:
        return Candidate(0, 0, arg, frozenset())
    return Candidate(i, i + len(arg), text[i : i + len(arg)], frozenset())


def _choose_date_template(examples: Sequence[Example], feats: Sequence[SentFeatures]) -> str:
    """The date template under which most gold objects equal a rendered candidate."""
    hits: Counter = Counter()
    for e, f in zip(examples, feats, strict=True):
        objs = {norm(t[2]) for t in e.triples}
        for name in DATE_TEMPLATES:
            if name == "text":
                continue
            r = DateRenderer(name)
            rendered = {norm(x) for c in f.cands if (x := r.render(c.text)) is not None}
            hits[name] += len(objs & rendered)
    name, n = hits.most_common(1)[0] if hits else ("text", 0)
    return name if n >= 2 else "text"


def _learn_aliases(
    model: SchemaModel, examples: Sequence[Example], feats: Sequence[SentFeatures]
) -> dict[str, str]:
    """(relation, span text) -> gold form, where the gold object is no candidate's form: kept
    for a value the relation takes in at least three examples, when the span comes with it in
    at least three of them and in at least half the span's uses."""
    pair: Counter = Counter()
    uses: Counter = Counter()
    for e, f in zip(examples, feats, strict=True):
        for r in {t[1] for t in e.triples}:
            texts = {norm(c.text) for c in f.cands}
            for x in texts:
                uses[(r, x)] += 1
            forms = {norm(s) for c in f.cands for s in model.forms(r, c)}
            for _, rel, obj in e.triples:
                if rel == r and norm(obj) not in forms:
                    for x in texts:
                        pair[(r, x, obj)] += 1
    values = Counter((t[1], t[2]) for e in examples for t in set(e.triples))
    best: dict[tuple[str, str], tuple[int, str]] = {}
    for (r, x, obj), n in pair.items():
        if values[(r, obj)] < 3 or n < 3 or n < 0.5 * uses[(r, x)]:
            continue
        if n > best.get((r, x), (0, ""))[0]:
            best[(r, x)] = (n, obj)
    return {f"{r}\0{x}": obj for (r, x), (_, obj) in best.items()}
