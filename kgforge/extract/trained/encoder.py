"""The frozen transformer both trained heads read: contextual word-piece vectors with character
offsets, cached on disk, and the pooling of those vectors over a character span."""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Sequence

import numpy as np
import torch

from kgforge.cache import cache_path, model_fingerprint
from kgforge.fileio import atomic_write
from kgforge.models import default_text_model, load_sentence_model
from kgforge.progress import progress


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
        self.name = model or default_text_model()
        self.max_length = max_length
        self.batch_size = batch_size
        self.cache = cache
        device = "cuda" if torch.cuda.is_available() else "cpu"
        st = load_sentence_model(self.name, device)
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
        digest = hashlib.sha1(f"{model_fingerprint(self.name)}\0{self.max_length}".encode())
        for text in texts:
            digest.update(text.encode("utf-8") + b"\0")
        path = cache_path("tokens") / f"{digest.hexdigest()}.npz"
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
        for batch in progress(batches, desc=desc or "encoding", disable=desc is None, leave=False):
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
def shared_encoder(name: str | None) -> TokenEncoder:
    """One loaded encoder per model name, shared by the refiner and the relation classifier."""
    return TokenEncoder(name)


def pool(
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


def mean_vector(vecs: np.ndarray, offsets: np.ndarray, start: int, end: int) -> np.ndarray:
    inside = (offsets[:, 0] < end) & (offsets[:, 1] > start)
    if not inside.any():
        return np.zeros(vecs.shape[1], dtype=np.float32)
    return vecs[inside].mean(0)
