"""Where kgforge keeps what it computes once: one place for every cache folder.

``$KGFORGE_CACHE`` (default ``~/.cache/kgforge``) holds one folder per kind: ``features``
(sentence-transformers vectors of texts), ``hidden`` (token states of frozen transformer
layers), ``samplers`` (LM negative-sampler pools), ``tokens`` (the relation classifier's token
vectors), ``schema`` and ``schema-models`` (the schema extractor's features and models). Every writer goes through :func:`kgforge.fileio.atomic_write`, so concurrent runs may
share the folders.
"""

from __future__ import annotations

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
