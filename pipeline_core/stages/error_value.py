"""How a value is shown in an error or warning row (``pipeline.errors.value``): as its
``repr``, at most :data:`MAX_VALUE` characters, secrets masked.

A feed's values may hold credentials (a website with ``?token=``, a URL with
``user:password@``, a ``password=`` in a text) and may be very long (a description of
100 kB): the row keeps what identifies the value, never a secret or a copy of the feed.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from pipeline_core.config import mask_url
from pipeline_core.exceptions import RecordError

#: Longest value text kept in an error row; a longer one is cut and ends with "…".
MAX_VALUE = 500
_URL = re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]*://[^\s'\"<>]+")
_SECRET_PAIR = re.compile(
    r"(?i)\b((?:pass(?:word|wd)?|pwd|secret|token|api[_-]?key|access[_-]?key|auth)\s*[=:]\s*)"
    r"([^\s&'\",;]+)"
)


def masked(text: str) -> str:
    """``text`` with URL passwords and tokens, and ``password=…`` pairs, replaced by ***."""
    if "://" in text:
        text = _URL.sub(lambda m: mask_url(m.group(0)), text)
    if "=" in text or ":" in text:
        text = _SECRET_PAIR.sub(lambda m: m.group(1) + "***", text)
    return text


def shown_value(value: Any) -> str | None:
    """The text of ``value`` for an error row: its repr, bounded and masked."""
    if value is None:
        return None
    text = repr(value)
    if len(text) > MAX_VALUE:
        text = text[: MAX_VALUE - 1] + "…"
    return masked(text)


def listing_warnings(kept: Sequence[RecordError]) -> list[dict[str, Any]] | None:
    """A staged listing's warnings (``staging.listings.warnings``) from the reasons of the
    values its mapping kept or left out: field, message and value as in the error rows."""
    if not kept:
        return None
    return [
        {"field": r.field, "message": masked(r.message), "value": shown_value(r.value)}
        for r in kept
    ]
