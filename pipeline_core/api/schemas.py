"""JSON Schemas shared by several routes (parameters, pages, rows)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

ID = {"type": "integer", "minimum": 1, "maximum": 2**31 - 1}
SLUG = {"type": "string", "minLength": 1, "maxLength": 100}
TIME = {"type": "string", "format": "date-time"}
NULLABLE_TIME = {"type": ["string", "null"]}


def row_of(required: Sequence[str], **properties: str | dict[str, Any]) -> dict[str, Any]:
    """An object schema (a row as JSON): the ``required`` names and each property's schema,
    written as a type name (``"integer"``), a type name that may be null (``"string?"``), or
    a schema."""

    def schema(kind: str | dict[str, Any]) -> dict[str, Any]:
        if isinstance(kind, dict):
            return kind
        if kind.endswith("?"):
            return {"type": [kind[:-1], "null"]}
        return {"type": kind}

    return {
        "type": "object",
        "required": list(required),
        "properties": {name: schema(kind) for name, kind in properties.items()},
    }


def limit_param(maximum: int = 500, default: int = 50) -> dict[str, Any]:
    return {"type": "integer", "minimum": 1, "maximum": maximum, "default": default}


AFTER = {
    "type": "integer",
    "minimum": 0,
    "maximum": 2**31 - 1,
    "description": "keyset cursor: the `next` of the previous page",
}


def page_of(item: dict[str, Any]) -> dict[str, Any]:
    """A page: ``items`` and ``next`` (the ``after`` of the next page, or null)."""
    return {
        "type": "object",
        "required": ["items", "next"],
        "properties": {
            "items": {"type": "array", "items": item},
            "next": {"type": ["integer", "null"]},
        },
    }


QUEUE_JOB = row_of(
    ["id", "type", "payload", "status", "attempts", "max_attempts", "dmo"],
    id="integer",
    type="string",
    payload="object",
    status={"enum": ["queued", "running", "completed", "failed"]},
    dead_lettered="boolean",
    attempts="integer",
    max_attempts="integer",
    priority="integer",
    run_after=NULLABLE_TIME,
    correlation_id="string?",
    dedup_key="string?",
    dmo="string?",
    last_error="string?",
    created_at=NULLABLE_TIME,
    updated_at=NULLABLE_TIME,
    finished_at=NULLABLE_TIME,
)

ATTEMPT = row_of(
    ["id", "queue_id", "attempt", "status"],
    id="integer",
    queue_id="integer",
    attempt="integer",
    worker="string?",
    status="string",
    started_at=NULLABLE_TIME,
    finished_at=NULLABLE_TIME,
    duration_ms="integer?",
    stats={},
    error="string?",
)

FILE = row_of(
    ["id", "kind", "source", "size", "sha256", "content_type"],
    id="integer",
    kind="string",
    source="string",
    url="string",
    size="integer",
    sha256="string",
    record_count="integer",
    content_type="string",
    crawl_id="integer?",
    job_id="integer?",
    created_at=NULLABLE_TIME,
)

ERROR = row_of(
    ["id", "source", "stage", "message"],
    id="integer",
    created_at=NULLABLE_TIME,
    source="string",
    external_id="string?",
    stage="string",
    field="string?",
    message="string",
    value="string?",
    url="string?",
    crawl_id="integer?",
    job_id="integer?",
)

LISTING = row_of(
    ["id", "source", "external_id", "dmo", "category", "status", "record"],
    id="integer",
    source="string",
    external_id="string",
    dmo="string",
    category="string",
    status="string",
    record_hash="string",
    duplicate_of="integer?",
    record="object",
    licence="string?",
    updated_at=NULLABLE_TIME,
    withdrawn_at=NULLABLE_TIME,
)

KEY = row_of(
    ["id", "name", "prefix", "role", "dmo"],
    id="integer",
    name="string",
    prefix="string",
    role={"enum": ["viewer", "operator", "admin"]},
    dmo="string?",
    created_at=NULLABLE_TIME,
    expires_at=NULLABLE_TIME,
    revoked_at=NULLABLE_TIME,
    last_used_at=NULLABLE_TIME,
)

CONFIG = row_of(
    ["name", "dmo", "enabled", "document", "credentials"],
    name="string",
    dmo="string",
    enabled="boolean",
    document="object",
    credentials={"type": "array", "items": {"type": "string"}},
)
