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
        from safetensors import safe_open
        from tokenizers import Tokenizer

        folder = Path(model or default_text_model())
        weights, vocab = folder / "model.safetensors", folder / "tokenizer.json"
        if not weights.is_file() or not vocab.is_file():
            raise ConfigError(
                "a context model needs a local folder with tokenizer.json and model.safetensors",
                folder,
                field="resolution.context.model",
            )
        with safe_open(str(weights), "np") as f:
            name = next((k for k in f.keys() if k.endswith(_WEIGHT)), None)  # noqa: SIM118
            if name is None:
                raise ConfigError(f"no {_WEIGHT} in the model", weights)
            matrix = f.get_tensor(name).astype(np.float32)
        self.matrix = matrix - matrix.mean(axis=0)
        self.tokenizer = Tokenizer.from_file(str(vocab))
        self.tokenizer.no_padding()
        self.tokenizer.no_truncation()
        self._stop = {
            ids[0]
            for w in STOP_WORDS
            if len(ids := self.tokenizer.encode(w, add_special_tokens=False).ids) == 1
        }
        self._ids = lru_cache(maxsize=1 << 15)(self._piece_ids)

    def _piece_ids(self, text: str) -> tuple[int, ...]:
        """Word pieces of ``text`` that carry content: no stop words, and none of the first
        2,000 ids (BERT's special tokens, single characters and punctuation)."""
        ids = self.tokenizer.encode(text.casefold(), add_special_tokens=False).ids
        return tuple(i for i in ids if i >= _FIRST_WORD and i not in self._stop)

    def vector(self, contexts: Iterable[str], names: Iterable[str]) -> np.ndarray | None:
        """The unit vector of a mention's context sentences, less its names' pieces (None when
        nothing is left)."""
        own = {i for n in names for i in self._ids(n)}
        ids = [i for s in contexts for i in self._ids(s) if i not in own]
        if not ids:
            return None
        v = self.matrix[ids].mean(axis=0)
        norm = float(np.linalg.norm(v))
        return v / norm if norm > 0 else None
