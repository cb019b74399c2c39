"""What only the on-disk Oxigraph backend has: persistence, the write lock, read-only views, bulk."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from rdflib import Literal
from rdflib.namespace import RDFS

import kgforge
from kgforge.errors import EndpointError, KGForgeError, StoreLockedError
from kgforge.graph.namespaces import REL, document_iri, entity_iri
from kgforge.graph.store import KnowledgeGraph

A, B = entity_iri("Alpha"), entity_iri("Beta")
DOC = document_iri("d")

HOLDER = textwrap.dedent(
    """
    import sys
    from kgforge.graph.store import KnowledgeGraph
    kg = KnowledgeGraph.open(sys.argv[1])
    print("open", flush=True)
    sys.stdin.read()  # hold the store until the test closes our stdin
    kg.close()
    """
)


def test_top_level_export_and_persistence(tmp_path: Path) -> None:
    with kgforge.KnowledgeGraph.open(tmp_path / "kg") as kg:
        kg.add((A, REL.knows, B), graph=DOC)
        kg.add((A, RDFS.label, Literal("Alpha")))
    with KnowledgeGraph.open(tmp_path / "kg") as kg:
        assert set(kg.quads()) == {(A, REL.knows, B, DOC), (A, RDFS.label, Literal("Alpha"), None)}


def test_second_writer_fails_clearly_and_readers_still_work(tmp_path: Path) -> None:
    path = tmp_path / "kg"
    with KnowledgeGraph.open(path) as kg:
        kg.add((A, REL.knows, B))
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "open"
        with pytest.raises(StoreLockedError, match="already open for writing"):
            KnowledgeGraph.open(path)
        with KnowledgeGraph.open(path, read_only=True) as reader:  # no lock needed to read
            assert list(reader.triples()) == [(A, REL.knows, B)]
            with pytest.raises(KGForgeError, match="read-only"):
                reader.add((B, REL.knows, A))
    finally:
        holder.communicate("", timeout=30)
    assert holder.returncode == 0
    with KnowledgeGraph.open(path) as kg:  # the lock is released with the process
        assert len(kg) == 1


def test_same_store_twice_in_one_process(tmp_path: Path) -> None:
    with KnowledgeGraph.open(tmp_path / "kg"), pytest.raises(StoreLockedError):
        KnowledgeGraph.open(tmp_path / "kg")


def test_bulk_paths(tmp_path: Path) -> None:
    triples = [(entity_iri(f"e{i}"), REL.next, entity_iri(f"e{i + 1}")) for i in range(500)]
    with KnowledgeGraph.open(tmp_path / "kg") as kg:
        assert kg.add_many(iter(triples), graph=DOC, bulk=True) == 500
        assert len(kg) == 500
        path = kg.export(tmp_path / "all.nq")
    with KnowledgeGraph.open(tmp_path / "kg2") as kg:
        assert kg.load(path, bulk=True) == 500
        assert set(kg.triples(graph=DOC)) == set(triples)


def test_unreachable_endpoint_names_the_url() -> None:
    import socket

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(EndpointError, match=f"127.0.0.1:{port}"):
        KnowledgeGraph.open(f"http://127.0.0.1:{port}")
