"""notebooks/06_walkthrough.ipynb: the sample corpus through the whole chain, with its plots."""

from __future__ import annotations

from pathlib import Path

from notebook_runner import run_notebook


def test_walkthrough_notebook_executes(tmp_path: Path) -> None:
    outputs = run_notebook("06_walkthrough.ipynb", tmp_path)
    assert "19 documents: 19 extracted" in outputs
    assert "inductive (held-out entities)" in outputs and "leakage-free text:" in outputs
    assert "taken out of ent:" in outputs  # the excluded sentences are shown
    assert "test: MRR" in outputs and "'mrr'" in outputs
    assert "Lise Meitner" in outputs
    assert outputs.count("<Figure") == 3  # degree histogram, neighbourhood, training curve
