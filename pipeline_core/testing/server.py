"""A real HTTP server on 127.0.0.1 serving fixture feeds from memory or a folder.

Used by the test suite, the benchmarks and source authors' tests::

    with FeedServer(paginate_json(records, per_page=100)) as server:
        url = server.url("/listings?page=1")

Only loopback: the server binds 127.0.0.1 on a free port. Pages can be replaced while it
runs (:meth:`FeedServer.set_pages`), to simulate a feed that changes between crawls.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import orjson


class LoopbackHTTPServer(ThreadingHTTPServer):
    """``ThreadingHTTPServer`` that stays quiet when a client goes away mid-answer (a crawl
    stopped, a download over its size limit): the standard server prints that traceback to
    whatever ``sys.stderr`` is at the time, another test's or command's output."""

    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Ignore a client that closed its connection; report anything else as usual."""
        import sys

        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


_TYPES = {
    ".json": "application/json",
    ".xml": "application/xml",
    ".csv": "text/csv",
    ".html": "text/html; charset=utf-8",
    ".jsonld": "application/ld+json",
}


def paginate_json(
    records: Sequence[Any],
    per_page: int = 100,
    path: str = "/listings",
    records_key: str = "data",
    next_key: str = "next",
) -> dict[str, bytes]:
    """Pages ``{path}?page=N`` of ``{records_key: [...], next_key: URL-or-null, "total": n}``.

    The next link is relative (``/listings?page=2``) and null on the last page.
    """
    pages: dict[str, bytes] = {}
    count = max(1, -(-len(records) // per_page))
    for number in range(1, count + 1):
        chunk = records[(number - 1) * per_page : number * per_page]
        body = {
            records_key: list(chunk),
            next_key: f"{path}?page={number + 1}" if number < count else None,
            "total": len(records),
        }
        pages[f"{path}?page={number}"] = orjson.dumps(body)
    return pages


class FeedServer:
    """Serve ``pages`` (request path with query → body) or the files of ``folder``.

    ``headers`` adds response headers by path (header name → value, or a list of values
    sent as separate header lines, as two ``Link`` headers are). ``delays`` holds seconds to
    wait before answering a path (a slow page, so a job surely outlasts a short lease).
    """

    def __init__(
        self,
        pages: Mapping[str, bytes] | None = None,
        folder: str | Path | None = None,
        headers: Mapping[str, Mapping[str, str | Sequence[str]]] | None = None,
        delays: Mapping[str, float] | None = None,
    ) -> None:
        self._pages: dict[str, bytes] = dict(pages or {})
        self._delays: dict[str, float] = dict(delays or {})
        #: Response headers by path; a list of values is sent as one header line each.
        self._headers = {
            path: [
                (name, value)
                for name, values in named.items()
                for value in ([values] if isinstance(values, str) else values)
            ]
            for path, named in (headers or {}).items()
        }
        self.folder = Path(folder).resolve() if folder else None
        self.requests: list[str] = []
        #: The headers of each request, in the order of :attr:`requests`.
        self.request_headers: list[dict[str, str]] = []
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                with server._lock:
                    server.requests.append(self.path)
                    server.request_headers.append(dict(self.headers.items()))
                time.sleep(server._delays.get(self.path, 0.0))
                body, content_type = server._lookup(self.path)
                if body is None:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                for name, value in server._headers.get(self.path, []):
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = LoopbackHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    def _lookup(self, path: str) -> tuple[bytes | None, str]:
        with self._lock:
            body = self._pages.get(path)
        suffix = Path(urlsplit(path).path).suffix
        if body is None and self.folder is not None:
            target = (self.folder / urlsplit(path).path.lstrip("/")).resolve()
            if target.is_file() and self.folder in target.parents:
                body = target.read_bytes()
        return body, _TYPES.get(suffix, "application/json")

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def url(self, path: str = "/") -> str:
        """Absolute URL of ``path`` on this server."""
        return f"http://127.0.0.1:{self.port}{path}"

    def set_pages(self, pages: Mapping[str, bytes]) -> None:
        """Replace the served pages (the feed changed)."""
        with self._lock:
            self._pages = dict(pages)

    def start(self) -> FeedServer:
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FeedServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
