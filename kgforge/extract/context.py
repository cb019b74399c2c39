"""Mention-context vectors for entity resolution: the sentences a mention occurs in, embedded.

Resolution meets a known name in most documents of a corpus, so whatever compares contexts runs
about once per entity mention: running a transformer over each context sentence would cost more
than spaCy's parse. The vectors here use the offline MiniLM's own input embeddings instead, the
mean of its word-piece vectors over a mention's context sentences (less the pieces of the
entity's own name, which both sides of a comparison share), centred on the mean word-piece
vector (raw means of static vectors are all alike) and normalised: "a 1987 film directed by ..."
and "a tragedy written by ..." land apart although they share no name. The vocabulary and matrix
load in well under a second (``safetensors``, memory-mapped), each sentence is tokenised once
(cached), and a vector costs one mean over a few dozen rows.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

import numpy as np
from spacy.lang.en.stop_words import STOP_WORDS

from kgforge.errors import ConfigError
from kgforge.models import default_text_model

_WEIGHT = "embeddings.word_embeddings.weight"
_FIRST_WORD = 1996  # BERT's uncased vocabulary: whole words from here ("the")


class ContextVectors:
    """Unit context vectors from a sentence-transformers model folder's word-piece embeddings.

    Args:
        model: a local model folder with ``tokenizer.json`` and ``model.safetensors`` (None:
            ``kgforge.models.default_text_model()``, the packaged MiniLM).
    """

    def __init__(self, model: str | None = None) -> None:
        self.folder = Path(model or default_text_model())
        weights, vocab = self.folder / "model.safetensors", self.folder / "tokenizer.json"
        if not weights.is_file() or not vocab.is_file():
            raise ConfigError(
                "a context model needs a local folder with tokenizer.json and model.safetensors",
                self.folder,
                field="resolution.context.model",
            )
        self.matrix: np.ndarray | None = None  # loaded on first use: a corpus may need none
        self._ids = lru_cache(maxsize=1 << 15)(self._piece_ids)

    def _load(self) -> np.ndarray:
        from safetensors import safe_open
        from tokenizers import Tokenizer

        weights = self.folder / "model.safetensors"
        with safe_open(str(weights), "np") as f:
            name = next((k for k in f.keys() if k.endswith(_WEIGHT)), None)  # noqa: SIM118
            if name is None:
                raise ConfigError(f"no {_WEIGHT} in the model", weights)
            matrix = f.get_tensor(name).astype(np.float32)
        self.tokenizer = Tokenizer.from_file(str(self.folder / "tokenizer.json"))
        self.tokenizer.no_padding()
        self.tokenizer.no_truncation()
        self._stop = {
            ids[0]
            for w in STOP_WORDS
            if len(ids := self.tokenizer.encode(w, add_special_tokens=False).ids) == 1
        }
        self.matrix = matrix - matrix.mean(axis=0)
        return self.matrix

    def _piece_ids(self, text: str) -> np.ndarray:
        """Word pieces of ``text`` that carry content: no stop words, and none of the first
        2,000 ids (BERT's special tokens, single characters and punctuation)."""
        ids = self.tokenizer.encode(text.casefold(), add_special_tokens=False).ids
        return np.array([i for i in ids if i >= _FIRST_WORD and i not in self._stop], np.int64)

    def vector(self, contexts: Iterable[str], names: Iterable[str]) -> np.ndarray | None:
        """The unit vector of a mention's context sentences, less its names' pieces (None when
        nothing is left)."""
        if self.matrix is None:
            self._load()
        pieces = [self._ids(s) for s in contexts]
        if not pieces:
            return None
        ids = np.concatenate(pieces) if len(pieces) > 1 else pieces[0]
        own = {i for n in names for i in self._ids(n).tolist()}
        if own and ids.size:  # a name has a few pieces: a comparison each beats np.isin
            keep = np.ones(ids.size, dtype=bool)
            for i in own:
                keep &= ids != i
            ids = ids[keep]
        if not ids.size:
            return None
        v = self.matrix[ids].sum(axis=0)  # type: ignore[index]  # (the mean, once normalised)
        norm = float(np.sqrt(v @ v))
        return v / norm if norm > 0 else None


@lru_cache(maxsize=4)
def context_vectors(model: str | None = None) -> ContextVectors:
    """One ``ContextVectors`` per model and process (loaded once, its caches kept across runs)."""
    return ContextVectors(model)
