"""A remote SPARQL 1.1 endpoint (query + update over HTTP), e.g. ``oxigraph serve``.

``dataset`` is rdflib's ``SPARQLUpdateStore`` over the endpoint, for rdflib-style access. The
backend's own requests go through httpx (connection pooling, HTTP Basic auth, timeouts); what
neither rdflib's store nor httpx provides is kept here:

- the server's own error message in our errors (rdflib's store swallows it), with a 400's
  line/column mapped back onto the user's text;
- Oxigraph's ``union-default-graph`` parameter, so a remote store answers like the embedded one;
- a total deadline per call (httpx's timeouts are per connect/read, so a server trickling a byte
  at a time never times out), and retries with back-off for queries only: an UPDATE is never
  re-sent, since a dropped connection does not say whether it was applied;
- results streamed to a file as they arrive (``write_results``);
- bulk loads streamed as RDF bytes to the Graph Store protocol endpoint (``URL/store``) in one
  chunked POST (``load_stream``), which Oxigraph loads in one transaction, instead of one
  ``INSERT DATA`` text holding every statement;
- credentials: taken out of the URL (or from the environment / a netrc file), sent as HTTP
  Basic auth, and never part of any text we print, log or store (``redact``).
"""

from __future__ import annotations

import itertools
import logging
import netrc
import os
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterable, Iterator, Sequence
from io import BytesIO
from pathlib import Path
from typing import Any, BinaryIO, ClassVar, TypeVar

import httpx
from rdflib import Dataset, Graph, Variable
from rdflib.query import Result
from rdflib.term import Identifier, Node

from kgforge.errors import EndpointError, KGForgeError
from kgforge.graph.backends.base import (
    PREFIX_LINES,
    Capabilities,
    Op,
    ops_to_sparql,
    query_error,
    with_values,
)
from kgforge.graph.namespaces import sparql_prefixes
from kgforge.graph.terms import Quad

log = logging.getLogger(__name__)
T = TypeVar("T")

USER_ENV, PASSWORD_ENV = "KGFORGE_SPARQL_USER", "KGFORGE_SPARQL_PASSWORD"
TIMEOUT_ENV, DEADLINE_ENV, RETRIES_ENV = (
    "KGFORGE_SPARQL_TIMEOUT",
    "KGFORGE_SPARQL_DEADLINE",
    "KGFORGE_SPARQL_RETRIES",
)
_RESULT_TYPES = {
    "csv": "text/csv",
    "tsv": "text/tab-separated-values",
    "json": "application/sparql-results+json",
}
_RETRY_STATUS = {429, 502, 503, 504}


def split_credentials(url: str) -> tuple[str, tuple[str, str] | None]:
    """``url`` without its ``user:password@`` part, and the credentials it held (decoded)."""
    parts = urllib.parse.urlsplit(url)
    if parts.username is None and parts.password is None:
        return url, None
    host = parts.hostname or ""
    if ":" in host:  # IPv6
        host = f"[{host}]"
    netloc = host + (f":{parts.port}" if parts.port is not None else "")
    user = urllib.parse.unquote(parts.username or "")
    password = urllib.parse.unquote(parts.password or "")
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc)), (user, password)


def redact(url: str) -> str:
    """``url`` as it may be shown: the password of a ``user:password@`` part masked."""
    parts = urllib.parse.urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    return urllib.parse.urlunsplit(parts._replace(netloc=f"{parts.username}:***@{netloc}"))


def find_credentials(url: str) -> tuple[str, tuple[str, str] | None]:
    """The endpoint URL without credentials, and the credentials to send: from the URL, else
    ``KGFORGE_SPARQL_USER``/``KGFORGE_SPARQL_PASSWORD``, else the netrc file (``$NETRC`` or
    ``~/.netrc``) entry for the host."""
    clean, auth = split_credentials(url)
    if auth is not None:
        return clean, auth
    user, password = os.environ.get(USER_ENV), os.environ.get(PASSWORD_ENV)
    if user is not None or password is not None:
        return clean, (user or "", password or "")
    path = Path(os.environ.get("NETRC") or Path.home() / ".netrc")
    if path.is_file():
        try:
            entry = netrc.netrc(str(path)).authenticators(urllib.parse.urlsplit(clean).hostname)
        except (netrc.NetrcParseError, OSError) as exc:
            raise KGForgeError(f"{path}: cannot read the netrc file: {exc}") from None
        if entry is not None:
            return clean, (entry[0], entry[2] or "")
    return clean, None


def _setting(value: float | None, env: str, default: float) -> float:
    if value is not None:
        return value
    text = os.environ.get(env)
    if text is None:
        return default
    try:
        return float(text)
    except ValueError:
        raise KGForgeError(f"{env}={text!r}: expected a number") from None


class SparqlBackend:
    """A SPARQL 1.1 endpoint; see the module docstring for what the client adds.

    Args:
        url: the endpoint's base URL (may hold ``user:password@``; query at ``URL/query`` and
            update at ``URL/update``, bulk loads to the Graph Store protocol at ``URL/store``,
            unless ``query_endpoint``/``update_endpoint``/``store_endpoint`` are given).
        union_default_graph: ask Oxigraph to answer queries over the union of all graphs.
        timeout: seconds to wait to connect or for the next bytes (``KGFORGE_SPARQL_TIMEOUT``,
            default 30).
        deadline: seconds one call may take in all, retries included
            (``KGFORGE_SPARQL_DEADLINE``, default 300).
        retries: how often a failed query is re-sent (connection errors, 429/502/503/504),
            waiting 0.5 s, 1 s, 2 s, ... (``KGFORGE_SPARQL_RETRIES``, default 2). Never updates.
    """

    name: ClassVar[str] = "sparql"
    title: ClassVar[str] = "a remote SPARQL endpoint"
    capabilities: ClassVar[Capabilities] = Capabilities(
        stream_results=True, remote=True, stream_load=True
    )
    options: ClassVar[frozenset[str]] = frozenset(
        {
            "query_endpoint",
            "update_endpoint",
            "store_endpoint",
            "union_default_graph",
            "timeout",
            "deadline",
            "retries",
        }
    )
    _RESULTS = "application/sparql-results+json, application/n-triples;q=0.9"

    @classmethod
    def open(cls, location: str, *, read_only: bool, create: bool, **options: Any) -> SparqlBackend:
        if not location.startswith(("http://", "https://")):
            what = " (a directory)" if Path(location).is_dir() else ""
            raise KGForgeError(
                f"the sparql backend needs an http(s):// endpoint URL, not {location!r}{what}"
            )
        return cls(location, **options)

    def __init__(
        self,
        url: str,
        *,
        query_endpoint: str | None = None,
        update_endpoint: str | None = None,
        store_endpoint: str | None = None,
        union_default_graph: bool = True,
        timeout: float | None = None,
        deadline: float | None = None,
        retries: int | None = None,
    ) -> None:
        from rdflib.plugins.stores.sparqlstore import SPARQLUpdateStore

        clean, auth = find_credentials(url)
        base = clean.rstrip("/")
        self.location = redact(url)
        self.query_endpoint = split_credentials(query_endpoint)[0] if query_endpoint else None
        self.query_endpoint = self.query_endpoint or f"{base}/query"
        self.update_endpoint = split_credentials(update_endpoint)[0] if update_endpoint else None
        self.update_endpoint = self.update_endpoint or f"{base}/update"
        self.store_endpoint = split_credentials(store_endpoint)[0] if store_endpoint else None
        self.store_endpoint = self.store_endpoint or f"{base}/store"
        self.union_default_graph = union_default_graph
        self.timeout = _setting(timeout, TIMEOUT_ENV, 30.0)
        self.deadline = _setting(deadline, DEADLINE_ENV, 300.0)
        self.retries = int(_setting(retries, RETRIES_ENV, 2))
        self._client = httpx.Client(auth=auth, trust_env=False, follow_redirects=True)
        self.query("ASK { }", {})  # fail now, with the URL, if nothing answers there
        store = SPARQLUpdateStore(
            self.query_endpoint, self.update_endpoint, autocommit=True, auth=auth
        )
        self.dataset = Dataset(store=store, default_union=True)

    # ---- HTTP ------------------------------------------------------------------------------

    def _request(
        self,
        endpoint: str,
        body: str | Iterable[bytes],
        content_type: str,
        params: dict[str, str],
        *,
        accept: str,
        idempotent: bool,
        consume: Callable[[httpx.Response, Iterator[bytes]], T],
        restartable: Callable[[], bool] = lambda: True,
        bad_request: Callable[[str], KGForgeError] = lambda text: query_error(text, PREFIX_LINES),
    ) -> T:
        """POST ``body`` and hand the answer to ``consume`` (its body as chunks, each read within
        the timeout, all within the deadline). A query (``idempotent``) is re-sent after a
        connection error or a 429/502/503/504 while ``restartable()`` (nothing given out yet)."""
        start = time.monotonic()
        headers = {"Content-Type": f"{content_type}; charset=utf-8", "Accept": accept}
        for attempt in itertools.count():
            remaining = self.deadline - (time.monotonic() - start)
            if remaining <= 0:
                raise self._late(endpoint)
            retry = idempotent and attempt < self.retries
            try:
                request = self._client.build_request(
                    "POST",
                    endpoint,
                    content=body.encode("utf-8") if isinstance(body, str) else body,
                    params=params,
                    headers=headers,
                    timeout=httpx.Timeout(min(self.timeout, remaining)),
                )
                response = self._send(request, endpoint, start)
                try:
                    status = response.status_code
                    if status in _RETRY_STATUS and retry:
                        reason: object = f"{status} {response.reason_phrase}"
                    elif status >= 400:
                        detail = _read_some(response)
                        if status == 400:
                            raise bad_request(detail or response.reason_phrase)
                        raise EndpointError(
                            f"SPARQL endpoint {endpoint} answered {status} "
                            f"{response.reason_phrase}: {detail.strip()[:200]}"
                        )
                    else:
                        return consume(response, self._chunks(response, endpoint, start))
                finally:
                    response.close()
            except httpx.TransportError as exc:
                if not (retry and restartable()):
                    raise self._failed(endpoint, exc, idempotent) from None
                reason = exc
            wait = min(0.5 * 2**attempt, max(0.0, self.deadline - (time.monotonic() - start)))
            log.info("retrying a query to %s in %.1f s: %s", endpoint, wait, reason)
            time.sleep(wait)
        raise AssertionError("unreachable")

    def _send(self, request: httpx.Request, endpoint: str, start: float) -> httpx.Response:
        """``client.send`` within the deadline: the status line and headers can trickle too, and
        httpx's timeouts only bound each read, so the wait happens on a helper thread (left to
        end by its read timeout if the deadline passes)."""
        box: dict[str, Any] = {}

        def send() -> None:
            try:
                box["response"] = self._client.send(request, stream=True)
            except BaseException as exc:  # handed to the caller's thread
                box["error"] = exc

        thread = threading.Thread(target=send, name="kgforge-sparql", daemon=True)
        thread.start()
        thread.join(max(0.0, self.deadline - (time.monotonic() - start)))
        if thread.is_alive():
            raise self._late(endpoint)
        if "error" in box:
            raise box["error"]
        return box["response"]

    def _chunks(self, response: httpx.Response, endpoint: str, start: float) -> Iterator[bytes]:
        for chunk in response.iter_bytes():
            yield chunk
            if time.monotonic() - start > self.deadline:
                raise self._late(endpoint)

    def _late(self, endpoint: str) -> EndpointError:
        return EndpointError(
            f"SPARQL endpoint {endpoint} did not answer within the {self.deadline:g} s deadline "
            f"(set {DEADLINE_ENV} or deadline= to wait longer)"
        )

    def _failed(self, endpoint: str, exc: httpx.TransportError, idempotent: bool) -> EndpointError:
        if isinstance(exc, httpx.TimeoutException):
            reason = f"no answer within the {self.timeout:g} s timeout ({TIMEOUT_ENV})"
        else:
            reason = str(exc) or type(exc).__name__
        if isinstance(exc, httpx.ConnectError):
            return EndpointError(f"cannot reach SPARQL endpoint {endpoint}: {reason}")
        unsure = "" if idempotent else " (the update may or may not have been applied)"
        return EndpointError(f"SPARQL endpoint {endpoint} failed: {reason}{unsure}")

    # ---- the backend -------------------------------------------------------------------------

    def _query_params(self, union: bool) -> dict[str, str]:
        return {"union-default-graph": ""} if union and self.union_default_graph else {}

    def query(self, sparql: str, bindings: dict[str, Identifier], union: bool = True) -> Result:
        text = sparql_prefixes() + with_values(sparql, bindings, update=False)
        content_type, data = self._request(
            self.query_endpoint,
            text,
            "application/sparql-query",
            self._query_params(union),
            accept=self._RESULTS,
            idempotent=True,
            consume=lambda response, chunks: (_content_type(response), b"".join(chunks)),
        )
        try:
            if content_type == "application/sparql-results+json":
                return Result.parse(BytesIO(data), format="json")
            if content_type in ("application/n-triples", "text/turtle", "application/n-quads"):
                out = Result("CONSTRUCT")
                out.graph = Graph().parse(
                    data=data, format="nt" if "triples" in content_type else "turtle"
                )
                return out
        except Exception as exc:  # json/rdflib parsers raise assorted types on broken input
            first = (str(exc) or type(exc).__name__).splitlines()[0][:200]
            raise EndpointError(
                f"SPARQL endpoint {self.query_endpoint} sent malformed {content_type} "
                f"({len(data)} bytes): {first}"
            ) from None
        raise EndpointError(
            f"SPARQL endpoint {self.query_endpoint} sent {content_type or 'no type'}"
        )

    def write_results(
        self, sparql: str, bindings: dict[str, Identifier], fmt: str, out: BinaryIO
    ) -> bool:
        text = sparql_prefixes() + with_values(sparql, bindings, update=False)
        written = False

        def copy(response: httpx.Response, chunks: Iterator[bytes]) -> None:
            nonlocal written
            content_type = _content_type(response)
            if content_type != _RESULT_TYPES[fmt]:
                raise EndpointError(
                    f"SPARQL endpoint {self.query_endpoint} sent {content_type or 'no type'} "
                    f"where {_RESULT_TYPES[fmt]} was asked for"
                )
            for chunk in chunks:
                written = True
                out.write(chunk)

        self._request(
            self.query_endpoint,
            text,
            "application/sparql-query",
            self._query_params(True),
            accept=_RESULT_TYPES[fmt],
            idempotent=True,
            consume=copy,
            restartable=lambda: not written,
        )
        return True

    def apply(self, ops: Sequence[Op]) -> None:
        text = ops_to_sparql(ops)
        if text:
            self._request(
                self.update_endpoint,
                sparql_prefixes() + text,
                "application/sparql-update",
                {},
                accept="*/*",
                idempotent=False,
                consume=lambda response, chunks: b"".join(chunks),
            )

    def load_stream(self, chunks: Iterable[bytes], fmt: Any, graph: Node | None) -> None:
        """POST RDF bytes (``fmt``, a pyoxigraph ``RdfFormat``) to the Graph Store endpoint as
        they come (chunked): triples into ``graph`` (None: the default graph), quads into
        their own graphs. Never re-sent (a dropped connection leaves it unknown whether the
        server loaded them); a syntax error the server finds loads nothing."""
        if fmt.supports_datasets:
            params: dict[str, str] = {}
        elif graph is None:
            params = {"default": ""}
        else:
            params = {"graph": str(graph)}
        endpoint = self.store_endpoint

        def rejected(text: str) -> KGForgeError:  # the server's parser message, line and all
            first = text.strip().splitlines()[0][:300] if text.strip() else "400 Bad Request"
            return EndpointError(f"SPARQL endpoint {endpoint} rejected the {fmt.name}: {first}")

        self._request(
            endpoint,
            chunks,
            fmt.media_type,
            params,
            accept="*/*",
            idempotent=False,
            consume=lambda response, body: b"".join(body),
            bad_request=rejected,
        )

    def quads(self, s: Any, p: Any, o: Any, graph: Any, any_graph: bool) -> Iterator[Quad]:
        bindings = {k: v for k, v in zip("spo", (s, p, o), strict=True) if v is not None}
        if any_graph:
            where = "{ ?s ?p ?o } UNION { GRAPH ?g { ?s ?p ?o } }"
        elif graph is None:
            where = "?s ?p ?o"
        else:
            where = "GRAPH ?g { ?s ?p ?o }"
            bindings["g"] = graph
        result = self.query(f"SELECT ?s ?p ?o ?g WHERE {{ {where} }}", bindings, union=False)
        for row in result.bindings:
            yield (
                row.get(Variable("s"), s),
                row.get(Variable("p"), p),
                row.get(Variable("o"), o),
                row.get(Variable("g"), graph if not any_graph else None),
            )

    def __len__(self) -> int:
        result = self.query(
            "SELECT (COUNT(*) AS ?n) WHERE { { ?s ?p ?o } UNION { GRAPH ?g { ?s ?p ?o } } }",
            {},
            union=False,
        )
        return int(next(iter(result))[0])

    def graphs(self) -> list[Node]:
        result = self.query("SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s ?p ?o } }", {}, union=False)
        return [row[0] for row in result]

    def close(self) -> None:
        self._client.close()


def _content_type(response: httpx.Response) -> str:
    return response.headers.get("Content-Type", "").split(";")[0].strip()


def _read_some(response: httpx.Response, limit: int = 4096) -> str:
    """The start of an error response's body (it may be long or never end)."""
    data = b""
    try:
        for chunk in response.iter_bytes():
            data += chunk
            if len(data) >= limit:
                break
    except httpx.TransportError:
        pass
    return data[:limit].decode("utf-8", "replace")
