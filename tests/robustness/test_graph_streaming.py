"""Issue 12 #14: csv/tsv/json results stream row by row; the table stops at 1,000 rows."""

from __future__ import annotations

import csv
import io
import json
import tracemalloc
from pathlib import Path

import pytest
from rdflib import Literal, URIRef

from kgforge.graph.store import KnowledgeGraph

ROWS = 5_000
QUERY = "SELECT ?s ?o WHERE { ?s <urn:p> ?o }"


class Sink(io.RawIOBase):
    """Counts what is written and keeps nothing (so memory is the writer's own)."""

    def __init__(self) -> None:
        self.size, self.writes, self.lines = 0, 0, 0

    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:  # type: ignore[override]
        self.size += len(data)
        self.writes += 1
        self.lines += bytes(data).count(b"\n")
        return len(data)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("streaming") / "kg"
    with KnowledgeGraph.open(path) as kg:
        kg.add_many(
            (URIRef(f"urn:s{i}"), URIRef("urn:p"), Literal(f"value {i}")) for i in range(ROWS)
        )
    return path


@pytest.mark.parametrize("fmt", ["csv", "tsv", "json"])
def test_results_stream_with_flat_python_memory(store: Path, fmt: str) -> None:
    with KnowledgeGraph.open(store, read_only=True) as kg:
        sink = Sink()
        tracemalloc.start()
        assert kg.write_results(QUERY, sink, fmt)
        _, streamed = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        tracemalloc.start()
        rows = kg.query(QUERY)  # the materialised result, for scale
        _, materialised = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert len(rows) == ROWS
    assert sink.writes > 1 and sink.size > ROWS * 10
    if fmt != "json":
        assert sink.lines == ROWS + 1  # header + one line per row
    assert streamed < materialised / 10, (streamed, materialised)


def test_streamed_formats_are_sparql_results(store: Path, tmp_path: Path, cli) -> None:
    csv_out = cli.run("query", str(store), QUERY + " ORDER BY ?s LIMIT 2", "--format", "csv")
    rows = list(csv.reader(io.StringIO(csv_out.stdout)))
    assert rows[0] == ["s", "o"] and rows[1] == ["urn:s0", "value 0"]
    tsv = cli.run("query", str(store), QUERY + " ORDER BY ?s LIMIT 1", "--format", "tsv")
    assert tsv.stdout.splitlines() == ["?s\t?o", '<urn:s0>\t"value 0"']
    js = cli.run(
        "query", str(store), "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }", "--format", "json"
    )
    assert json.loads(js.stdout)["results"]["bindings"][0]["n"]["value"] == str(ROWS)


def test_the_table_caps_rows_and_says_how_many_more(store: Path, cli) -> None:
    proc = cli.run("query", str(store), QUERY)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == 2 + 1000 + 1  # header, rule, rows, note
    assert lines[-1].startswith(f"(first 1,000 of {ROWS:,} rows shown, {ROWS - 1000:,} more")
    assert "--format csv" in lines[-1]


def test_memory_backend_writes_the_same_formats() -> None:
    kg = KnowledgeGraph.open(":memory:")
    kg.add((URIRef("urn:s0"), URIRef("urn:p"), Literal("value 0")))
    out = io.BytesIO()
    assert kg.write_results(QUERY, out, "tsv")
    assert out.getvalue().decode().splitlines() == ["?s\t?o", '<urn:s0>\t"value 0"']
    assert not kg.write_results("ASK { ?s ?p ?o }", io.BytesIO(), "csv")
