"""notebooks/02_extract.ipynb runs from top to bottom."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "02_extract.ipynb"


def test_extract_notebook_executes(tmp_path: Path) -> None:
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(
        notebook,
        timeout=180,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    ).execute()
    outputs = "".join(
        out.get("text", "") + "".join(out.get("data", {}).get("text/plain", ""))
        for cell in notebook.cells
        if cell.cell_type == "code"
        for out in cell.outputs
    )
    assert "Steve Jobs   found     Apple" in outputs
    assert "'Jobs'           Person        -> Steve Jobs" in outputs
    assert "apple.md" in outputs and "steve_jobs.txt" in outputs
    assert "0 extracted (0 new, 0 changed)" in outputs
    first = outputs.split("statements; first:\n")[1].splitlines()[0]
    assert set(json.loads(first)) >= {"doc_id", "sentence", "subject", "predicate", "object"}
