"""notebooks/05_distill.ipynb runs from top to bottom on its tiny data."""

from __future__ import annotations

from pathlib import Path

from notebook_runner import run_notebook


def test_distill_notebook_executes(tmp_path: Path) -> None:
    outputs = run_notebook("05_distill.ipynb", tmp_path)
    assert "texts/s: teacher" in outputs
    assert "student-" in outputs  # the distilled model reads its student
    assert "group:green" in outputs  # the text-only heron lands in its group
