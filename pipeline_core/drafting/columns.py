"""A sample of records as columns: every path to a value, with the values found there.

Objects are walked by key, lists of objects through their first item (``Images.0.Url``)
and also kept whole at their own path (for ``each``); lists of scalars are one value.
Objects keyed by language tags (``{"de": …, "it": …}``) are noted as such, and so are
records that repeat an earlier one whole (some exports list a record twice).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import orjson

from pipeline_core.stages.repeats import is_empty

MAX_DEPTH = 5
MAX_COLUMNS = 2000
_LANGUAGE_TAG = re.compile(r"^[a-z]{2}(?:[-_][A-Za-z]{2,4})?$")
_WHOLE = orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS
_URL = re.compile(r"^(?:https?://|www\.)\S+$", re.IGNORECASE)


@dataclass
class Column:
    """The values at one path, one per record (``None`` where the record has none)."""

    path: str
    values: list[Any]
    order: int
    #: Lists of objects: the list itself, for ``each``.
    is_list_of_objects: bool = False

    @property
    def present(self) -> list[Any]:
        """The non-empty values."""
        return [v for v in self.values if not is_empty(v)]

    @property
    def fill(self) -> float:
        """Share of records with a value here."""
        return len(self.present) / len(self.values) if self.values else 0.0

    def texts(self) -> list[str]:
        """The present values as stripped text (scalars only)."""
        return [str(v).strip() for v in self.present if not isinstance(v, dict | list)]


@dataclass
class Columns:
    """Every column of a sample, and the objects keyed by language tags."""

    by_path: dict[str, Column] = field(default_factory=dict)
    #: Path of an object keyed by languages → its tags in order of first appearance.
    i18n: dict[str, list[str]] = field(default_factory=dict)
    count: int = 0
    #: Indexes of records equal to an earlier record in every value.
    repeats: set[int] = field(default_factory=set)

    def ordered(self) -> list[Column]:
        """Columns in the order their paths were first met."""
        return sorted(self.by_path.values(), key=lambda c: c.order)

    def item_fields(self, column: Column) -> list[Column]:
        """The columns of the first item's own keys of ``column``, a list of objects
        (``media.0.url``, not ``media.0.size.width``)."""
        prefix = column.path + ".0."
        return [
            c
            for p, c in self.by_path.items()
            if p.startswith(prefix) and "." not in p[len(prefix) :]
        ]


def is_language_object(value: Any) -> bool:
    """True for ``{"de": …, "it": …}``: every key a language tag."""
    return (
        isinstance(value, dict)
        and len(value) >= 1
        and all(isinstance(k, str) and _LANGUAGE_TAG.match(k) for k in value)
    )


def looks_like_url(text: str) -> bool:
    """``http(s)://…`` or ``www.…`` without spaces."""
    return bool(_URL.match(text.strip()))


def columns_of(records: list[Any]) -> Columns:
    """The columns of ``records`` (each a JSON-like value)."""
    out = Columns(count=len(records))
    seen: set[bytes] = set()
    for index, record in enumerate(records):
        _walk(record, "", 0, index, out)
        whole = orjson.dumps(record, option=_WHOLE, default=str)
        if whole in seen:
            out.repeats.add(index)
        seen.add(whole)
    for column in out.by_path.values():
        column.values.extend([None] * (len(records) - len(column.values)))
    return out


def _put(out: Columns, path: str, index: int, value: Any, is_list: bool = False) -> None:
    column = out.by_path.get(path)
    if column is None:
        if len(out.by_path) >= MAX_COLUMNS:
            return
        column = Column(path, [], len(out.by_path), is_list)
        out.by_path[path] = column
    column.values.extend([None] * (index - len(column.values)))
    if len(column.values) == index:
        column.values.append(value)


def _walk(value: Any, path: str, depth: int, index: int, out: Columns) -> None:
    if depth > MAX_DEPTH:
        return
    if isinstance(value, dict):
        if path and is_language_object(value):
            tags = out.i18n.setdefault(path, [])
            tags.extend(k for k in value if k not in tags)
        if path and depth:
            _put(out, path, index, value)
        for key, item in value.items():
            if not isinstance(key, str) or "." in key or not key or "[" in key:
                continue
            _walk(item, f"{path}.{key}" if path else key, depth + 1, index, out)
    elif isinstance(value, list):
        objects = [item for item in value if isinstance(item, dict)]
        if objects:
            _put(out, path, index, value, is_list=True)
            _walk(objects[0], f"{path}.0", depth + 1, index, out)
        else:
            _put(out, path, index, value)
    else:
        _put(out, path, index, value)
