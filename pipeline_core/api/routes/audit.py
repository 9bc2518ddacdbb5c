"""The audit trail over HTTP (admin keys; a DMO-scoped admin key sees its DMO's rows), and
:func:`call_actor`, the author of a change a route makes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from pipeline_core.api.endpoints import Call, Endpoint
from pipeline_core.api.problems import Problem
from pipeline_core.api.rows import row_json
from pipeline_core.api.schemas import AFTER, ID, SLUG, TIME, limit_param, page_of
from pipeline_core.operations.audit import (
    Actor,
    AuditFilter,
    key_actor,
    list_audit,
    record,
    record_now,
)


def call_actor(call: Call) -> Actor:
    """The key of a request (id and name) and the client's address, as an audit row's who."""
    address = call.request.client.host if call.request.client else None
    if call.key is None:
        return key_actor(None, "", address)
    return key_actor(call.key.id, call.key.name, address)


def audit(
    call: Call, where: sa.Connection | sa.Engine, action: str, target: Any, **values: Any
) -> None:
    """Record ``action`` on ``target`` by the request's key: in the transaction of ``where``
    when it is a connection (the row commits with the change), else in one of its own."""
    actor, name = call_actor(call), None if target is None else str(target)
    if isinstance(where, sa.Connection):
        record(where, actor, action, name, **values)
    else:
        record_now(where, actor, action, name, **values)


def list_audit_route(call: Call) -> dict[str, Any]:
    """Audit rows, newest first (keyset: ``after`` is the last id seen); filters action
    (``config`` matches every ``config.*``), key_id, actor, dmo, target, since, until."""
    q = call.query
    dmo = q.get("dmo")
    if call.dmo is not None:
        if dmo not in (None, call.dmo):
            raise Problem(403, f"this key acts for DMO {call.dmo!r} only")
        dmo = call.dmo
    found = list_audit(
        call.state.engine,
        AuditFilter(
            action=q.get("action"),
            key_id=q.get("key_id"),
            actor=q.get("actor"),
            dmo=dmo,
            target=q.get("target"),
            since=datetime.fromisoformat(q["since"]) if q.get("since") else None,
            until=datetime.fromisoformat(q["until"]) if q.get("until") else None,
            after=q.get("after"),
        ),
        q["limit"],
    )
    return {"items": [row_json(r) for r in found.rows], "next": found.next}


AUDIT_ROW = {
    "type": "object",
    "required": ["id", "at", "key_id", "actor", "address", "action", "target", "dmo"],
    "properties": {
        "id": {"type": "integer"},
        "at": {"type": "string"},
        "key_id": {"type": ["integer", "null"]},
        "actor": {"type": "string"},
        "address": {"type": ["string", "null"]},
        "action": {"type": "string"},
        "target": {"type": ["string", "null"]},
        "dmo": {"type": ["string", "null"]},
        "before": {},
        "after": {},
    },
}

ENDPOINTS = [
    Endpoint(
        "GET",
        "/audit",
        list_audit_route,
        "List the audit trail (who changed what)",
        "audit",
        role="admin",
        query={
            "action": {"type": "string", "pattern": "^[a-z_.]{1,50}$"},
            "key_id": ID,
            "actor": {"type": "string", "minLength": 1, "maxLength": 200},
            "dmo": SLUG,
            "target": {"type": "string", "minLength": 1, "maxLength": 300},
            "since": TIME,
            "until": TIME,
            "after": AFTER,
            "limit": limit_param(),
        },
        response=page_of(AUDIT_ROW),
        errors=(403,),
    ),
]
