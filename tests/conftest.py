"""Shared test fixtures."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from kgforge.graph.store import KnowledgeGraph

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
OXIGRAPH = Path(sys.executable).with_name("oxigraph")  # installed next to python by `oxigraph`
if not OXIGRAPH.exists() and shutil.which("oxigraph"):
    OXIGRAPH = Path(shutil.which("oxigraph"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data, where the development data sets live (skip the test without it)."""
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is not present")
    return SHARED_DATA


@pytest.fixture
def one_thread_and_private_cache(monkeypatch, tmp_path_factory):
    """Tiny models run fastest on one thread (and do not fight other processes for cores);
    features go to a cache of the test session, not the user's."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    monkeypatch.setenv("KGFORGE_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))
    yield
    torch.set_num_threads(threads)


def tiny_bert(folder: Path, layers: int = 2, max_positions: int = 128) -> Path:
    """Save a randomly initialised BERT (hidden size 32, 2 heads, seed 0) with MiniLM's
    tokenizer to ``folder``, a stand-in for MiniLM that makes model tests run in seconds."""
    from transformers import AutoTokenizer, BertConfig, BertModel

    from kgforge.models import default_text_model

    tokenizer = AutoTokenizer.from_pretrained(default_text_model())
    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=32,
        num_hidden_layers=layers,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=max_positions,
    )
    torch.manual_seed(0)
    BertModel(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return Path(folder)


def check_load_rejects_missing_and_junk(load, folder: Path) -> None:
    """``load`` (a model class's ``load``) raises a located ``ConfigError`` for a missing file
    ("not found") and for a file that is no model (naming the file)."""
    from kgforge.errors import ConfigError

    with pytest.raises(ConfigError, match="not found"):
        load(folder / "missing.pt")
    junk = folder / "junk.pt"
    junk.write_text("not a model")
    with pytest.raises(ConfigError, match="junk.pt"):
        load(junk)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def oxigraph_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real `oxigraph serve` on a loopback port, shared by the session (tests that use it
    start with ``DROP ALL``)."""
    if not OXIGRAPH.exists():
        pytest.skip("the oxigraph server binary is not installed (pip install oxigraph)")
    port = free_port()
    location = tmp_path_factory.mktemp("oxigraph-server")
    url = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [str(OXIGRAPH), "serve", "--location", str(location), "--bind", f"127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"{url}/query?query=ASK%7B%7D", timeout=1).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"oxigraph serve did not start: {proc.stderr.read()!r}"
                    ) from None
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture(params=["memory", "oxigraph", "oxigraph-cached", "sparql"])
def kg(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[KnowledgeGraph]:
    """An empty store on each backend (a real `oxigraph serve` for sparql)."""
    if request.param == "memory":
        store = KnowledgeGraph.open(":memory:")
    elif request.param == "oxigraph":
        store = KnowledgeGraph.open(tmp_path / "store")
    elif request.param == "oxigraph-cached":
        store = KnowledgeGraph.open(tmp_path / "store", memory_cache=True)
    else:
        store = KnowledgeGraph.open(request.getfixturevalue("oxigraph_server"))
        store.update("DROP ALL")
    assert store.backend == request.param.removesuffix("-cached")
    yield store
    store.close()
