"""Worker processes and concurrent runs (issue 12): spaCy workers die with a killed parent;
two runs writing to one SPARQL endpoint at once keep every entity record."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from rdflib.namespace import RDF, RDFS

from kgforge.corpus import CorpusReader
from kgforge.extract.run import extract
from kgforge.graph.namespaces import ENTITIES_GRAPH, KGF
from kgforge.graph.store import KnowledgeGraph


def _children(pid: int) -> set[int]:
    out = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                out.add(int(entry.name))
    return out


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"  # a zombie has exited


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc; prctl is Linux's")
def test_killed_run_leaves_no_worker_processes(tmp_path: Path) -> None:
    corpus = tmp_path / "c.jsonl"
    text = "Marie Curie, a Polish physicist, was born in Warsaw. Chopin moved to Paris. " * 8
    corpus.write_text("".join(f'{{"id": "d{i}", "text": "{text}"}}\n' for i in range(3000)))
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "kgforge",
            "extract",
            str(corpus),
            "--store",
            str(tmp_path / "s"),
            "--workers",
            "2",
            "--batch-size",
            "8",
        ],
        env={**os.environ, "KGFORGE_PROGRESS": "0"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 180
        workers: set[int] = set()
        while len(workers) < 2:
            assert proc.poll() is None and time.monotonic() < deadline, "no workers started"
            time.sleep(0.2)
            workers = {p for p in _children(proc.pid) if _alive(p)}
        time.sleep(2)  # the workers are parsing
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        deadline = time.monotonic() + 20
        while any(_alive(p) for p in workers) and time.monotonic() < deadline:
            time.sleep(0.2)
        left = [p for p in workers if _alive(p)]
    finally:
        for p in _children(proc.pid) if proc.poll() is None else ():
            os.kill(p, signal.SIGKILL)
        if proc.poll() is None:
            proc.kill()
    for p in left:  # do not leave them running even when the test fails
        os.kill(p, signal.SIGKILL)
    assert not left, f"worker processes {left} outlived their killed parent"


DOCS_A = {
    "curie.txt": "Marie Curie, a Polish physicist, was born in Warsaw. Curie moved to Paris.",
    "apple.txt": "Apple was founded by Steve Jobs in 1976. Jobs later led Pixar.",
}
DOCS_B = {
    "chopin.txt": "Chopin moved to Paris in 1831. Chopin was born in Poland.",
    "ms.txt": "Microsoft acquired LinkedIn. Bill Gates founded Microsoft.",
}


def _records(kg: KnowledgeGraph) -> set[tuple]:
    return set(kg.quads((None, None, None, ENTITIES_GRAPH)))


def test_two_runs_into_one_endpoint_keep_every_entity_record(
    tmp_path: Path, oxigraph_server: str
) -> None:
    for name, docs in (("A", DOCS_A), ("B", DOCS_B)):
        (tmp_path / name).mkdir()
        for file, text in docs.items():
            (tmp_path / name / file).write_text(text, encoding="utf-8")
    with KnowledgeGraph.open(oxigraph_server) as kg:  # the server is shared by the session
        kg.update("DROP ALL")
    # the graph one run over both gives, for reference
    with KnowledgeGraph.open(":memory:") as ref:
        extract(tmp_path / "A", ref, "default")
        extract(tmp_path / "B", ref, "default")
        expected = {(s, p, o) for s, p, o, _ in _records(ref)}

    # B starts on the empty store and reads its first document only after A has finished:
    # the interleaving that lost A's records
    b_waiting, a_done = threading.Event(), threading.Event()
    failures: list[BaseException] = []

    class WaitingReader(CorpusReader):
        def __iter__(self):
            for i, doc in enumerate(super().__iter__()):
                if i == 0:
                    b_waiting.set()
                    assert a_done.wait(300)
                yield doc

    def run_b() -> None:
        try:
            with KnowledgeGraph.open(oxigraph_server) as kg:
                extract(WaitingReader(tmp_path / "B"), kg, "default")
        except BaseException as exc:  # noqa: BLE001 (reported by the test)
            failures.append(exc)

    b = threading.Thread(target=run_b)
    b.start()
    assert b_waiting.wait(300)
    with KnowledgeGraph.open(oxigraph_server) as kg:
        extract(tmp_path / "A", kg, "default")
    a_done.set()
    b.join(300)
    assert not failures, failures
    with KnowledgeGraph.open(oxigraph_server) as kg:
        got = {(s, p, o) for s, p, o, _ in _records(kg)}
        mentioned = {s for s, _, _, _ in kg.quads((None, KGF.mentions, None, None))}
        labelled = {s for s, _, _ in kg.triples((None, RDFS.label, None), ENTITIES_GRAPH)}
        typed = {s for s, _, _ in kg.triples((None, RDF.type, KGF.Entity), ENTITIES_GRAPH)}
    assert mentioned and mentioned <= labelled and mentioned <= typed
    assert got == expected
