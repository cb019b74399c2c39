"""Atomic writes: the old file survives a failed write, and no temporary file is left."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from kgforge.fileio import atomic_write


def test_atomic_write_replaces_or_keeps(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "vectors.npz"
    atomic_write(target, lambda tmp: np.savez(tmp, x=np.arange(3)))  # creates the folder
    assert sorted(p.name for p in target.parent.iterdir()) == ["vectors.npz"]  # no .npz.npz

    def broken(tmp: Path) -> None:
        tmp.write_bytes(b"half a file")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic_write(target, broken)
    assert sorted(p.name for p in target.parent.iterdir()) == ["vectors.npz"]
    with np.load(target) as data:
        assert data["x"].tolist() == [0, 1, 2]
