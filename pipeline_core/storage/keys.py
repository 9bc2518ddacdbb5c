"""Storage keys: checked paths such as ``raw/<source>/<YYYY>/<MM>/<DD>/crawl-12.jsonl``.

A key is a ``/``-separated path of segments made of letters, digits, ``.``, ``_`` and ``-``
that start with a letter or digit, so no key can be absolute, climb with ``..``, or carry
text that a storage would interpret. Keys are never built from unchecked text.
"""

from __future__ import annotations

import re
from datetime import date

from pipeline_core.exceptions import StorageError

_SEGMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")
_KIND = re.compile(r"^[a-z][a-z0-9_-]{0,49}$")


def check_key(key: str) -> str:
    """Return ``key`` when it is a safe storage key, else raise :class:`StorageError`."""
    segments = key.split("/")
    if not key or len(key) > 1000 or not all(_SEGMENT.match(part) for part in segments):
        raise StorageError(
            f"storage key {key!r} is not accepted: segments of letters, digits, '.', '_' and "
            "'-' starting with a letter or digit, separated by '/'"
        )
    return key


def archive_key(kind: str, source: str, day: date, name: str) -> str:
    """``<kind>/<source>/<YYYY>/<MM>/<DD>/<name>``, every part checked."""
    if not _KIND.match(kind):
        raise StorageError(f"file kind {kind!r} is not accepted (lower-case letters, digits)")
    return check_key(f"{kind}/{source}/{day:%Y/%m/%d}/{name}")
