"""Category mapping onto the canonical taxonomy (``pipeline_core/model/taxonomy.yaml``):
``taxonomy`` gives canonical terms for ``subcategories``, ``category`` the top-level
category. A source's own names go in a per-mapping ``table``; a name neither knows is
kept and reported, never dropped."""

from __future__ import annotations

import re
from functools import cache
from importlib import resources
from typing import Any

import yaml

from pipeline_core.exceptions import PartialTransformError
from pipeline_core.hookspecs import hookimpl
from pipeline_core.model import CATEGORIES
from pipeline_core.transforms import Transform


@cache
def taxonomy() -> dict[str, dict[str, Any]]:
    """The canonical taxonomy: term → ``{"category": …, "also": [names]}``."""
    text = resources.files("pipeline_core.model").joinpath("taxonomy.yaml").read_text("utf-8")
    terms: dict[str, dict[str, Any]] = yaml.safe_load(text)
    for term, entry in terms.items():
        if entry["category"] not in CATEGORIES:
            raise ValueError(f"taxonomy term {term}: unknown category {entry['category']}")
    return terms


def _key(name: str) -> str:
    return " ".join(str(name).split()).casefold()


@cache
def _names() -> dict[str, str]:
    names: dict[str, str] = {}
    for term, entry in taxonomy().items():
        for name in [term, *entry.get("also", [])]:
            names.setdefault(_key(name), term)
    return names


def _local(name: str) -> str:
    return re.split(r"[:/#]", name.rstrip("/"))[-1]


def _lookup(name: str, table: dict[str, Any] | None) -> str | None:
    key = _key(name)
    if table:
        folded = {_key(k): v for k, v in table.items()}
        for candidate in (key, _key(_local(name))):
            if candidate in folded:
                target = str(folded[candidate])
                if target not in taxonomy():
                    raise ValueError(f"table maps {name!r} to {target!r}, not a taxonomy term")
                return target
    names = _names()
    return names.get(key) or names.get(_key(_local(name)))


def _items(value: Any, key: str | None = None) -> list[str]:
    items = value if isinstance(value, list) else [value]
    out = []
    for item in items:
        if isinstance(item, dict) and key is not None:  # {"Self": "https://…", "TopicInfo": …}
            item = item.get(key)
        elif isinstance(item, dict):  # {"@id": "schema:Museum"} or {"TopicInfo": "Sport"}
            item = item.get("@id") or item.get("name") or next(iter(item.values()), None)
        if item is not None and str(item).strip():
            out.append(" ".join(str(item).split()))
    return out


def to_taxonomy(
    value: Any,
    table: dict[str, Any] | None = None,
    ignore: list[str] | None = None,
    key: str | None = None,
) -> list[str]:
    """Canonical taxonomy terms (for ``subcategories``) of a name or list of names, in
    order, each once. ``table`` maps a source's names to terms (looked up first,
    case-insensitively); names in ``ignore`` (generic types such as ``PointOfInterest``)
    are skipped; ``key`` names the key holding the name in items that are objects. A name
    neither knows stays in the list as published and is reported."""
    skipped = {_key(name) for name in ignore or []}
    terms: list[str] = []
    unknown: list[str] = []
    for name in _items(value, key):
        if _key(name) in skipped or _key(_local(name)) in skipped:
            continue
        term = _lookup(name, table)
        if term is None:
            unknown.append(name)
            term = name
        if term not in terms:
            terms.append(term)
    if unknown:
        raise PartialTransformError("not in the taxonomy: " + ", ".join(map(repr, unknown)), terms)
    return terms


def to_category(
    value: Any,
    table: dict[str, Any] | None = None,
    ignore: list[str] | None = None,
    key: str | None = None,
) -> str:
    """The top-level category (``attraction``, ``event`` …) of the first name (of a name
    or list; ``key`` as for ``taxonomy``) that is a category itself or maps to a taxonomy
    term; ``other``, reported, when none does."""
    skipped = {_key(name) for name in ignore or []}
    names = [n for n in _items(value, key) if _key(n) not in skipped]
    for name in names:
        if _key(name) in CATEGORIES:
            return _key(name)
        term = _lookup(name, table)
        if term is not None:
            return str(taxonomy()[term]["category"])
    raise PartialTransformError("not in the taxonomy: " + ", ".join(map(repr, names)), "other")


@hookimpl
def register_transforms() -> list[Transform]:
    """The taxonomy transforms."""
    return [
        Transform("taxonomy", to_taxonomy, to_taxonomy.__doc__ or "", cacheable=True),
        Transform("category", to_category, to_category.__doc__ or "", cacheable=True),
    ]
