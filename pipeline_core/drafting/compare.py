"""A draft against an expert's mapping, field by field, on the same sample.

Both mappings map every sampled record; each canonical field the expert's mapping fills
(dotted: ``name.de``, ``location.latitude``, ``contact.phone``; ``images`` by their URLs,
opening rows as a whole) is **right** when the draft gives the same value in at least
:data:`AGREEMENT` of the records where the expert's has one, **missing** when the draft
gives none there at all, and **wrong** otherwise. ``source``, ``dmo`` and ``licence`` are
not compared: they are not in the feed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from pipeline_core.exceptions import MappingError, RecordError
from pipeline_core.mapping import CompiledMapping
from pipeline_core.mapping.document import MappingDocument

AGREEMENT = 0.9
_SKIPPED = {"source", "dmo", "licence"}
_WHOLE = {"opening_hours", "opening_dates", "subcategories"}


@dataclass
class Comparison:
    """Right, wrong and missing fields of one draft."""

    right: list[str] = field(default_factory=list)
    wrong: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        """Fields of the expert's mapping."""
        return len(self.right) + len(self.wrong) + len(self.missing)


def flatten(record: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """A canonical record as dotted field → comparable value."""
    out: dict[str, Any] = {}
    for key, value in record.items():
        path = f"{prefix}{key}"
        if not prefix and key in _SKIPPED:
            continue
        if path == "images" and isinstance(value, list):
            out[path] = tuple(i.get("url") for i in value if isinstance(i, dict))
        elif path in _WHOLE:
            out[path] = orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
        elif isinstance(value, dict):
            out.update(flatten(value, path + "."))
        elif isinstance(value, list):
            out[path] = orjson.dumps(value)
        else:
            out[path] = value
    return out


def compiled(
    doc: MappingDocument, transforms: dict[str, Any], fetchers: dict[str, type]
) -> CompiledMapping:
    """The mapping as a crawl compiles it (over its fetcher's default mapping)."""
    fetcher = fetchers.get(doc.fetcher)
    defaults = getattr(fetcher, "default_mapping", None) or {}
    return CompiledMapping(doc.with_defaults(defaults), transforms)


def _mapped(mapping: CompiledMapping, payload: Any) -> dict[str, Any]:
    try:
        return flatten(mapping.apply(payload))
    except RecordError:
        return {}


def compare(
    expert: MappingDocument,
    draft: MappingDocument,
    records: list[Any],
    transforms: dict[str, Any],
    fetchers: dict[str, type],
) -> Comparison:
    """Compare ``draft`` with ``expert`` on ``records``."""
    expert_map = compiled(expert, transforms, fetchers)
    try:
        draft_map: CompiledMapping | None = compiled(draft, transforms, fetchers)
    except MappingError:
        draft_map = None
    pairs = []
    for payload in records:
        theirs = _mapped(draft_map, payload) if draft_map is not None else {}
        pairs.append((_mapped(expert_map, payload), theirs))
    targets = sorted({key for ours, _ in pairs for key in ours})
    result = Comparison()
    for target in targets:
        filled = [(ours[target], theirs.get(target)) for ours, theirs in pairs if target in ours]
        same = sum(1 for a, b in filled if a == b)
        given = sum(1 for _, b in filled if b is not None)
        if same >= AGREEMENT * len(filled):
            result.right.append(target)
        elif given == 0:
            result.missing.append(target)
        else:
            result.wrong.append(target)
    return result
