"""Image downloads: through the URL policy, size-limited, timed, conditional.

:func:`fetch` checks every URL (the first and each redirect's) with
:func:`~pipeline_core.urlpolicy.check_url` before requesting it, connects only to checked
addresses (:func:`~pipeline_core.checked_http.checked_opener`), follows at most
:data:`MAX_REDIRECTS` redirects, refuses a body longer than ``max_bytes`` (by its
``Content-Length`` before reading, and while reading), gives up after ``timeout`` seconds in
all, and sends ``If-None-Match`` / ``If-Modified-Since`` when the image was fetched before,
so an unchanged image is answered ``304 Not Modified`` and not downloaded again.
"""

from __future__ import annotations

import http.client
import time
import urllib.error
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import urljoin

from pipeline_core.checked_http import checked_opener
from pipeline_core.exceptions import ImageError, URLPolicyError
from pipeline_core.urlpolicy import check_url

MAX_REDIRECTS = 5
_REDIRECTS = (301, 302, 303, 307, 308)
_CHUNK = 64 * 1024


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
) -> Fetched:
    """Download the image at ``url``; :class:`ImageError` says why it could not be."""
    allowed = tuple(allowed_hosts)
    opener = checked_opener(allowed)
    deadline = time.monotonic() + timeout
    current = url
    for _ in range(MAX_REDIRECTS + 1):
        try:
            check_url(current, allowed)
        except URLPolicyError as exc:
            where = "" if current == url else f"redirected to {current}: "
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
