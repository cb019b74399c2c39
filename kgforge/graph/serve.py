"""A store served over the SPARQL 1.1 protocol by a real server: ``oxigraph serve``.

kgforge does not implement an HTTP server: it starts Oxigraph's own (the ``oxigraph`` package
installs it beside Python) on the store's directory, ``serve`` for query + update or
``serve-read-only`` for query only, checks first that no other process holds the store's write
lock (a read-only server beside a writer is undefined behaviour in RocksDB, and a read-write one
would fail with RocksDB's own message), and waits until the server answers before handing back
its URL. The served store is then reached like any endpoint: ``KnowledgeGraph.open(URL)``.
Also ``kgforge serve``.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from types import TracebackType

from kgforge.errors import KGForgeError, StoreLockedError

_START_SECONDS = 60.0


def server_binary() -> Path:
    """The ``oxigraph`` server binary: next to this Python (a venv), else on ``PATH``."""
    beside = Path(sys.executable).with_name("oxigraph")
    if beside.exists():
        return beside
    found = shutil.which("oxigraph")
    if found is None:
        raise KGForgeError(
            "the Oxigraph server is not installed: pip install oxigraph (it provides the "
            "`oxigraph` command that kgforge serve runs)"
        )
    return Path(found)


def check_not_locked(path: Path) -> None:
    """Raise ``StoreLockedError`` if another process has the store at ``path`` open for writing.

    Opening for writing takes RocksDB's lock; it is released again at once."""
    import pyoxigraph as ox

    try:
        store = ox.Store(str(path))
    except (OSError, RuntimeError) as exc:
        if "lock" in str(exc).lower():
            raise StoreLockedError(
                f"{path} is locked by a writer (a running kgforge extract/load/serve, or a "
                "KnowledgeGraph opened for writing): stop it, or serve a copy made with "
                "`oxigraph backup`"
            ) from None
        raise KGForgeError(f"cannot open the store at {path}: {exc}") from None
    del store  # releases the lock


def _check_port(host: str, port: int) -> None:
    try:
        with socket.create_server((host, port)):
            pass
    except OSError as exc:
        raise KGForgeError(
            f"cannot serve at {host}:{port}: {exc.strerror or exc} (the port is in use, or "
            "the address is not this machine's): choose another --port"
        ) from None


class Server:
    """A running ``oxigraph serve`` on a store (a context manager that stops it on exit)."""

    def __init__(
        self,
        store: str | Path,
        *,
        host: str = "127.0.0.1",
        port: int = 7878,
        read_only: bool = False,
        timeout: float | None = None,
    ) -> None:
        from kgforge.graph.backends.oxigraph import is_store

        path = Path(store)
        if path.exists() and not path.is_dir():
            raise KGForgeError(f"{path} is a file, not a store directory")
        exists = path.is_dir() and any(path.iterdir())
        if exists and not is_store(path):
            raise KGForgeError(f"{path} is a non-empty directory but not an Oxigraph store")
        if read_only and not exists:
            raise KGForgeError(f"no store at {path} (a read-only server needs an existing one)")
        if exists:
            check_not_locked(path)
        _check_port(host, port)  # else the wait below would find whatever answers there
        command = [
            str(server_binary()),
            "serve-read-only" if read_only else "serve",
            "--location",
            str(path),
            "--bind",
            f"{host}:{port}",
        ]
        if timeout is not None:
            command += ["--timeout-s", str(int(timeout))]
        self.path = path
        self.read_only = read_only
        self.url = f"http://{host if ':' not in host else f'[{host}]'}:{port}"
        self.process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        try:
            self._wait_until_ready()
        except BaseException:
            self.stop()
            raise

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + _START_SECONDS
        while True:
            try:
                urllib.request.urlopen(f"{self.url}/query?query=ASK%7B%7D", timeout=1).close()
                return
            except OSError:
                if self.process.poll() is not None:
                    raise self._failure() from None
                if time.monotonic() > deadline:
                    raise KGForgeError(
                        f"oxigraph serve did not answer at {self.url} within {_START_SECONDS:g} s"
                    ) from None
                time.sleep(0.05)

    def _failure(self) -> KGForgeError:
        assert self.process.stderr is not None
        text = self.process.stderr.read().decode("utf-8", "replace").strip()
        last = text.splitlines()[-1] if text else f"exit status {self.process.returncode}"
        if "lock" in text.lower():
            return StoreLockedError(f"{self.path} is locked by a writer: {last}")
        if "address" in text.lower() and "in use" in text.lower():
            return KGForgeError(f"cannot serve at {self.url}: the port is in use ({last})")
        return KGForgeError(f"oxigraph serve on {self.path} stopped: {last}")

    def wait(self) -> int:
        """Block until the server exits (Ctrl-C stops it); its exit status."""
        try:
            return self.process.wait()
        finally:
            self.stop()

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL after 10 s) and close its pipe."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stderr is not None:
            self.process.stderr.close()

    def __enter__(self) -> Server:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def serve(
    store: str | Path,
    *,
    host: str = "127.0.0.1",
    port: int = 7878,
    read_only: bool = False,
    timeout: float | None = None,
) -> Server:
    """Serve an on-disk store over SPARQL 1.1 (query at ``URL/query``, update at ``URL/update``
    unless ``read_only``; the Graph Store protocol at ``URL/store``) until ``stop()``.

    Args:
        store: the store's directory (created by a read-write server if absent).
        host: the address to listen on (loopback by default: the server has no authentication;
            put a proxy with TLS and auth in front of it to serve beyond this machine).
        port: the TCP port.
        read_only: serve queries only (several read-only servers may share a store).
        timeout: seconds a query may run (Oxigraph's ``--timeout-s``).

    Returns:
        The running server; ``server.url`` is its endpoint URL.
    """
    return Server(store, host=host, port=port, read_only=read_only, timeout=timeout)
