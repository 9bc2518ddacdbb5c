"""Stream a DMO's production listings as JSON Lines or CSV, one line at a time."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import orjson
import sqlalchemy as sa

from pipeline_core.db.tables import production
from pipeline_core.exceptions import PipelineError
from pipeline_core.exports.anonymize import anonymize

FORMATS = ("jsonl", "csv")
#: CSV columns: listing columns, then fields of the record (text in its default language).
CSV_COLUMNS = (
    "id",
    "source",
    "external_id",
    "dmo",
    "category",
    "status",
    "duplicate_of",
    "name",
    "description",
    "street",
    "postal_code",
    "locality",
    "region",
    "country",
    "latitude",
    "longitude",
    "phone",
    "email",
    "website",
    "url",
    "licence",
    "attribution",
    "updated_at",
)
_FETCH = 500


def _text(record: dict[str, Any], field: str) -> str | None:
    values = record.get(field) or {}
    language = record.get("language")
    if language in values:
        return str(values[language])
    return str(next(iter(values.values()))) if values else None


def _csv_row(row: Any, record: dict[str, Any]) -> list[Any]:
    location = record.get("location") or {}
    contact = record.get("contact") or {}
    licence = record.get("licence") or {}
    return [
        row.id,
        row.source,
        row.external_id,
        row.dmo,
        row.category,
        row.status,
        row.duplicate_of,
        _text(record, "name"),
        _text(record, "description"),
        location.get("street"),
        location.get("postal_code"),
        location.get("locality"),
        location.get("region"),
        location.get("country"),
        location.get("latitude"),
        location.get("longitude"),
        contact.get("phone"),
        contact.get("email"),
        contact.get("website"),
        record.get("url"),
        licence.get("name"),
        licence.get("attribution"),
        row.updated_at.isoformat() if row.updated_at else None,
    ]


def _csv_line(values: Sequence[Any]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(values)
    return buffer.getvalue()


def export_lines(
    engine: sa.Engine,
    dmo: str,
    fmt: str = "jsonl",
    *,
    anonymize_data: bool = False,
    personal: Mapping[str, Sequence[str]] | None = None,
    include_withdrawn: bool = False,
) -> Iterator[str]:
    """The production listings of ``dmo``, in id order, as lines of ``fmt`` (``jsonl``: one
    JSON object per listing with its production id, source, status and canonical record;
    ``csv``: a header, then :data:`CSV_COLUMNS`). Rows are fetched from a server-side cursor
    in batches, so memory stays flat whatever the size. With ``anonymize_data`` the fields
    that ``personal`` (source → dotted paths) flags are masked, by value."""
    if fmt not in FORMATS:
        raise PipelineError(f"export format {fmt!r} is not one of: {', '.join(FORMATS)}")
    listings = production["listings"]
    query = sa.select(listings).where(listings.c.dmo == dmo).order_by(listings.c.id)
    if not include_withdrawn:
        query = query.where(listings.c.status == "active")
    personal = personal or {}
    if fmt == "csv":
        yield _csv_line(CSV_COLUMNS)
    with engine.connect() as conn:
        result = conn.execution_options(stream_results=True, yield_per=_FETCH).execute(query)
        for row in result:
            record = row.record
            if anonymize_data:
                record = anonymize(record, personal.get(row.source, ()))
            if fmt == "csv":
                yield _csv_line(_csv_row(row, record))
            else:
                line = {
                    "id": row.id,
                    "source": row.source,
                    "external_id": row.external_id,
                    "dmo": row.dmo,
                    "status": row.status,
                    "duplicate_of": row.duplicate_of,
                    "updated_at": row.updated_at.isoformat() if row.updated_at else None,
                    "record": record,
                }
                yield orjson.dumps(line).decode() + "\n"
