"""Mention-context vectors for entity resolution: the sentences a mention occurs in, embedded.

Resolution meets a known name in most documents of a corpus, so whatever compares contexts runs
about once per entity mention: running a transformer over each context sentence would cost more
than spaCy's parse. The vectors here use the offline MiniLM's own input embeddings instead, the
mean of its word-piece vectors over a mention's context sentences (less the pieces of the
entity's own name, which both sides of a comparison share), centred on the mean word-piece
vector (raw means of static vectors are all alike) and normalised: "a 1987 film directed by ..."
and "a tragedy written by ..." land apart although they share no name. The vocabulary and matrix
load in well under a second (``safetensors``, memory-mapped), and each sentence is tokenised and
summed once (cached; a sentence is the context of every mention in it): a mention's vector is
its sentences' sums less its name's pieces.
"""

from __future__ import annotations

from collections import Counter
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
        self._sentences = lru_cache(maxsize=1 << 13)(self._sentence)  # 1.5 KB each (MiniLM)

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

    def _sentence(self, text: str) -> tuple[np.ndarray, Counter, int]:
        """A sentence's sum of content-piece vectors, its pieces' counts and their number:
        each sentence is the context of several mentions, so it is summed once (cached)."""
        ids = self._ids(text)
        return self.matrix[ids].sum(axis=0), Counter(ids.tolist()), int(ids.size)  # type: ignore[index]

    def vector(self, contexts: Iterable[str], names: Iterable[str]) -> np.ndarray | None:
        """The unit vector of a mention's context sentences, less its names' pieces (None when
        nothing is left)."""
        if self.matrix is None:
            self._load()
        parts = [self._sentences(s) for s in contexts]
        if not parts:
            return None
        v = parts[0][0] if len(parts) == 1 else np.sum([p[0] for p in parts], axis=0)
        left = sum(p[2] for p in parts)
        for i in {i for n in names for i in self._ids(n).tolist()}:
            times = sum(p[1].get(i, 0) for p in parts)
            if times:  # the name's own pieces out: both sides of a comparison share them
                v = v - times * self.matrix[i]  # type: ignore[index]  # new: the cached sum stays
                left -= times
        if left <= 0:
            return None
        norm = float(np.sqrt(v @ v))
        return v / norm if norm > 0 else None


@lru_cache(maxsize=4)
def context_vectors(model: str | None = None) -> ContextVectors:
    """One ``ContextVectors`` per model and process (loaded once, its caches kept across runs)."""
    return ContextVectors(model)
