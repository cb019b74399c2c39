"""The reference site builds without a warning (`make docs`): every page in mkdocs.yml's nav,
and the API reference generated from the public docstrings."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]


def test_docs_build_strict(tmp_path: Path) -> None:
    pytest.importorskip("mkdocstrings_handlers.python", reason="pip install -e .[docs]")
    site = tmp_path / "site"
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    api = (site / "api" / "index.html").read_text(encoding="utf-8")
    for name in ("KnowledgeGraph", "predict_links", "EntityIndex", "LinkPredictor"):
        assert name in api
    assert "batch_size" in api  # the Args sections are rendered
    pages = {p.name for p in (ROOT / "docs").glob("*.md")}
    nav = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))["nav"]
    assert {page for item in nav for page in item.values()} == pages, "a page not in the nav"
