"""Issue 12 #15/#16: opening the wrong thing, and an UPDATE given to `kgforge query`."""

from __future__ import annotations

from pathlib import Path

import pytest

from kgforge.errors import KGForgeError, QueryError
from kgforge.graph.store import KnowledgeGraph


def test_non_store_directory_is_not_turned_into_a_store(tmp_path: Path, cli) -> None:
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "todo.txt").write_text("buy milk\n")
    data = tmp_path / "a.nt"
    data.write_text("<urn:a> <urn:b> <urn:c> .\n")
    proc = cli.run("load", str(folder), str(data))
    cli.error(proc, str(folder), "not an Oxigraph store")
    assert sorted(p.name for p in folder.iterdir()) == ["todo.txt"]
    for read_only in (False, True):
        with pytest.raises(KGForgeError, match="not an Oxigraph store"):
            KnowledgeGraph.open(folder, read_only=read_only)
    assert sorted(p.name for p in folder.iterdir()) == ["todo.txt"]


def test_sparql_backend_with_a_directory(tmp_path: Path, cli, fill_store) -> None:
    with KnowledgeGraph.open(tmp_path / "kg") as kg:
        fill_store(kg)
    proc = cli.run("stats", str(tmp_path / "kg"), "--backend", "sparql")
    cli.error(proc, "http(s):// endpoint URL", "(a directory)")


def test_update_through_query_points_to_the_update_command(tmp_path: Path, cli, fill_store) -> None:
    store = tmp_path / "kg"
    with KnowledgeGraph.open(store) as kg:
        fill_store(kg)
    update = "PREFIX x: <urn:x:>\n# drop the labels\nDELETE WHERE { ?s rdfs:label ?l }"
    cli.error(cli.run("query", str(store), update), "kgforge update")
    done = cli.run("update", str(store), update)
    assert done.returncode == 0, done.stderr
    assert "had 3 statements and has 1" in done.stdout
    bad = cli.run("update", str(store), "INSERT DATA { <urn:a> <urn:b> }")
    cli.error(bad, "SPARQL syntax error at line 1")
    with KnowledgeGraph.open(store, read_only=True) as kg:
        assert len(kg) == 1
        with pytest.raises(QueryError, match="not an update"):
            kg.update("SELECT * WHERE { ?s ?p ?o }")


def test_update_command_is_one_transaction(kg: KnowledgeGraph, tmp_path: Path) -> None:
    before = set(kg.quads())
    with pytest.raises(KGForgeError):  # the second operation fails: the first is not applied
        kg.update("DELETE WHERE { ?s rdfs:label ?l } ; LOAD <file:///nonexistent/x.ttl>")
    assert set(kg.quads()) == before
