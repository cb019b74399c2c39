"""The README's demo: extract the sample corpus, re-run without re-extracting, print queries."""

from __future__ import annotations

from pathlib import Path

import pytest

from kgforge import demo


def test_demo_runs_twice(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    n_docs = sum(1 for p in demo.SAMPLE.iterdir() if p.suffix in (".txt", ".md"))
    demo.main(tmp_path)
    first = capsys.readouterr().out
    assert f"{n_docs + 5} documents: {n_docs + 5} extracted" in first  # + 3 JSONL + 2 CSV records
    assert "marie_curie.txt   Marie Curie, a Polish physicist, was born in Warsaw" in first
    assert "(0 rows)" not in first
    demo.main(tmp_path)
    second = capsys.readouterr().out
    assert f"0 extracted (0 new, 0 changed), {n_docs + 5} unchanged" in second
    # same graph, same answers
    assert first.split("Store:")[1] == second.split("Store:")[1]
