"""Map and validate one raw record without writing anything, field by field.

``dmo-pipeline preview`` shows, for each field of a source's mapping, where the value
came from (the ``from`` path), the raw value there, the canonical value the mapping made
of it, every map or validation error that names the field, and every warning (a value kept
as published or left out) beside its field.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from pipeline_core.exceptions import RecordError
from pipeline_core.mapping import CompiledMapping
from pipeline_core.mapping.compiler import make_getter
from pipeline_core.model import validate_record

#: ``from`` shown for a field spec that reads no path.
CONST = "(const)"
WHOLE_RECORD = "(record)"


@dataclass
class FieldPreview:
    """One mapped field: target, source path, raw value, canonical value, errors and
    warnings."""

    field: str
    source_path: str
    raw: Any
    mapped: Any
    errors: list[str] = dataclasses.field(default_factory=list)
    warnings: list[str] = dataclasses.field(default_factory=list)


@dataclass
class RecordPreview:
    """One record: its fields, and errors that name no mapped field."""

    external_id: str | None
    url: str
    fields: list[FieldPreview]
    other_errors: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    #: Warnings that name no mapped field: (field, message).
    other_warnings: list[tuple[str, str]] = dataclasses.field(default_factory=list)

    @property
    def valid(self) -> bool:
        """True when the record mapped and passed validation."""
        return not self.other_errors and not any(f.errors for f in self.fields)

    def as_json(self) -> dict[str, Any]:
        """The preview as plain JSON values."""
        return {
            "external_id": self.external_id,
            "url": self.url,
            "valid": self.valid,
            "fields": [
                {
                    "field": f.field,
                    "from": f.source_path,
                    "raw": f.raw,
                    "mapped": f.mapped,
                    "errors": f.errors,
                    "warnings": f.warnings,
                }
                for f in self.fields
            ],
            "errors": [{"field": k, "message": m} for k, m in self.other_errors],
            "warnings": [{"field": k, "message": m} for k, m in self.other_warnings],
        }

    @property
    def warning_count(self) -> int:
        """Warnings of the record, beside fields or not."""
        return sum(len(f.warnings) for f in self.fields) + len(self.other_warnings)


def _source_paths(spec: Any) -> list[str]:
    """The record paths a field spec reads, in order of preference ([] for ``const``)."""
    if isinstance(spec, str):
        return [spec]
    if not isinstance(spec, dict) or "const" in spec:
        return []
    if "each" in spec:
        return [str(spec["each"])]
    sources = spec.get("from", "$")
    if isinstance(sources, dict):  # an object of named paths: the first that has a value
        return [str(s) for s in sources.values()]
    return [str(s) for s in (sources if isinstance(sources, list) else [sources])]


def _raw(payload: Any, paths: list[str]) -> tuple[str, Any]:
    """The first path with a value, and that value (or the first path and None)."""
    if not paths:
        return CONST, None
    for path in paths:
        value = make_getter(path)(payload)
        if value not in (None, "", [], {}):
            return (WHOLE_RECORD if path in ("$", "") else path), value
    first = paths[0]
    return (WHOLE_RECORD if first in ("$", "") else first), None


def _names(target: str, field_path: str) -> bool:
    """True when an error at ``field_path`` concerns the mapped field ``target``."""
    return (
        field_path == target
        or field_path.startswith(target + ".")
        or target.startswith(field_path + ".")
    )


def preview_record(mapping: CompiledMapping, payload: Any, url: str) -> RecordPreview:
    """Map and validate ``payload`` with ``mapping``; nothing is written anywhere."""
    specs: dict[str, Any] = mapping.doc.doc.get("fields", {})
    external_id: str | None = None
    record: dict[str, Any] | None = None
    problems: list[tuple[str, str]] = []
    kept: list[RecordError] = []
    try:
        external_id = mapping.external_id(payload)
        record = mapping.apply(payload, external_id, kept)
    except RecordError as exc:
        problems.append((exc.field, f"map: {exc.message}"))
    if record is not None:
        problems.extend(
            (issue.field, f"validate: {issue.message}") for issue in validate_record(record)
        )
    fields = []
    for target, spec in specs.items():
        path, raw = _raw(payload, _source_paths(spec))
        mapped = make_getter(target)(record) if record is not None else None
        fields.append(FieldPreview(target, path, raw, mapped))
    other: list[tuple[str, str]] = []
    for field_path, message in problems:
        owner = next((f for f in fields if _names(f.field, field_path)), None)
        if owner is not None:
            owner.errors.append(message)
        else:
            other.append((field_path, message))
    other_warnings: list[tuple[str, str]] = []
    for reason in kept if record is not None else []:
        owner = next((f for f in fields if _names(f.field, reason.field)), None)
        if owner is not None:
            owner.warnings.append(reason.message)
        else:
            other_warnings.append((reason.field, reason.message))
    return RecordPreview(external_id, url, fields, other, other_warnings)
