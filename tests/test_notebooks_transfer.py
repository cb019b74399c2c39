"""notebooks/04_transfer.ipynb runs from top to bottom on the demo graph."""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "04_transfer.ipynb"


def test_transfer_notebook_executes(tmp_path: Path) -> None:
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(
        notebook,
        timeout=300,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    ).execute()
    outputs = "".join(
        out.get("text", "") + str(out.get("data", {}).get("text/plain", ""))
        for cell in notebook.cells
        if cell.cell_type == "code"
        for out in cell.outputs
    )
    assert "held-out entities" in outputs
    assert "grace_hopper" in outputs and "Grace Hopper ->" in outputs  # predicted, and queryable
    assert "Marie Curie" in outputs  # the search finds her
