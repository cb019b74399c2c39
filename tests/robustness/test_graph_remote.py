"""Issue 12 #7 (credentials), #13 (deadlines, retries) and #15 (broken answers) on remote stores,
against tiny HTTP servers on loopback that require Basic auth, trickle, drop or truncate."""

from __future__ import annotations

import base64
import json
import logging
import time
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from kgforge.errors import EndpointError
from kgforge.graph.store import KnowledgeGraph

SECRET = "S3cr3tPW"
GOOD = "Basic " + base64.b64encode(f"alice:{SECRET}".encode()).decode()
XSD_INTEGER = "http://www.w3.org/2001/XMLSchema#integer"


def _answer(body: str) -> bytes:
    """A tiny SPARQL endpoint: ASK is true, every SELECT one row ?n = 0."""
    if "ASK" in body:
        return json.dumps({"head": {}, "boolean": True}).encode()
    row = {"n": {"type": "literal", "value": "0", "datatype": XSD_INTEGER}}
    return json.dumps({"head": {"vars": ["n"]}, "results": {"bindings": [row]}}).encode()


class Endpoint(BaseHTTPRequestHandler):
    requests: list[tuple[str, str | None, str]]  # path, Authorization, body; set per test

    def log_message(self, *args: object) -> None:
        pass

    def _body(self) -> str:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
        path = self.path.split("?")[0]
        self.requests.append((path, self.headers.get("Authorization"), body))
        return body

    def _send(self, status: int, data: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def endpoint(behaviour: str) -> type[Endpoint]:
    class Handler(Endpoint):
        requests: list[tuple[str, str | None, str]] = []
        attempts = 0

        def do_POST(self) -> None:  # noqa: N802
            body = self._body()
            if behaviour == "auth" and self.headers.get("Authorization") != GOOD:
                self._send(401, b"unauthorized", "text/plain")
            elif behaviour == "trickle-body" and "ASK" in body:
                self.send_response(200)
                self.send_header("Content-Type", "application/sparql-results+json")
                self.end_headers()
                for byte in _answer(body):
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                    time.sleep(1)
            elif behaviour == "trickle-head" and "ASK" in body:
                for byte in b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n":
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                    time.sleep(1)
            elif behaviour == "drop" or (behaviour == "drop-once" and Handler.attempts == 0):
                Handler.attempts += 1
                self.close_connection = True  # no answer at all: the connection just closes
            elif behaviour == "truncate" and "SELECT" in body:
                self._send(200, _answer(body)[:25], "application/sparql-results+json")
            else:
                self._send(200, _answer(body), "application/sparql-results+json")

    return Handler


def _no_secret(*texts: str) -> None:
    for text in texts:
        assert SECRET not in text


def test_credentials_from_the_url_are_sent_and_never_shown(
    http_server, caplog: pytest.LogCaptureFixture
) -> None:
    handler = endpoint("auth")
    url = http_server(handler).replace("http://", f"http://alice:{SECRET}@")
    with caplog.at_level(logging.DEBUG), KnowledgeGraph.open(url) as kg:
        assert kg.query("ASK { }").askAnswer is True
        kg.update("INSERT DATA { <urn:a> <urn:b> <urn:c> }")
        _no_secret(kg.location, repr(kg))
        assert "alice:***@127.0.0.1" in kg.location
    assert handler.requests and all(auth == GOOD for _, auth, _ in handler.requests)
    assert {path for path, _, _ in handler.requests} == {"/query", "/update"}
    _no_secret(caplog.text, *(body for _, _, body in handler.requests))


def test_credentials_from_environment_and_netrc(http_server, tmp_path: Path, cli) -> None:
    url = http_server(endpoint("auth"))
    env = {"KGFORGE_SPARQL_USER": "alice", "KGFORGE_SPARQL_PASSWORD": SECRET}
    ok = cli.run("query", url, "ASK { }", env=env)
    assert (ok.returncode, ok.stdout.strip()) == (0, "true"), ok.stderr
    netrc = tmp_path / "netrc"
    netrc.write_text(f"machine 127.0.0.1 login alice password {SECRET}\n")
    stats = cli.run("stats", url, "--format", "json", env={"NETRC": str(netrc)})
    assert stats.returncode == 0, stats.stderr
    assert json.loads(stats.stdout)["triples"] == 0
    _no_secret(ok.stdout, ok.stderr, stats.stdout, stats.stderr)
    refused = cli.run("stats", url)  # no credentials anywhere: the server's 401, one line
    cli.error(refused, "401", url)


def test_a_failing_and_a_succeeding_command_never_print_the_secret(http_server, cli) -> None:
    base = http_server(endpoint("auth"))
    good = base.replace("http://", f"http://alice:{SECRET}@")
    ok = cli.run("query", good, "SELECT ?n WHERE { ?s ?p ?n }", "--format", "json")
    assert ok.returncode == 0 and json.loads(ok.stdout)["head"]["vars"] == ["n"]
    wrong = cli.run("query", base.replace("http://", "http://alice:WRONG-pw@"), "ASK { }")
    cli.error(wrong, "401")
    unreachable = cli.run("stats", f"http://alice:{SECRET}@127.0.0.1:9")
    cli.error(unreachable, "cannot reach SPARQL endpoint http://127.0.0.1:9/query")
    debug = cli.run("--debug", "stats", f"http://alice:{SECRET}@127.0.0.1:9")
    assert debug.returncode != 0
    for proc in (ok, wrong, unreachable, debug):
        _no_secret(proc.stdout, proc.stderr)
    assert "WRONG-pw" not in wrong.stderr


@pytest.mark.parametrize("behaviour", ["trickle-body", "trickle-head"])
def test_a_trickling_endpoint_meets_the_deadline(http_server, behaviour: str, cli) -> None:
    url = http_server(endpoint(behaviour))
    start = time.monotonic()
    with pytest.raises(EndpointError, match="did not answer within the 2 s deadline"):
        KnowledgeGraph.open(url, deadline=2, timeout=5)
    assert time.monotonic() - start < 5  # the deadline, not the (longer) read timeout
    proc = cli.run("stats", url, env={"KGFORGE_SPARQL_DEADLINE": "2"})
    cli.error(proc, "did not answer within the 2 s deadline")


def test_queries_are_retried_updates_never(http_server) -> None:
    handler = endpoint("drop")
    url = http_server(handler)
    with pytest.raises(EndpointError, match="failed: Server disconnected"):
        KnowledgeGraph.open(url, retries=2)
    assert handler.attempts == 3  # the ASK at open: sent, then re-sent twice

    flaky = endpoint("drop-once")
    with KnowledgeGraph.open(http_server(flaky), retries=1) as kg:  # the re-sent ASK succeeds
        assert flaky.attempts == 1
        assert kg.query("ASK { }").askAnswer is True
        flaky.attempts = 0  # drop the next request, which is an update
        with pytest.raises(EndpointError, match="may or may not have been applied"):
            kg.update("INSERT DATA { <urn:a> <urn:b> <urn:c> }")
    updates = [body for path, _, body in flaky.requests if path == "/update"]
    assert len(updates) == 1


def test_truncated_results_are_one_line(http_server, cli) -> None:
    url = http_server(endpoint("truncate"))
    with KnowledgeGraph.open(url) as kg, pytest.raises(EndpointError, match="malformed"):
        kg.query("SELECT ?n WHERE { ?s ?p ?n }")
    cli.error(cli.run("stats", url), "sent malformed application/sparql-results+json")
