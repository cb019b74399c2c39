"""notebooks/04_transfer.ipynb runs from top to bottom on the demo graph."""

from __future__ import annotations

from pathlib import Path

from notebook_runner import run_notebook


def test_transfer_notebook_executes(tmp_path: Path) -> None:
    outputs = run_notebook("04_transfer.ipynb", tmp_path)
    assert "held-out entities" in outputs
    assert "grace_hopper" in outputs and "Grace Hopper ->" in outputs  # predicted, and queryable
    assert "Marie Curie" in outputs  # the search finds her
