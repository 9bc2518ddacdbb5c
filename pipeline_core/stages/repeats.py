"""Rows that repeat an id within one crawl: the rule a source chooses (``on_repeat``).

Exports repeat a listing (the same attraction twice, a later row with less data). The
rule decides what is staged:

- ``merge`` (default): the later row's fields win, and fields it leaves empty keep the
  earlier row's values (objects such as ``location`` are merged key by key);
- ``first``: the earlier row stands, the later is ignored;
- ``last``: the later row replaces the earlier;
- ``invalid``: the later row is invalid (an error row), the earlier stands.

Each repeat is counted (``repeated``) and reported with a row naming both records.
"""

from __future__ import annotations

from typing import Any

#: The choices of ``on_repeat``, the default first.
REPEAT_RULES = ("merge", "first", "last", "invalid")


def is_empty(value: Any) -> bool:
    """Missing, null, blank text, ``[]`` or ``{}``."""
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, list | dict):
        return not value
    return False


def merge_records(earlier: dict[str, Any], later: dict[str, Any]) -> dict[str, Any]:
    """``later`` over ``earlier``: a field the later record leaves empty keeps the earlier
    value; objects (``location``, ``contact``, ``name``) are merged one level deep."""
    out = dict(earlier)
    for key, value in later.items():
        if is_empty(value):
            continue
        before = out.get(key)
        if isinstance(value, dict) and isinstance(before, dict):
            merged = dict(before)
            merged.update({k: v for k, v in value.items() if not is_empty(v)})
            out[key] = merged
        else:
            out[key] = value
    return out


def merge_warnings(*groups: list[dict[str, Any]] | None) -> list[dict[str, Any]] | None:
    """The warnings of several rows of one listing, each (field, message) once."""
    out: list[dict[str, Any]] = []
    seen: set[tuple[Any, Any]] = set()
    for group in groups:
        for warning in group or ():
            key = (warning.get("field"), warning.get("message"))
            if key not in seen:
                seen.add(key)
                out.append(warning)
    return out or None


def repeat_message(position: int, earlier: int, url: str, rule: str) -> str:
    """The report of one repeat, naming both records by their place in the crawl."""
    where = f" ({url})" if url else ""
    outcome = {
        "merge": "merged into it, the later values winning",
        "first": "ignored, the earlier record stands",
        "last": "it replaces the earlier record",
        "invalid": "the later record is invalid",
    }[rule]
    return (
        f"record {position} repeats the id of record {earlier}{where}: {outcome} "
        f"(on_repeat: {rule})"
    )
