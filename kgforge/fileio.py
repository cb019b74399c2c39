"""Atomic file writes: caches, checkpoints, models and data files are replaced, never half-written.

Every layer writes files that an interrupted run must not leave broken (a cache shard, a
checkpoint, a saved model), so they all go through :func:`atomic_write`.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from pathlib import Path


def atomic_write(path: str | Path, write: Callable[[Path], object]) -> Path:
    """Call ``write(tmp)`` on a temporary file beside ``path``, then rename it to ``path``.

    Readers see the old file or the new one, never a partial one; a failed or killed write
    leaves the old file. The temporary name keeps ``path``'s suffix (``np.savez`` would add
    ``.npz`` otherwise) and is unique, so concurrent writers do not collide.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.{uuid.uuid4().hex}.tmp{path.suffix}")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path
