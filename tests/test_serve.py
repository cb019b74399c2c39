"""`kgforge serve`: a real `oxigraph serve` on a store, on loopback."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from rdflib import Literal, URIRef

from kgforge.errors import EndpointError, KGForgeError, StoreLockedError
from kgforge.graph.serve import serve
from kgforge.graph.store import KnowledgeGraph
from tests.conftest import OXIGRAPH, free_port

pytestmark = pytest.mark.skipif(not OXIGRAPH.exists(), reason="oxigraph server not installed")

ADA = URIRef("https://w3id.org/kgforge/entity/ada")
LABEL = URIRef("http://www.w3.org/2000/01/rdf-schema#label")
DOC = URIRef("https://w3id.org/kgforge/doc/d1")


@pytest.fixture
def store(tmp_path: Path) -> Path:
    path = tmp_path / "store"
    with KnowledgeGraph.open(path) as kg:
        kg.add((ADA, LABEL, Literal("Ada Lovelace")), graph=DOC)
    return path


def test_read_write_server_answers_like_the_embedded_store(store: Path) -> None:
    with serve(store, port=free_port()) as server, KnowledgeGraph.open(server.url) as remote:
        assert [str(r[0]) for r in remote.query("SELECT ?l WHERE { ?s rdfs:label ?l }")] == [
            "Ada Lovelace"
        ]
        remote.update('INSERT DATA { GRAPH <urn:g> { <urn:a> <urn:b> "c" } }')
        assert len(remote) == 2
    with KnowledgeGraph.open(store, read_only=True) as kg:  # the server wrote the store itself
        assert len(kg) == 2


def test_read_only_server_refuses_updates_and_shares_the_store(store: Path) -> None:
    with (
        serve(store, port=free_port(), read_only=True) as one,
        serve(store, port=free_port(), read_only=True) as two,
        KnowledgeGraph.open(one.url) as remote,
    ):
        assert len(remote) == 1
        with pytest.raises(EndpointError):
            remote.update('INSERT DATA { <urn:a> <urn:b> "c" }')
        with KnowledgeGraph.open(two.url) as other:
            assert len(other) == 1


def test_locked_store_gives_a_clear_error(store: Path) -> None:
    with KnowledgeGraph.open(store):  # a writer holds the lock
        for read_only in (False, True):
            with pytest.raises(StoreLockedError, match="locked by a writer"):
                serve(store, port=free_port(), read_only=read_only)


def test_missing_store_and_busy_port(tmp_path: Path, store: Path) -> None:
    with pytest.raises(KGForgeError, match="no store at"):
        serve(tmp_path / "nothing", read_only=True)
    port = free_port()
    with serve(store, port=port, read_only=True), pytest.raises(KGForgeError, match="port"):
        serve(store, port=port, read_only=True)


def test_cli_serves_until_interrupted(store: Path) -> None:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "kgforge", "serve", str(store), "--port", str(port), "--read-only"],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()
        assert f"at http://127.0.0.1:{port}" in line, line
        with urllib.request.urlopen(
            f"http://127.0.0.1:{port}/query?query=ASK%7B%3Fs%20%3Fp%20%3Fo%7D", timeout=5
        ) as response:
            assert response.status == 200
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=20) == 130
    finally:
        if proc.poll() is None:
            proc.kill()
    time.sleep(0.1)
    check = subprocess.run(
        [sys.executable, "-m", "kgforge", "serve", str(store / "nope"), "--read-only"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert check.returncode == 1
    assert check.stderr.startswith("error: no store at")
