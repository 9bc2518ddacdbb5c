"""Image downloads: through the URL policy, size-limited, timed, conditional.

:func:`fetch` checks every URL (the first and each redirect's) with
:func:`~pipeline_core.urlpolicy.check_url` before requesting it, connects only to checked
addresses (:func:`~pipeline_core.checked_http.checked_opener`), follows at most
:data:`MAX_REDIRECTS` redirects, refuses a body longer than ``max_bytes`` (by its
``Content-Length`` before reading, and while reading), gives up after ``timeout`` seconds in
all, and sends ``If-None-Match`` / ``If-Modified-Since`` when the image was fetched before,
so an unchanged image is answered ``304 Not Modified`` and not downloaded again.

Names are looked up by ``PIPELINE_NAME_SERVERS`` when set (the check and the connection
alike), else by the system's resolver, and the lookup counts against ``timeout`` (the
system's resolver is given up on when the time is out: it has no timeout of its own to
set). A :class:`HostLookups` shared by one run's downloads looks each host name up once: a
name that does not resolve fails the run's other images on that host at once, with the same
reason, instead of each waiting for the resolver again.
"""

from __future__ import annotations

import http.client
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

from pipeline_core.checked_http import checked_opener
from pipeline_core.exceptions import ImageError, UnresolvedHost, URLPolicyError
from pipeline_core.urlpolicy import NameServer, check_url

MAX_REDIRECTS = 5
_REDIRECTS = (301, 302, 303, 307, 308)
_CHUNK = 64 * 1024


class HostLookups:
    """The host names one image run looked up and found not to resolve. :meth:`check` checks
    a URL with the URL policy; downloads of the same host wait for its first lookup, and a
    host that did not resolve fails every later URL of it without another lookup (names
    that did resolve are cached by the URL policy itself)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._per_host: dict[str, threading.Lock] = {}
        self.unresolved: dict[str, str] = {}

    def check(
        self,
        url: str,
        allowed: tuple[str, ...],
        name_servers: tuple[NameServer, ...],
        lifetime: float,
    ) -> None:
        """:func:`~pipeline_core.urlpolicy.check_url`, the lookup within ``lifetime``."""
        host = (urlsplit(url).hostname or "").lower()
        with self._lock:
            lock = self._per_host.setdefault(host, threading.Lock())
        with lock:
            known = self.unresolved.get(host)
            if known is not None:
                raise UnresolvedHost(known)
            try:
                check_url(url, allowed, name_servers=name_servers, lifetime=lifetime)
            except UnresolvedHost as exc:
                self.unresolved[host] = str(exc)
                raise


@dataclass(frozen=True)
class Fetched:
    """A download's answer: ``status`` 200 with ``data``, or 304 (unchanged, no data)."""

    url: str
    status: int
    etag: str | None
    last_modified: str | None
    data: bytes = field(default=b"", repr=False)


def fetch(
    url: str,
    *,
    etag: str | None = None,
    last_modified: str | None = None,
    max_bytes: int,
    timeout: float,
    allowed_hosts: Iterable[str] = (),
    name_servers: Iterable[NameServer] = (),
    lookups: HostLookups | None = None,
) -> Fetched:
    """Download the image at ``url``; :class:`ImageError` says why it could not be."""
    allowed, servers = tuple(allowed_hosts), tuple(name_servers)
    lookups = lookups or HostLookups()
    opener = checked_opener(allowed, servers)
    deadline = time.monotonic() + timeout
    current = url
    for _ in range(MAX_REDIRECTS + 1):
        where = "" if current == url else f"redirected to {current}: "
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise ImageError(f"{where}timed out after {timeout:g} s")
        try:
            lookups.check(current, allowed, servers, remaining)
        except UnresolvedHost as exc:
            raise ImageError(f"{where}{exc}") from None
        except URLPolicyError as exc:
            raise ImageError(f"{where}refused by the URL policy: {exc}") from None
        headers = {"User-Agent": "dmo-pipeline images", "Accept": "image/*"}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        request = urllib.request.Request(current, headers=headers)
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise ImageError(f"timed out after {timeout:g} s")
        try:
            response = opener.open(request, timeout=remaining)
        except UnresolvedHost as exc:  # the connection's own lookup
            raise ImageError(f"{where}{exc}") from None
        except URLPolicyError as exc:  # the connection's check of the address
            raise ImageError(f"{where}refused by the URL policy: {exc}") from None
        except urllib.error.HTTPError as exc:
            exc.close()
            if exc.code == 304:
                return Fetched(
                    current,
                    304,
                    exc.headers.get("ETag") or etag,
                    exc.headers.get("Last-Modified") or last_modified,
                )
            location = exc.headers.get("Location")
            if exc.code in _REDIRECTS and location:
                current = urljoin(current, location)
                continue
            raise ImageError(f"HTTP {exc.code} {exc.reason}") from None
        except urllib.error.URLError as exc:
            reason = exc.reason
            if isinstance(reason, URLPolicyError):
                raise ImageError(f"refused by the URL policy: {reason}") from None
            if isinstance(reason, TimeoutError):
                raise ImageError(f"timed out after {timeout:g} s") from None
            raise ImageError(f"download failed: {reason}") from None
        except TimeoutError:
            raise ImageError(f"timed out after {timeout:g} s") from None
        except (OSError, ValueError, http.client.HTTPException) as exc:
            raise ImageError(f"download failed: {type(exc).__name__}: {exc}") from None
        with response:
            return Fetched(
                current,
                200,
                response.headers.get("ETag"),
                response.headers.get("Last-Modified"),
                _read(response, max_bytes, deadline, timeout),
            )
    raise ImageError(f"more than {MAX_REDIRECTS} redirects")


def _read(response: object, max_bytes: int, deadline: float, timeout: float) -> bytes:
    headers = getattr(response, "headers", {})
    length = headers.get("Content-Length")
    if length and length.isdigit() and int(length) > max_bytes:
        raise ImageError(
            f"too large: Content-Length {length} bytes, more than "
            f"PIPELINE_IMAGE_MAX_BYTES={max_bytes}; not downloaded"
        )
    chunks: list[bytes] = []
    size = 0
    read = response.read  # type: ignore[attr-defined]
    try:
        while chunk := read(_CHUNK):
            size += len(chunk)
            if size > max_bytes:
                raise ImageError(
                    f"too large: more than PIPELINE_IMAGE_MAX_BYTES={max_bytes} bytes; "
                    "download stopped"
                )
            if time.monotonic() > deadline:
                raise ImageError(f"timed out after {timeout:g} s")
            chunks.append(chunk)
    except TimeoutError:
        raise ImageError(f"timed out after {timeout:g} s") from None
    except (OSError, ValueError, http.client.HTTPException) as exc:
        raise ImageError(f"download failed while reading: {type(exc).__name__}: {exc}") from None
    return b"".join(chunks)
