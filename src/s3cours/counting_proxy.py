"""A counting relay between S3 clients and an S3 server: how many requests each library
sends, and how many bytes the server sends back.

Every library is measured the same way: its endpoint is pointed at the relay, which
listens on the loopback address only (plain http), forwards each request to the server,
and counts the requests and the bytes of the response bodies. The relay runs in daemon
threads: it stops with :meth:`stop`, at the end of a ``with`` block, or with the process
that started it.

It works with any S3 server, local or remote, http or https. A client signs its request
(AWS Signature Version 4) for the address it talks to, the relay's; a server checks the
signature against the ``Host`` header it receives, and a remote one (SSP Cloud behind
its web front end, AWS) routes requests by that header too. So the relay re-signs each
request for the server's own address, with the same credentials (the environment's,
those the measured clients use), the same method, path, query, headers and body: only
``Host`` and the signature change, and what is counted is what the client asked for.
Over https, the server's certificate is checked, with ``AWS_CA_BUNDLE`` or
``SSL_CERT_FILE`` when set. A request signed with other keys than the relay's is
forwarded with its own ``Host`` and signature, which only a server that does not route
by name accepts (a MinIO reached directly, as ``./cours bench`` does with the
playground's administrator keys). Uploads signed chunk by chunk
(``STREAMING-AWS4-HMAC-SHA256-PAYLOAD``) cannot be re-signed and are refused: the course
only measures reads.

``latency`` (seconds) delays every request before it is forwarded, like the round trip
to a distant server: on the loopback address a request costs nothing, on a real network
each one costs milliseconds, and a library that makes many requests one after the other
pays each.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import re
import ssl
import sys
import threading
import time
import urllib.parse
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from . import config

#: Headers that belong to one connection, not to the request: never forwarded.
HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "expect",
}


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


#: Payload hashes a client may announce that are not the SHA-256 of the body.
UNSIGNED_PAYLOADS = {"UNSIGNED-PAYLOAD", "STREAMING-UNSIGNED-PAYLOAD-TRAILER"}
_CREDENTIAL = re.compile(r"Credential=([^/]+)/\d{8}/([^/]+)/")


def _aws_quote(text: str, safe: str = "") -> str:
    """URI-encode as Signature Version 4 does (unreserved characters left as is)."""
    return urllib.parse.quote(text, safe=safe + "-_.~")


def canonical_target(target: str) -> str:
    """The request target in the one encoding the server will compute back: path
    segments and query parameters decoded then encoded as SigV4 does, parameters
    sorted."""
    path, _, query = target.partition("?")
    path = _aws_quote(urllib.parse.unquote(path), safe="/")
    pairs = sorted(
        (_aws_quote(urllib.parse.unquote(k)), _aws_quote(urllib.parse.unquote(v)))
        for k, _, v in (p.partition("=") for p in query.split("&") if p)
    )
    return path + ("?" + "&".join(f"{k}={v}" for k, v in pairs) if pairs else "")


def _decoded(body: bytes, headers: dict[str, str]) -> tuple[bytes, dict[str, str]]:
    """A body sent in ``aws-chunked`` encoding (``size;chunk-signature=…`` lines, then
    optional trailers), decoded, with the headers of a plain upload."""
    data, rest = [], body
    while rest:
        line, _, rest = rest.partition(b"\r\n")
        size = int(line.split(b";")[0], 16)
        if size == 0:
            break
        data.append(rest[:size])
        rest = rest[size + 2 :]
    drop = {
        "x-amz-decoded-content-length",
        "x-amz-trailer",
        "x-amz-content-sha256",
        "content-length",
    }
    kept = {k: v for k, v in headers.items() if k.lower() not in drop}
    for name in [k for k in kept if k.lower() == "content-encoding"]:
        codings = [c for c in kept[name].split(",") if c.strip() != "aws-chunked"]
        if codings:
            kept[name] = ",".join(codings)
        else:
            del kept[name]
    return b"".join(data), kept


def _environment_credentials():  # noqa: ANN202 - botocore credentials
    from botocore.credentials import Credentials

    key, secret = (
        os.environ.get("AWS_ACCESS_KEY_ID"),
        os.environ.get("AWS_SECRET_ACCESS_KEY"),
    )
    if not key or not secret:
        return None
    return Credentials(key, secret, os.environ.get("AWS_SESSION_TOKEN") or None)


class _QuietServer(ThreadingHTTPServer):
    """A client that closes a kept-alive connection (the JVM's pool, when Spark
    stops) is not an error worth printing in a notebook."""

    def handle_error(self, request, client_address) -> None:  # noqa: ANN001
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class CountingProxy:
    """A counting relay on ``127.0.0.1`` towards the S3 server ``upstream`` (an URL).

    ``credentials`` (botocore ``Credentials``) re-sign the requests; by default, those
    of the environment (``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``,
    ``AWS_SESSION_TOKEN``)."""

    def __init__(
        self,
        upstream: str,
        timeout: float = 60,
        credentials=None,  # noqa: ANN001
        latency: float = 0.0,
    ) -> None:
        parts = urllib.parse.urlsplit(upstream)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(
                f"Adresse de serveur S3 invalide pour le relais : {upstream!r} "
                "(attendu : http://hôte:port ou https://hôte)."
            )
        self.upstream_scheme = parts.scheme
        self.upstream_host = parts.hostname
        default_port = 443 if parts.scheme == "https" else 80
        self.upstream_port = parts.port or default_port
        #: The Host header the server expects (no port when it is the scheme's default).
        self.upstream_netloc = (
            parts.hostname
            if self.upstream_port == default_port
            else f"{parts.hostname}:{self.upstream_port}"
        )
        if ":" in parts.hostname:  # an IPv6 literal
            self.upstream_netloc = parts.netloc
        self.credentials = credentials or _environment_credentials()
        self.timeout = timeout
        self._tls = None
        if parts.scheme == "https":
            cafile = (
                os.environ.get("AWS_CA_BUNDLE")
                or os.environ.get("SSL_CERT_FILE")
                or None
            )
            self._tls = ssl.create_default_context(cafile=cafile)
        if latency < 0:
            raise ValueError(
                f"Latence négative ({latency} s) : donnez 0 ou un nombre de secondes."
            )
        self.latency = latency
        self._lock = threading.Lock()
        self._exchanges: list[Exchange] = []
        self._server = _QuietServer((config.LOOPBACK, 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            name="s3cours-counting-proxy",
            daemon=True,
        )
        self._thread.start()

    # ----------------------------------------------------------------- public interface

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

    def _signed(
        self,
        method: str,
        target: str,
        headers: dict[str, str],
        body: bytes,
        client_host: str,
    ) -> dict[str, str]:
        """The headers to send upstream. A request signed (SigV4) with the relay's
        credentials gets ``Host`` set to the server's and a new signature for it (same
        credentials, region and payload hash). Any other request keeps the client's
        ``Host`` and signature, which a server that does not route by name (a MinIO
        reached directly) still accepts."""
        authorization = next(
            (v for k, v in headers.items() if k.lower() == "authorization"), ""
        )
        match = _CREDENTIAL.search(authorization)
        if (
            not authorization.startswith("AWS4-HMAC-SHA256")
            or match is None
            or self.credentials is None
            or match.group(1) != self.credentials.access_key
        ):
            return {**headers, "Host": client_host}
        headers = {**headers, "Host": self.upstream_netloc}
        from botocore.auth import S3SigV4Auth
        from botocore.awsrequest import AWSRequest

        announced = next(
            (v for k, v in headers.items() if k.lower() == "x-amz-content-sha256"), ""
        )
        if announced.startswith("STREAMING-AWS4-HMAC-SHA256"):
            raise ValueError(
                "envoi signé morceau par morceau : le relais ne sait pas le re-signer"
            )
        payload = (
            announced
            if announced in UNSIGNED_PAYLOADS
            else hashlib.sha256(body).hexdigest()
        )
        region = match.group(2)
        drop = {
            "authorization",
            "x-amz-date",
            "x-amz-security-token",
            "x-amz-content-sha256",
        }
        request = AWSRequest(
            method=method,
            url=f"{self.upstream_scheme}://{self.upstream_netloc}{target}",
            data=body,
            headers={k: v for k, v in headers.items() if k.lower() not in drop},
        )

        class Signer(S3SigV4Auth):
            # The hash announced, or the body's.
            def payload(self, request) -> str:  # noqa: ANN001
                return payload

        Signer(self.credentials, "s3", region).add_auth(request)
        return dict(request.headers.items())

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as clients expect from S3

            def log_message(
                self, *_: object
            ) -> None:  # silence: the counts are the output
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
                headers = {
                    k: v
                    for k, v in self.headers.items()
                    if k.lower() not in HOP_BY_HOP and k.lower() != "host"
                }
                if self.headers.get("x-amz-content-sha256", "").startswith(
                    "STREAMING-AWS4-HMAC-SHA256"
                ):
                    # Signed chunk by chunk (the AWS SDK for Java over http: Spark's
                    # S3A): the decoded body goes on, signed whole.
                    body, headers = _decoded(body, headers)
                if body or self.command in ("PUT", "POST"):
                    headers["Content-Length"] = str(len(body))
                target = canonical_target(self.path)
                try:
                    headers = proxy._signed(
                        self.command,
                        target,
                        headers,
                        body,
                        self.headers.get("Host", proxy.upstream_netloc),
                    )
                    if headers["Host"] != proxy.upstream_netloc:
                        target = (
                            self.path
                        )  # the client's signature: its own target, as sent
                except ValueError as exc:
                    self.send_error(501, str(exc))
                    return
                if proxy._tls is not None:
                    upstream = http.client.HTTPSConnection(
                        proxy.upstream_host,
                        proxy.upstream_port,
                        timeout=proxy.timeout,
                        context=proxy._tls,
                    )
                else:
                    upstream = http.client.HTTPConnection(
                        proxy.upstream_host, proxy.upstream_port, timeout=proxy.timeout
                    )
                try:
                    upstream.putrequest(
                        self.command, target, skip_host=True, skip_accept_encoding=True
                    )
                    for name, value in headers.items():
                        upstream.putheader(name, value)
                    upstream.endheaders(body or None)
                    response = upstream.getresponse()
                    payload = response.read()
                finally:
                    upstream.close()
                proxy._record(
                    Exchange(
                        self.command,
                        self.path,
                        response.status,
                        len(body),
                        len(payload),
                    )
                )
                self.send_response_only(response.status, response.reason)
                for name, value in response.getheaders():
                    if (
                        name.lower() not in HOP_BY_HOP
                        and name.lower() != "content-length"
                    ):
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
