"""notebooks/07_graph_encoder.ipynb runs from top to bottom on its tiny graph."""

from __future__ import annotations

from pathlib import Path

from notebook_runner import run_notebook


def test_graph_encoder_notebook_executes(tmp_path: Path) -> None:
    outputs = run_notebook("07_graph_encoder.ipynb", tmp_path)
    assert "edge_index=[2, " in outputs and "edge_type=" in outputs
    assert "none   MRR" in outputs and "split  MRR" in outputs
    assert "identical scores with and without the query edge: True" in outputs
    assert "with edges: ['group:blue'" in outputs
