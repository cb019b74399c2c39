"""Entity retrieval: find a graph's entities from free text, by BM25, dense vectors, or both.

BM25 (``bm25s``) is exact about names and rare words; dense vectors (the sentence-transformers
model of the feature cache, offline MiniLM by default) find paraphrases, "a scientist from
Poland" -> Marie Curie. ``hybrid`` fuses the two rankings by reciprocal rank fusion (Cormack et
al., 2009), which needs no calibration between their scores. Entity text is what the link
predictors read: ``label: description`` from the graph's entity records.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from kgforge.errors import KGForgeError
from kgforge.progress import progress_enabled

if TYPE_CHECKING:  # the store is not imported to load a saved index (a CLI call's start-up)
    from kgforge.graph.store import KnowledgeGraph

Mode = Literal["bm25", "dense", "hybrid"]
MODES = ("bm25", "dense", "hybrid")
logger = logging.getLogger(__name__)
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
        from kgforge.embed.data import entity_texts  # torch: slow to import, loading needs none

        texts = entity_texts(kg)
        return cls(list(texts), list(texts.values()), **kwargs)  # type: ignore[arg-type]

    @classmethod
    def for_store(
        cls, kg: KnowledgeGraph, model: str | None = None, dense: bool = True
    ) -> EntityIndex:
        """The index of a store's entity records, kept on disk beside an on-disk store
        (:func:`index_folder`) and built again only when the store changed.

        The saved index is keyed by the store folder's state (every file's name, size and
        modification time, which any write changes and reads never do) and the model, so it
        loads without reading the records at all (reading 40k records costs seconds); a store
        written since makes the next call rebuild it. Other stores (in memory, remote) get a
        fresh index each time."""
        folder = index_folder(kg)
        if folder is None:
            return cls.from_graph(kg, model=model, dense=dense)
        key = _state_key(Path(str(kg.location)), model)  # before reading: a write during
        saved = cls._saved(folder, key, dense)  # the build makes the next call rebuild
        if saved is not None:
            return saved
        index = cls.from_graph(kg, model=model, dense=dense)
        index.save(folder, key)
        return index

    @classmethod
    def saved(
        cls, store: str | Path, model: str | None = None, dense: bool = True
    ) -> EntityIndex | None:
        """The saved index of the on-disk store folder ``store`` if it is up to date, without
        opening the store (None otherwise: then :meth:`for_store` builds it)."""
        store = Path(store)
        if not store.is_dir():
            return None
        return cls._saved(_beside(store), _state_key(store, model), dense)

    @classmethod
    def _saved(cls, folder: Path, key: str, dense: bool) -> EntityIndex | None:
        if not (folder / META).is_file():
            return None
        try:
            meta = json.loads((folder / META).read_text(encoding="utf-8"))
            if meta.get("key") == key and (meta.get("dense") or not dense):
                return cls.load(folder, dense=dense)
        except (OSError, ValueError, KeyError):
            logger.warning("%s: unreadable search index, building it again", folder)
        return None

    def save(self, folder: str | Path, key: str = "") -> Path:
        """Write the index to ``folder`` (replaced as a whole: a new folder, then renamed)."""
        folder = Path(folder)
        tmp = folder.with_name(f".{folder.name}.tmp-{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        self.bm25.save(str(tmp / "bm25"), show_progress=False)
        if self.vectors is not None:
            np.save(tmp / "vectors.npy", self.vectors)
        entities = {"entities": self.entities, "texts": self.texts}
        (tmp / "entities.json").write_text(json.dumps(entities), encoding="utf-8")
        meta = {"key": key, "model": self.model, "dense": self.vectors is not None}
        (tmp / META).write_text(json.dumps(meta), encoding="utf-8")  # last: marks it complete
        old = folder.with_name(f".{folder.name}.old-{os.getpid()}")
        if folder.exists():
            folder.rename(old)
        tmp.rename(folder)
        shutil.rmtree(old, ignore_errors=True)
        return folder

    @classmethod
    def load(cls, folder: str | Path, dense: bool = True) -> EntityIndex:
        """An index written by :meth:`save` (its vectors too, if it has them, unless
        ``dense=False``)."""
        folder = Path(folder)
        meta = json.loads((folder / META).read_text(encoding="utf-8"))
        saved = json.loads((folder / "entities.json").read_text(encoding="utf-8"))
        index = cls.__new__(cls)
        index.entities, index.texts, index.model = saved["entities"], saved["texts"], meta["model"]
        index.bm25 = _bm25s().BM25.load(str(folder / "bm25"), show_progress=False)
        index.vectors = None
        if meta["dense"] and dense:
            from kgforge.transfer.vector_index import VectorIndex

            index.vectors = np.load(folder / "vectors.npy")
            index._vector_index = VectorIndex(index.vectors)
        return index

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
        from kgforge.models import default_text_model, load_sentence_model

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


META = "index.json"


def index_folder(kg: KnowledgeGraph) -> Path | None:
    """Where the search index of an on-disk store lives: ``<store>.search`` beside its folder
    (None for stores without one: in memory, remote)."""
    location = Path(str(kg.location))
    return _beside(location) if location.is_dir() else None


def _beside(store: Path) -> Path:
    return store.with_name(store.name + ".search")


def _state_key(store: Path, model: str | None) -> str:
    """A hash of the store folder's files (names, sizes, modification times) and the model:
    changed by every write to the store, not by reads."""
    digest = hashlib.sha1(str(model).encode())
    for path in sorted(store.rglob("*")):
        if path.is_file():
            st = path.stat()
            digest.update(
                f"\x1e{path.relative_to(store)}\x1f{st.st_size}\x1f{st.st_mtime_ns}".encode()
            )
    return digest.hexdigest()


def _tokens(texts: list[str]) -> object:
    return _bm25s().tokenize(texts, stopwords="en", show_progress=False)


def _bm25s() -> Any:
    """The bm25s module, imported late (start-up speed), with its logger following the
    process's logging setup again: bm25s sets it to DEBUG on import, which would print its
    debug lines under the CLI's handler."""
    import bm25s

    logging.getLogger("bm25s").setLevel(logging.NOTSET)
    return bm25s
