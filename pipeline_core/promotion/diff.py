"""Field-level diff of two canonical records: dotted path → old and new value."""

from __future__ import annotations

from typing import Any

from pipeline_core.model import IDENTITY_FIELDS, VOLATILE_FIELDS


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """Leaves of a record by dotted path (``location.latitude``, ``images.0.url``)."""
    if isinstance(value, dict) and value:
        out: dict[str, Any] = {}
        for key, item in value.items():
            out.update(flatten(item, f"{prefix}.{key}" if prefix else str(key)))
        return out
    if isinstance(value, list) and value:
        out = {}
        for index, item in enumerate(value):
            out.update(flatten(item, f"{prefix}.{index}" if prefix else str(index)))
        return out
    return {prefix: value} if prefix else {}


def record_diff(old: dict[str, Any] | None, new: dict[str, Any] | None) -> dict[str, Any]:
    """``{path: {"old": x, "new": y}}`` for every leaf that differs (identity and volatile
    fields left out); a field missing on one side is ``None`` there."""
    skip = IDENTITY_FIELDS | VOLATILE_FIELDS
    before = {k: v for k, v in flatten(old or {}).items() if k.split(".")[0] not in skip}
    after = {k: v for k, v in flatten(new or {}).items() if k.split(".")[0] not in skip}
    return {
        path: {"old": before.get(path), "new": after.get(path)}
        for path in sorted(before.keys() | after.keys())
        if before.get(path) != after.get(path)
    }
