"""A TCP proxy on 127.0.0.1 in front of moto's server, to make S3 and SQS outages real.

``OutageProxy(target)`` forwards every connection to ``target`` (``http://127.0.0.1:PORT``)
while it is ``up``. :meth:`OutageProxy.stop` makes it turn every connection away (accepted
and closed at once: boto3 sees the endpoint go away, and each one is counted, so a test
waits for a condition instead of sleeping); :meth:`OutageProxy.freeze` makes it accept
connections and hold them without a byte of answer, and stop forwarding on the open ones
(a frozen endpoint); :meth:`OutageProxy.resume` brings it back. Used by the chaos test and
``benchmarks/outage.py``::

    with OutageProxy(moto_endpoint) as proxy:
        settings = ...(PIPELINE_S3_ENDPOINT_URL=proxy.url)
        proxy.stop()
        ...
        proxy.resume()
"""

from __future__ import annotations

import socket
import threading
import time
from types import TracebackType
from urllib.parse import urlsplit

UP, DOWN, FROZEN = "up", "down", "frozen"


class OutageProxy:
    """A proxy whose endpoint can be stopped or frozen (see the module)."""

    def __init__(self, target: str) -> None:
        parts = urlsplit(target)
        assert parts.hostname in ("127.0.0.1", "::1", "localhost"), "loopback only"
        self.target = (parts.hostname, parts.port or 80)
        self.mode = UP
        self.turned_away = 0  # connections closed at once while stopped
        self.held = 0  # connections held while frozen
        self._lock = threading.Lock()
        self._open: list[socket.socket] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.2)
        self.port = self._listener.getsockname()[1]
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._accept, name="outage-proxy", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> OutageProxy:
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._closed.set()
        self._thread.join(timeout=5)
        self._listener.close()
        self._drop_open()

    def stop(self) -> None:
        """Turn every connection away, open ones included."""
        self.mode = DOWN
        self._drop_open()

    def freeze(self) -> None:
        """Accept and hold connections without answering; open ones stop forwarding."""
        self.mode = FROZEN

    def resume(self) -> None:
        """Forward again; connections held while frozen are closed."""
        self.mode = UP
        self._drop_open()

    def wait_for(self, what: str, count: int, timeout: float = 60.0) -> None:
        """Wait until ``turned_away`` or ``held`` (``what``) reaches ``count``."""
        deadline = time.monotonic() + timeout
        while getattr(self, what) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{what} stayed {getattr(self, what)} < {count}")
            time.sleep(0.02)

    # ------------------------------------------------------------------ internals

    def _drop_open(self) -> None:
        with self._lock:
            sockets, self._open = self._open, []
        for sock in sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            if self.mode == DOWN:
                self.turned_away += 1
                client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\1\0\0\0\0\0\0\0")
                client.close()  # a reset: the endpoint is gone
                continue
            with self._lock:
                self._open.append(client)
            if self.mode == FROZEN:
                self.held += 1
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                self._open.append(upstream)
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while chunk := source.recv(65536):
                while self.mode == FROZEN and not self._closed.is_set():
                    time.sleep(0.05)  # hold: no byte goes through while frozen
                if self.mode == DOWN:
                    break
                sink.sendall(chunk)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
