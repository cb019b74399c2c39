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


def _disk_and_copy(kg: KnowledgeGraph) -> tuple[set, set]:
    mirrored = kg._backend.store
    return set(mirrored.disk), set(mirrored.memory)


def test_memory_cache_mirrors_every_write_path(tmp_path: Path) -> None:
    path = tmp_path / "kg"
    with KnowledgeGraph.open(path) as kg:
        kg.add((A, REL.knows, B), graph=DOC)  # on disk before the copy exists
    with KnowledgeGraph.open(path, memory_cache=True) as kg:
        disk, copy = _disk_and_copy(kg)
        assert disk == copy and len(copy) == 1
        kg.add((B, RDFS.label, Literal("Beta")))
        with kg.transaction():  # mixed batch: one SPARQL update on disk, replayed on the copy
            kg.add((B, REL.knows, A), graph=DOC)
            kg.remove((A, REL.knows, B))
        kg.update(
            "INSERT { ?s rel:seen [ rdfs:label 'fresh' ] } WHERE { GRAPH ?g { ?s rel:knows ?o } }"
        )
        kg.graph(DOC).add((A, RDFS.label, Literal("Alpha")))
        disk, copy = _disk_and_copy(kg)
        assert disk == copy  # blank nodes minted by the update are the disk's own
        assert len(kg.query("SELECT ?l WHERE { ?s rel:seen/rdfs:label ?l }")) == 1
        assert (A, REL.knows, B) not in set(kg.triples())
        seen = set(kg.quads())
    with KnowledgeGraph.open(path) as kg:
        assert set(kg.quads()) == seen


def test_memory_cache_reloads_a_copy_that_failed_a_write(tmp_path: Path) -> None:
    class Broken:
        def extend(self, quads: object) -> None:
            raise MemoryError("injected")

    with KnowledgeGraph.open(tmp_path / "kg", memory_cache=True) as kg:
        kg._backend.store.memory = Broken()
        kg.add((A, REL.knows, B))  # durable on disk; the copy is rebuilt from it
        assert list(kg.triples()) == [(A, REL.knows, B)]
        disk, copy = _disk_and_copy(kg)
        assert disk == copy


def test_memory_cache_only_for_oxigraph(tmp_path: Path) -> None:
    with pytest.raises(KGForgeError, match="memory_cache applies to the embedded Oxigraph"):
        KnowledgeGraph.open(":memory:", memory_cache=True)
    with KnowledgeGraph.open(tmp_path / "kg") as kg:
        kg.add((A, REL.knows, B))
    with KnowledgeGraph.open(tmp_path / "kg", read_only=True, memory_cache=True) as kg:
        assert list(kg.triples()) == [(A, REL.knows, B)]
        with pytest.raises(KGForgeError, match="read-only"):
            kg.add((B, REL.knows, A))
