"""Entity retrieval: find a graph's entities from free text, by BM25, dense vectors, or both.

BM25 (``bm25s``) is exact about names and rare words; dense vectors (the sentence-transformers
model of the feature cache, offline MiniLM by default) find paraphrases, "a scientist from
Poland" -> Marie Curie. ``hybrid`` fuses the two rankings by reciprocal rank fusion (Cormack et
al., 2009), which needs no calibration between their scores. Entity text is what the link
predictors read: ``label: description`` from the graph's entity records.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from kgforge.embed.data import entity_texts
from kgforge.errors import KGForgeError
from kgforge.graph.store import KnowledgeGraph
from kgforge.progress import progress_enabled

Mode = Literal["bm25", "dense", "hybrid"]
MODES = ("bm25", "dense", "hybrid")
RRF_K = 60  # the fusion constant of Cormack et al.: damps the weight of the very first ranks


@dataclass(frozen=True)
class Hit:
    entity: str
    text: str
    score: float


class EntityIndex:
    """A BM25 index and (unless ``dense=False``) unit vectors of entity texts.

    Vectors come from kgforge's feature cache, so a graph's texts are encoded once across runs.
    Build one from a store with :meth:`EntityIndex.from_graph`.

    Args:
        entities: entity IRIs.
        texts: one text per entity (its label and description).
        model: a sentence-transformers name or path (None = the offline default).
        dense: also encode the texts, for the "dense" and "hybrid" search modes.
    """

    def __init__(
        self,
        entities: Sequence[str],
        texts: Sequence[str],
        model: str | None = None,
        dense: bool = True,
    ) -> None:
        bm25s = _bm25s()
        if not entities:
            raise KGForgeError("nothing to index: no entity has a text")
        if len(entities) != len(texts):
            raise KGForgeError("entities and texts differ in length")
        self.entities, self.texts, self.model = list(entities), list(texts), model
        self.bm25 = bm25s.BM25()
        self.bm25.index(_tokens(self.texts), show_progress=progress_enabled())
        self.vectors: np.ndarray | None = None
        if dense:
            from kgforge.embed.features import encode_texts
            from kgforge.transfer.vector_index import VectorIndex

            self.vectors = encode_texts(self.texts, model)
            self._vector_index = VectorIndex(self.vectors)  # faiss (or torch) exact top-k

    @classmethod
    def from_graph(cls, kg: KnowledgeGraph, **kwargs: object) -> EntityIndex:
        """Index the entity records of a graph (``graph:entities``)."""
        texts = entity_texts(kg)
        return cls(list(texts), list(texts.values()), **kwargs)  # type: ignore[arg-type]

    def search(self, query: str, k: int = 10, mode: Mode = "hybrid") -> list[Hit]:
        """The ``k`` best entities for ``query``, best first."""
        if mode not in MODES:
            raise KGForgeError(f"unknown search mode {mode!r}: use one of {', '.join(MODES)}")
        if k < 1:
            raise KGForgeError("k must be at least 1")
        depth = min(len(self.entities), max(k, 100) if mode == "hybrid" else k)
        if mode == "bm25":
            return self._hits(*self._bm25(query, depth))
        if mode == "dense":
            return self._hits(*self._dense(query, depth))
        fused: dict[int, float] = {}
        for ids, _ in (self._bm25(query, depth), self._dense(query, depth)):
            for rank, i in enumerate(ids):
                fused[i] = fused.get(i, 0.0) + 1.0 / (RRF_K + rank + 1)
        best = sorted(fused, key=lambda i: -fused[i])[:k]
        return self._hits(best, [fused[i] for i in best])

    def _bm25(self, query: str, depth: int) -> tuple[list[int], list[float]]:
        ids, scores = self.bm25.retrieve(_tokens([query]), k=depth, show_progress=False)
        keep = scores[0] > 0  # entities that share no word with the query are not BM25 hits
        return ids[0][keep].tolist(), scores[0][keep].tolist()

    def _dense(self, query: str, depth: int) -> tuple[list[int], list[float]]:
        if self.vectors is None:
            raise KGForgeError("this index has no vectors (built with dense=False)")
        from kgforge.embed.features import load_sentence_model
        from kgforge.models import default_text_model

        model = load_sentence_model(self.model or default_text_model())
        q = model.encode(
            [query], normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
        )[0]
        scores, ids = self._vector_index.search(q, depth)
        return ids[0].tolist(), scores[0].tolist()

    def _hits(self, ids: list[int], scores: list[float]) -> list[Hit]:
        return [
            Hit(self.entities[i], self.texts[i], float(s)) for i, s in zip(ids, scores, strict=True)
        ]


def _tokens(texts: list[str]) -> object:
    return _bm25s().tokenize(texts, stopwords="en", show_progress=False)


def _bm25s() -> Any:
    """The bm25s module, imported late (start-up speed), with its logger following the
    process's logging setup again: bm25s sets it to DEBUG on import, which would print its
    debug lines under the CLI's handler."""
    import bm25s

    logging.getLogger("bm25s").setLevel(logging.NOTSET)
    return bm25s
