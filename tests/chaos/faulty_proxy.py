"""A fault-injecting HTTP proxy on 127.0.0.1 in front of moto's server (S3 and SQS).

Each request is forwarded to the upstream endpoint as it came, unless the test's
``fault`` callback answers for it (an error, as an AWS service answers when it is in
trouble). ``after`` is called with each forwarded request's action and the upstream
status *before* the response goes back to the client: a test kills its client there
(a relay dies between SQS accepting its messages and deleting its outbox rows).
``rewrite`` may change a forwarded response's body (messages delivered out of order).
"""

from __future__ import annotations

import http.client
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


@dataclass
class Call:
    """One request the proxy saw: its method, path, AWS action (SQS ``SendMessageBatch``,
    or ``PUT``/``GET``… for S3) and body."""

    method: str
    path: str
    action: str
    body: bytes
    status: int = 0


#: An error an AWS service answers with: status, ``Content-Type`` and body.
Fault = tuple[int, str, bytes]


def s3_error(code: str = "ServiceUnavailable", status: int = 503) -> Fault:
    body = (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code>'
        f"<Message>injected by the chaos test</Message></Error>"
    ).encode()
    return status, "application/xml", body


def _action(method: str, headers: dict[str, str], body: bytes) -> str:
    target = headers.get("x-amz-target", "")
    if target:
        return target.rsplit(".", 1)[-1]
    if body and "x-www-form-urlencoded" in headers.get("content-type", ""):
        found = parse_qs(body.decode("utf-8", "replace")).get("Action")
        if found:
            return found[0]
    return method


@dataclass
class FaultyProxy:
    """The proxy; ``endpoint`` is its URL. Use as a context manager."""

    upstream: str
    fault: Callable[[Call], Fault | None] = lambda call: None
    after: Callable[[Call], None] = lambda call: None
    rewrite: Callable[[Call, bytes], bytes] = lambda call, body: body
    calls: list[Call] = field(default_factory=list)

    def __post_init__(self) -> None:
        parts = urlsplit(self.upstream)
        self._host = parts.hostname or "127.0.0.1"
        self._port = parts.port or 80
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *_args: object) -> None:
                pass

            def _any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = {k.lower(): v for k, v in self.headers.items()}
                call = Call(self.command, self.path, _action(self.command, headers, body), body)
                with proxy._lock:
                    proxy.calls.append(call)
                fault = proxy.fault(call)
                if fault is not None:
                    call.status, kind, payload = fault
                    self._answer(call.status, [("Content-Type", kind)], payload)
                    return
                upstream = http.client.HTTPConnection(proxy._host, proxy._port, timeout=60)
                try:
                    upstream.request(self.command, self.path, body or None, dict(self.headers))
                    response = upstream.getresponse()
                    payload = response.read()
                    call.status = response.status
                    kept = [
                        (k, v)
                        for k, v in response.getheaders()
                        if k.lower() not in ("content-length", "transfer-encoding", "connection")
                    ]
                finally:
                    upstream.close()
                proxy.after(call)
                self._answer(call.status, kept, proxy.rewrite(call, payload))

            def _answer(self, status: int, headers: list[tuple[str, str]], payload: bytes) -> None:
                try:
                    self.send_response(status)
                    for name, value in headers:
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    if self.command != "HEAD":
                        self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):  # the client was killed
                    self.close_connection = True

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _any

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FaultyProxy:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def actions(self) -> list[str]:
        with self._lock:
            return [call.action for call in self.calls]


def reversed_messages(call: Call, body: bytes) -> bytes:
    """``rewrite`` that hands out each ``ReceiveMessage`` answer's messages last first."""
    if call.action != "ReceiveMessage" or call.status != 200:
        return body
    try:
        data = json.loads(body)
    except ValueError:
        return body
    if isinstance(data, dict) and isinstance(data.get("Messages"), list):
        data["Messages"].reverse()
        return json.dumps(data).encode()
    return body
