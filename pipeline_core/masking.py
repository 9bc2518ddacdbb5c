"""Secrets masked and values cut short in text that people see or error rows keep
(decision 55).

:func:`mask_text` masks, in any text: URLs' user info and secret query parameters,
``NAME=value`` pairs whose name says secret (an environment dump), and the values of this
process's secret environment variables (``DMO_SECRET_*`` and names that say secret).
:func:`excerpt` is what an error row stores of a value: masked, at most
:data:`EXCERPT_LIMIT` characters.
"""

from __future__ import annotations

import os
import re
from typing import Any

from pipeline_core.config import mask_url_credentials

#: Most characters of a value that an error row keeps.
EXCERPT_LIMIT = 200
#: Shortest environment value masked wherever it appears (shorter ones are too common).
_MIN_SECRET = 6
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s\"'<>\x00]+")
_SECRET_NAME = re.compile(
    r"pass|pwd|secret|token|api[-_]?key|access[-_]?key|credential|signature|auth|cookie",
    re.IGNORECASE,
)
_PAIR = re.compile(r"(?<![A-Za-z0-9_.-])([A-Za-z_][A-Za-z0-9_.-]*)=([^\s\x00&;,\"'\\]+)")


def _secret_values() -> list[str]:
    values = {
        value
        for name, value in os.environ.items()
        if (name.startswith("DMO_SECRET_") or _SECRET_NAME.search(name))
        and len(value) >= _MIN_SECRET
    }
    return sorted(values, key=len, reverse=True)


def mask_text(text: str) -> str:
    """``text`` with the secrets it may carry replaced by ``***``."""
    for value in _secret_values():
        text = text.replace(value, "***")
    text = _URL.sub(lambda match: mask_url_credentials(match.group(0)), text)
    return _PAIR.sub(
        lambda m: f"{m.group(1)}=***" if _SECRET_NAME.search(m.group(1)) else m.group(0), text
    )


def excerpt(value: Any, limit: int = EXCERPT_LIMIT) -> str:
    """What an error row keeps of ``value``: its ``repr``, masked, cut to ``limit``
    characters (the cut says how long the whole was)."""
    text = repr(mask_text(value)) if isinstance(value, str) else mask_text(repr(value))
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text)} characters)"
