"""A loopback HTTP server for the image tests: bodies with ETag and Last-Modified, answers
304 to a matching conditional request, redirects, and records every request."""

from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from pipeline_core.testing.server import LoopbackHTTPServer

LAST_MODIFIED = "Mon, 07 Dec 2026 04:00:00 GMT"


@dataclass
class Served:
    """One request: its path, its conditional headers and the status answered."""

    path: str
    if_none_match: str | None
    if_modified_since: str | None
    status: int


@dataclass
class ImageServer:
    """``bodies``: path → (body, content type); ``redirects``: path → Location."""

    bodies: dict[str, tuple[bytes, str]] = field(default_factory=dict)
    redirects: dict[str, str] = field(default_factory=dict)
    #: Seconds to wait before answering, by path (a server that hangs).
    delays: dict[str, float] = field(default_factory=dict)
    requests: list[Served] = field(default_factory=list)

    def __post_init__(self) -> None:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = self.path
                time.sleep(server.delays.get(path, 0.0))
                inm = self.headers.get("If-None-Match")
                ims = self.headers.get("If-Modified-Since")
                if path in server.redirects:
                    server.requests.append(Served(path, inm, ims, 302))
                    self.send_response(302)
                    self.send_header("Location", server.redirects[path])
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if path not in server.bodies:
                    server.requests.append(Served(path, inm, ims, 404))
                    self.send_error(404)
                    return
                body, content_type = server.bodies[path]
                etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
                status = 304 if inm == etag else 200
                server.requests.append(Served(path, inm, ims, status))
                self.send_response(status)
                self.send_header("ETag", etag)
                self.send_header("Last-Modified", LAST_MODIFIED)
                if status == 304:
                    self.end_headers()
                    return
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._http = LoopbackHTTPServer(("127.0.0.1", 0), Handler)
        self._http.daemon_threads = True
        self._thread = threading.Thread(target=self._http.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self._http.server_address[1]}{path}"

    def statuses(self, path: str) -> list[int]:
        return [r.status for r in self.requests if r.path == path]

    def __enter__(self) -> ImageServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._http.shutdown()
        self._http.server_close()
