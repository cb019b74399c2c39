"""Frozen text features: encode entity text once with a sentence-transformers model, cache on disk.

Encoding all 40,943 WN18RR entity texts takes minutes on a CPU, and every frozen-feature model,
sampler and benchmark needs the same vectors, so they are computed once and kept.

The cache is keyed per text (a hash of the text) under a folder per model, so the same texts in a
different order, or a superset of them, reuse what was already encoded. Vectors are written in
shards as they are computed (each written to a temporary file, then renamed), so an interrupted
run keeps its finished shards and a crash never leaves a half-written file behind.
"""

from __future__ import annotations

import collections
import hashlib
import logging
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from kgforge.cache import cache_path, model_fingerprint
from kgforge.fileio import atomic_write
from kgforge.models import default_text_model, load_sentence_model
from kgforge.progress import progress

logger = logging.getLogger(__name__)

SHARD_SIZE = 4096
"""Texts per cache shard: what an interruption can lose at most."""


def model_cache_dir(model: str, cache_dir: str | Path | None = None) -> Path:
    """The folder of one model's cached vectors (readable name plus a hash that identifies the
    model), under ``cache_dir`` or ``$KGFORGE_CACHE/features`` (:mod:`kgforge.cache`)."""
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(model).name or model)[-60:]
    digest = model_fingerprint(model)
    root = Path(cache_dir) if cache_dir is not None else cache_path("features")
    return root / f"{slug}-{digest}"


def text_key(text: str) -> bytes:
    """Cache key of one text."""
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).hexdigest().encode("ascii")


FEW_TEXTS = 16
"""At most this many texts not met recently are encoded directly, without reading or writing
the disk cache (a query's text: reading every shard takes longer than encoding it)."""
RECENT_SIZE = 4096
"""Vectors of the most recent texts kept in memory per process (the text of a query is then
encoded once, whichever of a model's parts asks for it)."""
_RECENT: collections.OrderedDict[tuple[Path, bytes], np.ndarray] = collections.OrderedDict()


def _remember(folder: Path, vectors: dict[bytes, np.ndarray]) -> None:
    for key, vector in vectors.items():
        _RECENT[(folder, key)] = vector.copy()  # not a view that keeps a whole shard alive
        _RECENT.move_to_end((folder, key))
    while len(_RECENT) > RECENT_SIZE:
        _RECENT.popitem(last=False)


def _read_shards(folder: Path, wanted: set[bytes]) -> dict[bytes, np.ndarray]:
    found: dict[bytes, np.ndarray] = {}
    if not folder.is_dir():
        return found
    for shard in sorted(folder.glob("*.npz")):
        try:
            with np.load(shard) as data:
                keys, vectors = data["keys"], data["vectors"]
        except (OSError, ValueError, KeyError):
            continue  # unreadable shard (e.g. from another version): encode those texts again
        for i, key in enumerate(keys.tolist()):
            if key in wanted and key not in found:
                found[key] = vectors[i]
    return found


def _write_shard(folder: Path, keys: list[bytes], vectors: np.ndarray) -> None:
    name = hashlib.sha1(b"".join(keys)).hexdigest()[:16]
    atomic_write(
        folder / f"{name}.npz",
        lambda tmp: np.savez(
            tmp, keys=np.array(keys, dtype="S32"), vectors=vectors.astype(np.float32)
        ),
    )


def encode_texts(
    texts: Sequence[str],
    model: str | None = None,
    cache_dir: str | Path | None = None,
    batch_size: int = 64,
    normalize: bool = True,
) -> np.ndarray:
    """Sentence embeddings of ``texts`` (float32 ``[N, d]``), from the disk cache where possible.

    ``model`` is a sentence-transformers hub name or local path (default: the offline MiniLM).
    With ``normalize`` each row has unit L2 norm; the cache keeps raw vectors, so both settings
    share it. Texts not yet cached show a progress bar (:mod:`kgforge.progress`).
    """
    model = model or default_text_model()
    texts = [str(t) for t in texts]
    folder = model_cache_dir(model, cache_dir)
    keys = [text_key(t) for t in texts]
    found = {k: v for k in set(keys) if (v := _RECENT.get((folder, k))) is not None}
    wanted = set(keys) - found.keys()
    if len(wanted) > FEW_TEXTS:  # a few texts (a query) are encoded faster than shards are read
        found.update(_read_shards(folder, wanted))

    missing: dict[bytes, str] = {}
    for key, text in zip(keys, texts, strict=True):
        if key not in found and key not in missing:
            missing[key] = text
    if len(missing) > FEW_TEXTS:
        found.update(_encode_missing(missing, model, folder, batch_size))
    elif missing:  # not written: a shard per query would slow every later read of the cache
        vectors = load_sentence_model(model).encode(
            list(missing.values()),
            batch_size=batch_size,
            convert_to_numpy=True,
            normalize_embeddings=False,
            show_progress_bar=False,
        )
        found.update(zip(missing, vectors.astype(np.float32), strict=True))
    if len(found) <= RECENT_SIZE:
        _remember(folder, found)

    if not texts:
        dim = load_sentence_model(model).get_sentence_embedding_dimension()
        return np.zeros((0, dim), dtype=np.float32)
    out = np.stack([found[k] for k in keys]).astype(np.float32, copy=False)
    if normalize:
        out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
    return out


def _encode_missing(
    missing: dict[bytes, str], model: str, folder: Path, batch_size: int
) -> dict[bytes, np.ndarray]:
    logger.info("encoding %d texts with %s (cache: %s)", len(missing), model, folder)
    encoder = load_sentence_model(model)
    # similar lengths together: less padding per batch
    order = sorted(missing, key=lambda k: len(missing[k]))
    result: dict[bytes, np.ndarray] = {}
    with progress(total=len(order), desc="encoding texts", unit="text") as bar:
        for start in range(0, len(order), SHARD_SIZE):
            chunk = order[start : start + SHARD_SIZE]
            vectors = encoder.encode(
                [missing[k] for k in chunk],
                batch_size=batch_size,
                convert_to_numpy=True,
                normalize_embeddings=False,
                show_progress_bar=False,  # kgforge's own bar counts these
            ).astype(np.float32)
            _write_shard(folder, chunk, vectors)
            result.update(zip(chunk, vectors, strict=True))
            bar.update(len(chunk))
    return result
