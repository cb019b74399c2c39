"""Robustness cases (issue 12): bad input, faults and interrupts, run through the real CLI.

Write a case as ``tests/robustness/test_<area>_<what>.py``. The CLI runners: the
``kgforge_cli`` fixture with the assertion helpers of ``robustness.harness`` (also
``interrupt_kgforge`` for Ctrl-C), or the ``cli`` fixture::

    from robustness.harness import assert_one_line_error

    def test_missing_store(kgforge_cli, tmp_path):
        result = kgforge_cli("stats", tmp_path / "missing")
        assert_one_line_error(result, code=1, mentions=["missing"])

Each case asserts the exit code, a one-line message naming the place, no traceback, and where a
store is involved, its content before and after. Shared pieces of the graph cases: stores on every
backend, a real `oxigraph serve`, tiny misbehaving HTTP servers.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from rdflib import Literal
from rdflib.namespace import RDFS

from kgforge.graph.namespaces import REL, document_iri, entity_iri
from kgforge.graph.store import KnowledgeGraph
from robustness.harness import CLIResult, run_kgforge

ADA, CHARLES = entity_iri("Ada Lovelace", "person"), entity_iri("Charles Babbage", "person")
DOC = document_iri("letters")


def fill(kg: KnowledgeGraph) -> None:
    kg.add((ADA, REL.worked_with, CHARLES), graph=DOC)
    kg.add_many([(ADA, RDFS.label, Literal("Ada Lovelace")), (CHARLES, RDFS.label, Literal("C"))])


@pytest.fixture
def kg(kg: KnowledgeGraph) -> KnowledgeGraph:
    """A small filled store on each backend (the empty one of tests/conftest.py, filled)."""
    fill(kg)
    return kg


@pytest.fixture
def http_server() -> Iterator[Callable[[type[BaseHTTPRequestHandler]], str]]:
    """Start ``handler`` on a loopback port in a thread; returns its base URL."""
    servers: list[ThreadingHTTPServer] = []

    def start(handler: type[BaseHTTPRequestHandler]) -> str:
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


class Cli:
    """The installed CLI as a user runs it (``python -m kgforge``), and its error contract."""

    @staticmethod
    def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "kgforge", *args],
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, "KGFORGE_PROGRESS": "0", **(env or {})},
        )

    @staticmethod
    def error(proc: subprocess.CompletedProcess[str], *expected: str) -> str:
        """Exit 1, no traceback, one ``error: ...`` line on stderr holding every ``expected``."""
        assert proc.returncode == 1, (proc.returncode, proc.stdout, proc.stderr)
        assert "Traceback" not in proc.stderr
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
        for text in expected:
            assert text in lines[0], (text, lines[0])
        return lines[0]


@pytest.fixture
def cli() -> Cli:
    return Cli()


@pytest.fixture
def fill_store() -> Callable[[KnowledgeGraph], None]:
    return fill


@pytest.fixture
def kgforge_cli(tmp_path):
    """``kgforge_cli(*args, env=None, input=None, timeout=...)``: run ``python -m kgforge`` in
    a subprocess, in the test's tmp_path, and return its ``CLIResult(code, stdout, stderr)``."""

    def run(*args, **kwargs) -> CLIResult:
        kwargs.setdefault("cwd", tmp_path)
        return run_kgforge(*args, **kwargs)

    return run
