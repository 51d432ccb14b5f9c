"""A counting relay between S3 clients and the local playground: how many requests each
library sends, and how many bytes the server sends back.

Every library is measured the same way: its endpoint is pointed at the relay, which listens
on the loopback address only, forwards each request unchanged to the server (``Host``
header included, so request signatures stay valid) and counts the requests and the bytes of
the response bodies. The relay runs in daemon threads: it stops with :meth:`stop`, at the
end of a ``with`` block, or with the process that started it.

It relays plain HTTP to a server on the loopback address (the playground). A remote server
such as SSP Cloud's checks the signature against its own host name and is reached in
HTTPS: measure against the playground instead.

``latency`` (seconds) delays every request before it is forwarded, like the round trip to a
distant server: on the loopback address a request costs nothing, on a real network each one
costs milliseconds, and a library that makes many requests one after the other pays each.
"""

from __future__ import annotations

import http.client
import threading
import time
import urllib.parse
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from . import config

#: Headers that belong to one connection, not to the request: never forwarded.
HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "proxy-authenticate",
              "proxy-authorization", "te", "trailer", "transfer-encoding", "upgrade", "expect"}


@dataclass(frozen=True)
class Exchange:
    """One request relayed: its method, path and query, status, and body sizes."""

    method: str
    target: str
    status: int
    sent: int  # bytes of the request body (uploads)
    received: int  # bytes of the response body (what the server sent)


@dataclass(frozen=True)
class Count:
    """Requests and response-body bytes over a stretch of time."""

    requests: int
    bytes: int
    exchanges: tuple[Exchange, ...]


class CountingProxy:
    """A counting relay on ``127.0.0.1`` towards ``upstream`` (``http://127.0.0.1:PORT``)."""

    def __init__(self, upstream: str, timeout: float = 60, latency: float = 0.0) -> None:
        parts = urllib.parse.urlsplit(upstream)
        if parts.scheme != "http" or parts.hostname not in (config.LOOPBACK, "localhost"):
            raise ValueError(
                f"Le relais de comptage ne sert que le bac à sable local (http://127.0.0.1:…), "
                f"pas {upstream} : un serveur distant vérifie la signature des requêtes avec "
                "son propre nom d'hôte et se joint en https."
            )
        self.upstream_host = parts.hostname
        self.upstream_port = parts.port or 80
        self.timeout = timeout
        if latency < 0:
            raise ValueError(f"Latence négative ({latency} s) : donnez 0 ou un nombre de secondes.")
        self.latency = latency
        self._lock = threading.Lock()
        self._exchanges: list[Exchange] = []
        self._server = ThreadingHTTPServer((config.LOOPBACK, 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        name="s3cours-counting-proxy", daemon=True)
        self._thread.start()

    # ------------------------------------------------------------------ public interface

    @property
    def endpoint(self) -> str:
        """Host and port of the relay, without scheme (like ``AWS_S3_ENDPOINT``)."""
        return f"{config.LOOPBACK}:{self._server.server_address[1]}"

    @property
    def url(self) -> str:
        return f"http://{self.endpoint}"

    def reset(self) -> None:
        with self._lock:
            self._exchanges.clear()

    def count(self) -> Count:
        """Requests and bytes since the last :meth:`reset`."""
        with self._lock:
            exchanges = tuple(self._exchanges)
        return Count(len(exchanges), sum(e.received for e in exchanges), exchanges)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> CountingProxy:
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ relaying

    def _record(self, exchange: Exchange) -> None:
        with self._lock:
            self._exchanges.append(exchange)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as clients expect from S3

            def log_message(self, *_: object) -> None:  # silence: the counts are the output
                pass

            def _body(self) -> bytes:
                if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
                    chunks = []
                    while True:
                        size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                        if size == 0:
                            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                                pass
                            return b"".join(chunks)
                        chunks.append(self.rfile.read(size))
                        self.rfile.readline()
                length = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(length) if length else b""

            def _relay(self) -> None:
                body = self._body()
                if proxy.latency:
                    time.sleep(proxy.latency)  # the round trip of a distant server
                headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
                if body or self.command in ("PUT", "POST"):
                    headers["Content-Length"] = str(len(body))
                upstream = http.client.HTTPConnection(proxy.upstream_host, proxy.upstream_port,
                                                      timeout=proxy.timeout)
                try:
                    # skip_host: the client's own Host header is sent, as it was signed.
                    upstream.putrequest(self.command, self.path, skip_host=True,
                                        skip_accept_encoding=True)
                    for name, value in headers.items():
                        upstream.putheader(name, value)
                    upstream.endheaders(body or None)
                    response = upstream.getresponse()
                    payload = response.read()
                finally:
                    upstream.close()
                proxy._record(Exchange(self.command, self.path, response.status, len(body),
                                       len(payload)))
                self.send_response_only(response.status, response.reason)
                for name, value in response.getheaders():
                    if name.lower() not in HOP_BY_HOP and name.lower() != "content-length":
                        self.send_header(name, value)
                if self.command == "HEAD":
                    # No body, but the size of the object the client asked about.
                    length = response.getheader("Content-Length")
                    if length is not None:
                        self.send_header("Content-Length", length)
                else:
                    self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(payload)

            do_GET = do_HEAD = do_PUT = do_POST = do_DELETE = _relay

        return Handler
