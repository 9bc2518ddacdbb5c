"""JSON Schemas shared by several routes (parameters, pages, rows)."""

from __future__ import annotations

from typing import Any

ID = {"type": "integer", "minimum": 1, "maximum": 2**31 - 1}
SLUG = {"type": "string", "minLength": 1, "maxLength": 100}
TIME = {"type": "string", "format": "date-time"}
NULLABLE_TIME = {"type": ["string", "null"]}


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


QUEUE_JOB = {
    "type": "object",
    "required": ["id", "type", "payload", "status", "attempts", "max_attempts", "dmo"],
    "properties": {
        "id": {"type": "integer"},
        "type": {"type": "string"},
        "payload": {"type": "object"},
        "status": {"enum": ["queued", "running", "completed", "failed"]},
        "dead_lettered": {"type": "boolean"},
        "attempts": {"type": "integer"},
        "max_attempts": {"type": "integer"},
        "priority": {"type": "integer"},
        "run_after": NULLABLE_TIME,
        "correlation_id": {"type": ["string", "null"]},
        "dedup_key": {"type": ["string", "null"]},
        "dmo": {"type": ["string", "null"]},
        "last_error": {"type": ["string", "null"]},
        "created_at": NULLABLE_TIME,
        "updated_at": NULLABLE_TIME,
        "finished_at": NULLABLE_TIME,
    },
}

ATTEMPT = {
    "type": "object",
    "required": ["id", "queue_id", "attempt", "status"],
    "properties": {
        "id": {"type": "integer"},
        "queue_id": {"type": "integer"},
        "attempt": {"type": "integer"},
        "worker": {"type": ["string", "null"]},
        "status": {"type": "string"},
        "started_at": NULLABLE_TIME,
        "finished_at": NULLABLE_TIME,
        "duration_ms": {"type": ["integer", "null"]},
        "stats": {},
        "error": {"type": ["string", "null"]},
    },
}

FILE = {
    "type": "object",
    "required": ["id", "kind", "source", "size", "sha256", "content_type"],
    "properties": {
        "id": {"type": "integer"},
        "kind": {"type": "string"},
        "source": {"type": "string"},
        "url": {"type": "string"},
        "size": {"type": "integer"},
        "sha256": {"type": "string"},
        "record_count": {"type": "integer"},
        "content_type": {"type": "string"},
        "crawl_id": {"type": ["integer", "null"]},
        "job_id": {"type": ["integer", "null"]},
        "created_at": NULLABLE_TIME,
    },
}

ERROR = {
    "type": "object",
    "required": ["id", "source", "stage", "message"],
    "properties": {
        "id": {"type": "integer"},
        "created_at": NULLABLE_TIME,
        "source": {"type": "string"},
        "external_id": {"type": ["string", "null"]},
        "stage": {"type": "string"},
        "field": {"type": ["string", "null"]},
        "message": {"type": "string"},
        "value": {"type": ["string", "null"]},
        "url": {"type": ["string", "null"]},
        "crawl_id": {"type": ["integer", "null"]},
        "job_id": {"type": ["integer", "null"]},
    },
}

LISTING = {
    "type": "object",
    "required": ["id", "source", "external_id", "dmo", "category", "status", "record"],
    "properties": {
        "id": {"type": "integer"},
        "source": {"type": "string"},
        "external_id": {"type": "string"},
        "dmo": {"type": "string"},
        "category": {"type": "string"},
        "status": {"type": "string"},
        "record_hash": {"type": "string"},
        "duplicate_of": {"type": ["integer", "null"]},
        "record": {"type": "object"},
        "licence": {"type": ["string", "null"]},
        "updated_at": NULLABLE_TIME,
        "withdrawn_at": NULLABLE_TIME,
    },
}

KEY = {
    "type": "object",
    "required": ["id", "name", "prefix", "role", "dmo"],
    "properties": {
        "id": {"type": "integer"},
        "name": {"type": "string"},
        "prefix": {"type": "string"},
        "role": {"enum": ["viewer", "operator", "admin"]},
        "dmo": {"type": ["string", "null"]},
        "created_at": NULLABLE_TIME,
        "expires_at": NULLABLE_TIME,
        "revoked_at": NULLABLE_TIME,
        "last_used_at": NULLABLE_TIME,
    },
}

CONFIG = {
    "type": "object",
    "required": ["name", "dmo", "enabled", "document", "credentials"],
    "properties": {
        "name": {"type": "string"},
        "dmo": {"type": "string"},
        "enabled": {"type": "boolean"},
        "document": {"type": "object"},
        "credentials": {"type": "array", "items": {"type": "string"}},
    },
}
