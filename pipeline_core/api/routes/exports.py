"""Exports: a DMO's production listings streamed as JSON Lines or CSV."""

from __future__ import annotations

import re
from typing import Any

from starlette.responses import StreamingResponse

from pipeline_core.api.endpoints import Call, Endpoint
from pipeline_core.api.rows import required_dmo
from pipeline_core.api.schemas import SLUG
from pipeline_core.exports.stream import FORMATS, export_lines

MEDIA = {"jsonl": "application/x-ndjson", "csv": "text/csv; charset=utf-8"}


def _filename(dmo: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", dmo)[:100] or "export"


def export_production(call: Call) -> StreamingResponse:
    """Stream one DMO's production listings (the key's DMO; an unscoped key names ``dmo``)
    as ``jsonl`` or ``csv``, fetched in batches from a server-side cursor; ``anonymize``
    masks the personal contact data its sources' mappings flag (``personal_data``), by
    value."""
    q = call.query
    dmo = required_dmo(call, q.get("dmo"), "query", "the DMO to export")
    personal: dict[str, list[str]] = {
        name: list(source.mapping.doc.get("personal_data", []))
        for name, source in call.state.sources().items()
        if source.dmo == dmo
    }
    fmt = q["format"]
    lines = export_lines(
        call.state.data_engine(call.dmo),
        dmo,
        fmt,
        anonymize_data=q["anonymize"],
        personal=personal,
        include_withdrawn=q["include_withdrawn"],
    )
    return StreamingResponse(
        (line.encode("utf-8") for line in lines),
        media_type=MEDIA[fmt],
        headers={"Content-Disposition": f'attachment; filename="{_filename(dmo)}.{fmt}"'},
    )


_FORMAT: dict[str, Any] = {"enum": list(FORMATS), "default": "jsonl"}

ENDPOINTS = [
    Endpoint(
        "GET",
        "/production/export",
        export_production,
        "Export a DMO's production listings (JSON Lines or CSV)",
        "production",
        query={
            "dmo": SLUG,
            "format": _FORMAT,
            "anonymize": {"type": "boolean", "default": False},
            "include_withdrawn": {"type": "boolean", "default": False},
        },
        response={"type": "string"},
        errors=(403,),
        media_type="*/*",
    ),
]
