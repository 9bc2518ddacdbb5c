"""The canonical listing model: its JSON Schema, validation and record hash.

The schema (``listing.schema.json``, draft 2020-12) is the contract every mapping produces.
Records are plain ``dict`` objects shaped by it. Validation uses ``jsonschema_rs`` (a Rust
implementation of the same draft, about 200 times faster than the pure-Python ``jsonschema``
on this schema: 1.3 µs against 270 µs per record), and the hash is SHA-256 of the canonical
JSON of the record without its identity and volatile fields.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import jsonschema_rs
import orjson

#: Fields that name a record rather than describe it: not part of the hash, so the same
#: content under another source or id hashes the same (and is flagged as a duplicate).
IDENTITY_FIELDS = frozenset({"source", "external_id", "dmo"})

#: Fields that change on every crawl without the listing changing: never hashed.
VOLATILE_FIELDS = frozenset({"scraped_at", "crawl_id", "fetched_url"})

#: Canonical fields that hold text per language (``{"en": "...", "de": "..."}``).
I18N_FIELDS = frozenset({"name", "description", "short_description"})


@cache
def listing_schema() -> dict[str, Any]:
    """The canonical listing JSON Schema, as shipped in the package."""
    text = resources.files(__name__).joinpath("listing.schema.json").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


#: Canonical categories, as in the schema's enum.
CATEGORIES: tuple[str, ...] = tuple(listing_schema()["properties"]["category"]["enum"])


@dataclass(frozen=True)
class ValidationIssue:
    """One way a record breaks the schema: the field path (dotted) and the message."""

    field: str
    message: str


@cache
def _validator() -> Any:
    # Formats are checked: the schema's dates must be days of the calendar (2024-02-30 is
    # not), which a pattern cannot say and the database refuses.
    return jsonschema_rs.validator_for(listing_schema(), validate_formats=True)


#: The message of a text value that holds a NUL character.
NUL_MESSAGE = (
    "text holds a NUL character (\\x00), which the database cannot store; the record is left out"
)


def nul_fields(value: Any, path: str = "") -> list[str]:
    """Dotted paths of the strings (values or keys) in ``value`` that hold a NUL (``\\x00``).

    PostgreSQL cannot store U+0000 in text or JSONB, so such a record would fail its whole
    batch; a path is returned with any NUL in it written as ``\\x00``.
    """
    if isinstance(value, str):
        return [path or "(record)"] if "\x00" in value else []
    found: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            name = str(key).replace("\x00", "\\x00")
            sub = f"{path}.{name}" if path else name
            if "\x00" in str(key):
                found.append(sub)
            found.extend(nul_fields(item, sub))
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            found.extend(nul_fields(item, f"{path}.{index}" if path else str(index)))
    return found


def validate_record(record: dict[str, Any]) -> list[ValidationIssue]:
    """Check one record against the schema; return its issues (empty when valid).

    A text value (or key) holding a NUL character is an issue too: the schema allows it,
    the database does not.
    """
    validator = _validator()
    issues: list[ValidationIssue] = []
    try:  # orjson writes a NUL as \u0000: walk the record only when that is in its JSON
        suspect = b"\\u0000" in orjson.dumps(record)
    except TypeError:
        suspect = True
    if suspect:
        issues = [ValidationIssue(path, NUL_MESSAGE) for path in nul_fields(record)]
    if not validator.is_valid(record):
        for error in validator.iter_errors(record):
            path = ".".join(str(part) for part in error.instance_path) or "(record)"
            issues.append(ValidationIssue(path.replace("\x00", "\\x00"), error.message))
    issues.sort(key=lambda issue: issue.field)
    return issues


def canonical_json(record: dict[str, Any]) -> bytes:
    """Canonical JSON of a record's content: sorted keys, identity and volatile fields left out."""
    content = {
        k: v for k, v in record.items() if k not in IDENTITY_FIELDS and k not in VOLATILE_FIELDS
    }
    return orjson.dumps(content, option=orjson.OPT_SORT_KEYS)


def record_hash(record: dict[str, Any]) -> str:
    """SHA-256 (hex) of :func:`canonical_json` of the record."""
    return hashlib.sha256(canonical_json(record)).hexdigest()


def raw_hash(payload: Any, salt: bytes) -> str | None:
    """SHA-256 of a source record as fetched (canonical JSON), salted with the fingerprint of
    the mapping that maps it; None when the payload has no canonical JSON form."""
    try:
        data = orjson.dumps(payload, option=orjson.OPT_SORT_KEYS)
    except TypeError:
        return None
    return hashlib.sha256(salt + data).hexdigest()
