"""A text-similarity prior: fixed similarity channels between two entity texts, weighted per
relation by learned weights and added to the relational score.

Entity text often reads ``"name, definition"`` (WordNet, Wikidata labels with descriptions).
Some relations are visible in the text itself: a hypernym's name tends to occur in the
definition of its hyponym ("poodle, an intelligent *dog* with ..."), derivationally related words
have close meanings. The channels, for a triple ``(h, r, t)``:

- ``cosine``: cosine of the frozen sentence embeddings of the two texts;
- ``def_name``: word overlap of h's definition with t's name; ``name_def`` the reverse
  (the name ends at the earliest ``" -- "`` or comma: :func:`split_text`);
- ``name_name``: word overlap of the two names.

Word overlaps are cosines of binary bag-of-words vectors without stop words (no corpus
statistics, so nothing is learned from the texts of evaluation entities). The channels need only
entity text, so the prior is inductive: it scores entities never seen in training.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import torch
from torch import nn

from kgforge.errors import ConfigError

CHANNELS = ("cosine", "def_name", "name_def", "name_name")


@dataclass
class PriorRep:
    """What the prior needs of a set of entities."""

    features: torch.Tensor | None  # [n, d] unit rows (cosine channel)
    names: sp.csr_matrix  # [n, V] unit rows
    defs: sp.csr_matrix  # [n, V] unit rows

    def take(self, rows: list[int]) -> PriorRep:
        """The view of these rows only."""
        feats = None if self.features is None else self.features[rows]
        return PriorRep(feats, self.names[rows], self.defs[rows])


NAME_SEPARATORS = (" -- ", ",")
"""Where a name may end: ``"Name -- description"`` (Freebase/Wikipedia style) or ``"name,
definition"`` (WordNet); the earliest one in a text wins, so a description's own commas (or a
WordNet definition's dash) stay in the description."""


def split_text(text: str) -> tuple[str, str]:
    """``"name -- description"`` or ``"name, definition"`` into its parts, at the earliest
    separator (the whole text is the name without one)."""
    found = [(text.find(sep), sep) for sep in NAME_SEPARATORS if sep in text]
    if not found:
        return text, ""
    at, separator = min(found)
    return text[:at], text[at + len(separator) :]


def _normalize_rows(m: sp.csr_matrix) -> sp.csr_matrix:
    norms = np.sqrt(np.asarray(m.multiply(m).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    return sp.csr_matrix(sp.diags(1.0 / norms) @ m, dtype=np.float32)


class TextPrior(nn.Module):
    """Per-relation weights over text-similarity channels; ``score`` adds to a model's scores."""

    def __init__(
        self,
        entity_text: Sequence[str],
        num_relations: int,
        channels: Sequence[str] = CHANNELS,
        features: torch.Tensor | None = None,
        text_model: str | None = None,
    ) -> None:
        super().__init__()
        from sklearn.feature_extraction.text import CountVectorizer

        unknown = set(channels) - set(CHANNELS)
        if unknown:
            raise ConfigError(
                f"unknown prior channels {sorted(unknown)}; known: {CHANNELS}", field="text_prior"
            )
        self.channels = list(channels)
        self.text_model = text_model
        self.vectorizer = CountVectorizer(
            binary=True, stop_words="english", token_pattern=r"(?u)\b[a-zA-Z][a-zA-Z-]+\b"
        )
        self.vectorizer.fit(entity_text)
        needs_features = "cosine" in self.channels
        if needs_features and features is None:
            features = self._features(entity_text)
        self.register_buffer(
            "features",
            torch.nn.functional.normalize(features.float(), dim=-1) if needs_features else None,
            persistent=False,
        )
        self.all = self._rep_from_text(entity_text, self.features)
        self.weight = nn.Parameter(torch.zeros(num_relations, len(self.channels)))

    def _features(self, texts: Sequence[str]) -> torch.Tensor:
        from kgforge.embed.features import encode_texts

        return torch.from_numpy(encode_texts(list(texts), model=self.text_model))

    def _rep_from_text(self, texts: Sequence[str], features: torch.Tensor | None) -> PriorRep:
        names, defs = zip(*(split_text(t) for t in texts), strict=True) if texts else ((), ())
        return PriorRep(
            features=features,
            names=_normalize_rows(self.vectorizer.transform(names)),
            defs=_normalize_rows(self.vectorizer.transform(defs)),
        )

    def rep(self, ids: torch.Tensor | None = None, texts: Sequence[str] | None = None) -> PriorRep:
        """The prior's view of entities given by index or (new entities) by text."""
        if texts is not None:
            feats = None
            if self.features is not None:
                feats = torch.nn.functional.normalize(self._features(texts), dim=-1)
                feats = feats.to(self.features.device)
            return self._rep_from_text(texts, feats)
        assert ids is not None
        idx = ids.cpu().numpy()
        return PriorRep(
            features=self.features[ids] if self.features is not None else None,
            names=self.all.names[idx],
            defs=self.all.defs[idx],
        )

    def mixed(self, ids: torch.Tensor, texts: dict[int, str]) -> PriorRep:
        """The view of a batch whose rows are known entities (``ids``) except the positions in
        ``texts``, new entities given by text: only those texts are encoded."""
        known = self.rep(ids)
        if not texts:
            return known
        new = self.rep(texts=list(texts.values()))
        at = {row: j for j, row in enumerate(texts)}

        def stack(a: sp.csr_matrix, b: sp.csr_matrix) -> sp.csr_matrix:
            rows = [b[at[i]] if i in at else a[i] for i in range(len(ids))]
            return sp.csr_matrix(sp.vstack(rows), dtype=np.float32)

        features = known.features
        if features is not None and new.features is not None:
            features = features.clone()
            features[list(at)] = new.features.to(features.dtype)
        return PriorRep(features, stack(known.names, new.names), stack(known.defs, new.defs))

    def _channel(self, name: str, h: PriorRep, t: PriorRep, pairwise: bool) -> torch.Tensor:
        device = self.weight.device
        if name == "cosine":
            assert h.features is not None and t.features is not None
            hf, tf = h.features.to(device), t.features.to(device)
            return (hf * tf).sum(-1) if pairwise else hf @ tf.T
        left, right = {
            "def_name": (h.defs, t.names),
            "name_def": (h.names, t.defs),
            "name_name": (h.names, t.names),
        }[name]
        if pairwise:
            values = np.asarray(left.multiply(right).sum(axis=1)).ravel()
        elif right is self.all.names or right is self.all.defs:  # queries against all
            values = self._against_all(left, right)
        elif left is self.all.names or left is self.all.defs:  # all against queries
            values = self._against_all(right, left).T
        else:
            values = (left @ right.T).toarray()
        return torch.from_numpy(np.asarray(values, dtype=np.float32)).to(device)

    FEW_ROWS = 32
    """Up to this many query rows are scored against all entities from the postings of their
    words (a query has a handful: building scipy's product costs more than its arithmetic)."""

    def _against_all(self, rows: sp.csr_matrix, every: sp.csr_matrix) -> np.ndarray:
        """``rows @ every.T`` as a dense ``[B, N]`` array, ``every`` a matrix of all entities."""
        postings = self._transposed(every)
        if rows.shape[0] > self.FEW_ROWS:
            return (rows @ postings).toarray()
        out = np.zeros((rows.shape[0], every.shape[0]), dtype=np.float32)
        for b in range(rows.shape[0]):
            lo, hi = rows.indptr[b], rows.indptr[b + 1]
            starts = postings.indptr[rows.indices[lo:hi]]
            lengths = postings.indptr[rows.indices[lo:hi] + 1] - starts
            if not lengths.sum():
                continue
            at = np.concatenate([np.arange(s, s + n) for s, n in zip(starts, lengths, strict=True)])
            weights = np.repeat(rows.data[lo:hi], lengths) * postings.data[at]
            out[b] = np.bincount(postings.indices[at], weights, minlength=every.shape[0])
        return out

    def _transposed(self, m: sp.csr_matrix) -> sp.csr_matrix:
        """``m.T`` as CSR, made once per matrix of all entities: a few queries times it then
        touch only the postings of the queries' words (no conversion per call)."""
        cache = self.__dict__.setdefault("_transposes", {})
        if id(m) not in cache:
            cache[id(m)] = (m, sp.csr_matrix(m.T))
        return cache[id(m)][1]

    def score(
        self,
        query: PriorRep,
        r_ids: torch.Tensor,
        cands: PriorRep,
        query_is_head: bool = True,
        pairwise: bool = False,
        channels: Sequence[str] | None = None,
    ) -> torch.Tensor:
        """Prior scores ``[B, C]`` of ``B`` queries against ``C`` candidates (``[B]`` for aligned
        pairs with ``pairwise``); ``r_ids`` ``[B]`` picks the weights. The query is the head of
        the triple unless ``query_is_head`` is false. ``channels``: only these of the prior's
        (all by default)."""
        w = self.weight[r_ids.to(self.weight.device)]  # [B, K]
        total = None
        for k, name in enumerate(self.channels):
            if channels is not None and name not in channels:
                continue
            if query_is_head:
                s = self._channel(name, query, cands, pairwise)
            else:
                s = self._channel(name, cands, query, pairwise)
                s = s if pairwise else s.T
            term = s * (w[:, k] if pairwise else w[:, k : k + 1])
            total = term if total is None else total + term
        if total is None:  # none of the chosen channels: adds nothing (broadcasts)
            return torch.zeros((), device=w.device)
        return total
