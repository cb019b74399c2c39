"""notebooks/03_link_prediction.ipynb runs from top to bottom on its tiny data."""

from __future__ import annotations

from pathlib import Path

from notebook_runner import run_notebook


def test_link_prediction_notebook_executes(tmp_path: Path) -> None:
    outputs = run_notebook("03_link_prediction.ipynb", tmp_path)
    assert "test: MRR" in outputs
    assert "group:green" in outputs  # the text-only heron lands in its group
    assert "'mrr'" in outputs
