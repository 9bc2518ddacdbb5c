"""Masking of the personal contact data a source's mapping flags (``personal_data``).

Each flagged field's value is replaced by :data:`MASK`, and so is every other occurrence of
that value in the record's text (a host's name repeated in the description, an e-mail in
the notes): masking goes by value, not only by field.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

#: What a masked value becomes.
MASK = "[masked]"


def _take(record: dict[str, Any], path: str) -> list[str]:
    """Replace the value at ``path`` (a dotted path; a list there: each of its items) by the
    mask and return the text values it held."""
    *parents, last = path.split(".")
    node: Any = record
    for part in parents:
        if not isinstance(node, dict) or part not in node:
            return []
        node = node[part]
    if not isinstance(node, dict) or node.get(last) in (None, ""):
        return []
    value = node[last]
    if isinstance(value, dict):  # per-language text
        found = [str(v) for v in value.values() if v not in (None, "")]
        node[last] = dict.fromkeys(value, MASK)
    elif isinstance(value, list):
        found = [str(v) for v in value if v not in (None, "")]
        node[last] = [MASK for _ in value]
    else:
        found = [str(value)]
        node[last] = MASK
    return found


def _scrub(value: Any, secrets: Sequence[str]) -> Any:
    if isinstance(value, str):
        for secret in secrets:
            value = value.replace(secret, MASK)
        return value
    if isinstance(value, dict):
        return {k: _scrub(v, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub(v, secrets) for v in value]
    return value


def anonymize(record: dict[str, Any], personal: Sequence[str]) -> dict[str, Any]:
    """A copy of ``record`` with the ``personal`` fields masked, and their values masked
    wherever else they appear in its text."""
    out = copy.deepcopy(record)
    secrets: list[str] = []
    for path in personal:
        secrets.extend(_take(out, path))
    # Longest first, so a value that contains another is masked whole.
    secrets = sorted({s for s in secrets if s and s != MASK}, key=len, reverse=True)
    return _scrub(out, secrets) if secrets else out
