"""Where kgforge keeps what it computes once: one place for every cache folder.

``$KGFORGE_CACHE`` (default ``~/.cache/kgforge``) holds one folder per kind: ``features``
(sentence-transformers vectors of texts), ``hidden`` (token states of frozen transformer
layers), ``samplers`` (LM negative-sampler pools), ``tokens`` (the relation classifier's token
vectors), ``schema`` and ``schema-models`` (the schema extractor's features and models). Every writer goes through :func:`kgforge.fileio.atomic_write`, so concurrent runs may
share the folders.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path


def cache_home() -> Path:
    """``$KGFORGE_CACHE``, else ``~/.cache/kgforge``."""
    env = os.environ.get("KGFORGE_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "kgforge"


def cache_path(kind: str, root: str | Path | None = None) -> Path:
    """The folder of one kind of cache: ``root/kind`` when a caller gives its own ``root``,
    else ``cache_home()/kind``."""
    return (Path(root) if root is not None else cache_home()) / kind


def model_fingerprint(model: str) -> str:
    """A short hash naming a model: of its files' names, sizes and small config files when
    ``model`` is a local folder (so the same weights installed in two environments share one
    cache), else of the name."""
    folder = Path(model).expanduser()
    if not folder.is_dir():
        return hashlib.sha1(model.encode("utf-8")).hexdigest()[:10]
    digest = hashlib.sha1()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        size = path.stat().st_size
        digest.update(f"{path.relative_to(folder).as_posix()}\0{size}\0".encode())
        if path.suffix in {".json", ".txt"} and size < 1 << 20:
            digest.update(path.read_bytes())
    return digest.hexdigest()[:10]
