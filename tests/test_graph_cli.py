"""`kgforge query/load/export/stats`, and their one-line errors."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kgforge.cli import app

TTL = """\
@prefix ent: <https://w3id.org/kgforge/entity/> .
@prefix rel: <https://w3id.org/kgforge/relation/> .
@prefix kgf: <https://w3id.org/kgforge/ns#> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
ent:ada rel:worked_with ent:charles ; rdfs:label "Ada Lovelace" ; a kgf:Entity .
ent:charles rdfs:label "Charles Babbage" .
"""
TRIG = """\
@prefix ent: <https://w3id.org/kgforge/entity/> .
@prefix rel: <https://w3id.org/kgforge/relation/> .
@prefix kgf: <https://w3id.org/kgforge/ns#> .
<https://w3id.org/kgforge/doc/d1> { ent:charles rel:designed ent:engine . }
<https://w3id.org/kgforge/doc/d1> a kgf:Document .
"""
QUERY = "SELECT ?who ?label WHERE { ?who rdfs:label ?label } ORDER BY ?label"


@pytest.fixture
def store(tmp_path: Path) -> str:
    (tmp_path / "a.ttl").write_text(TTL)
    (tmp_path / "b.trig").write_text(TRIG)
    store = str(tmp_path / "store")
    result = CliRunner().invoke(
        app, ["load", store, str(tmp_path / "a.ttl"), str(tmp_path / "b.trig")]
    )
    assert result.exit_code == 0, result.output
    assert "loaded 6 statements from 2 file(s)" in result.output
    return store


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kgforge", *args], capture_output=True, text=True, timeout=120
    )


def test_query_formats(store: str, tmp_path: Path) -> None:
    runner = CliRunner()
    table = runner.invoke(app, ["query", store, QUERY])
    assert table.exit_code == 0
    lines = table.output.splitlines()
    assert lines[0].split() == ["who", "label"]
    assert "ent:ada" in lines[2] and "Ada Lovelace" in lines[2]
    assert lines[-1] == "(2 rows)"

    rows = list(
        csv.reader(
            io.StringIO(runner.invoke(app, ["query", store, QUERY, "--format", "csv"]).output)
        )
    )
    assert rows[0] == ["who", "label"]
    assert rows[1] == ["https://w3id.org/kgforge/entity/ada", "Ada Lovelace"]

    (tmp_path / "q.rq").write_text(QUERY)
    out = runner.invoke(app, ["query", store, "--file", str(tmp_path / "q.rq"), "--format", "json"])
    data = json.loads(out.output)
    assert data["head"]["vars"] == ["who", "label"]
    assert [b["label"]["value"] for b in data["results"]["bindings"]] == [
        "Ada Lovelace",
        "Charles Babbage",
    ]

    ask = runner.invoke(app, ["query", store, "ASK { ?s rel:designed ?o }"])
    assert ask.output.strip() == "true"


def test_export_and_stats(store: str, tmp_path: Path) -> None:
    runner = CliRunner()
    nq = runner.invoke(app, ["export", store, "--format", "nq"])
    assert nq.exit_code == 0
    assert len([line for line in nq.output.splitlines() if line.strip()]) == 6
    assert "<https://w3id.org/kgforge/doc/d1> ." in nq.output
    out = tmp_path / "dump.ttl"
    assert runner.invoke(app, ["export", store, "-o", str(out), "--union"]).exit_code == 0
    assert "rel:worked_with" in out.read_text()

    stats = json.loads(runner.invoke(app, ["stats", store, "--format", "json"]).output)
    assert stats == {"triples": 6, "entities": 3, "relations": 2, "documents": 1, "graphs": 1}


@pytest.mark.parametrize(
    "args, expected",
    [
        (["query", "{store}", "SELECT ?s WHERE {\n ?s ?p }"], "line 2"),
        (["load", "{store}", "{bad}"], "bad.ttl:2"),
        (["load", "{store}", "{bad}", "--format", "yaml"], "known formats"),
        (["export", "{store}", "--format", "xlsx"], "known formats"),
        (["query", "http://127.0.0.1:9/sparql", "ASK {}"], "127.0.0.1:9"),
        (["stats", "{missing}"], "no store"),
    ],
)
def test_errors_are_one_line(store: str, tmp_path: Path, args: list[str], expected: str) -> None:
    bad = tmp_path / "bad.ttl"
    bad.write_text('<http://a> <http://b> "ok" .\n<http://a> <http://b> "unclosed .\n')
    values = {"{store}": store, "{bad}": str(bad), "{missing}": str(tmp_path / "missing")}
    proc = _run(*(values.get(arg, arg) for arg in args))
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and expected in lines[0], proc.stderr


def test_load_is_all_files_or_none(tmp_path: Path) -> None:
    (tmp_path / "good.ttl").write_text(TTL)
    (tmp_path / "bad.nt").write_text("<http://a> <http://b> .\n")
    store = str(tmp_path / "store")
    runner = CliRunner()
    failed = runner.invoke(
        app, ["load", store, str(tmp_path / "good.ttl"), str(tmp_path / "bad.nt")]
    )
    assert failed.exit_code != 0
    assert "bad.nt:1" in str(failed.exception)
    stats = json.loads(runner.invoke(app, ["stats", store, "--format", "json"]).output)
    assert stats["triples"] == 0
