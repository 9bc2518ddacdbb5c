"""Promotion batches: list them, show one with its per-listing diffs, roll one back."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from pipeline_core.api.endpoints import Call, Endpoint
from pipeline_core.api.problems import Problem
from pipeline_core.api.routes.audit import audit
from pipeline_core.api.rows import dmo_scope, not_found, page, row_json
from pipeline_core.api.schemas import (
    AFTER,
    ID,
    NULLABLE_TIME,
    SLUG,
    limit_param,
    page_of,
    row_of,
)
from pipeline_core.db.tables import promotion_batches, promotion_changes
from pipeline_core.exceptions import PromotionError

BATCHES = promotion_batches
CHANGES = promotion_changes


def list_promotions(call: Call) -> dict[str, Any]:
    """Promotion and rollback batches, newest first, with their counts (filters: dmo, kind,
    status; keyset: ``after`` is the last id seen)."""
    q = call.query
    query = sa.select(BATCHES).where(dmo_scope(call, BATCHES.c.dmo))
    for name in ("dmo", "kind", "status"):
        if q.get(name):
            query = query.where(BATCHES.c[name] == q[name])
    if q.get("after"):
        query = query.where(BATCHES.c.id < q["after"])
    query = query.order_by(BATCHES.c.id.desc()).limit(q["limit"] + 1)
    with call.state.engine.connect() as conn:
        rows = conn.execute(query).mappings().all()
    return page([row_json(r) for r in rows], q["limit"])


def _batch(call: Call, conn: sa.Connection) -> Any:
    batch_id = call.path["id"]
    row = (
        conn.execute(
            sa.select(BATCHES).where(BATCHES.c.id == batch_id, dmo_scope(call, BATCHES.c.dmo))
        )
        .mappings()
        .first()
    )
    if row is None:
        raise not_found("promotion batch", batch_id)
    return row


def get_promotion(call: Call) -> dict[str, Any]:
    """One batch with its counts and, per listing acted on, the action and the field-level
    diff (a page of its changes, by id: ``after``, ``limit``)."""
    q = call.query
    with call.state.engine.connect() as conn:
        batch = _batch(call, conn)
        query = sa.select(
            CHANGES.c.id,
            CHANGES.c.listing_id,
            CHANGES.c.staging_id,
            CHANGES.c.source,
            CHANGES.c.external_id,
            CHANGES.c.action,
            CHANGES.c.diff,
            CHANGES.c.reason,
        ).where(CHANGES.c.batch_id == batch["id"])
        if q.get("after"):
            query = query.where(CHANGES.c.id > q["after"])
        rows = conn.execute(query.order_by(CHANGES.c.id).limit(q["limit"] + 1)).mappings().all()
    changes = page([row_json(r) for r in rows], q["limit"])
    return {"batch": row_json(batch), "changes": changes["items"], "next": changes["next"]}


def rollback_promotion(call: Call) -> dict[str, Any]:
    """Put production back as it was before the batch (a new ``rollback`` batch), or 409
    naming why not (later batches touched the same listings, already rolled back, the DMO
    is being promoted)."""
    from pipeline_core.promotion import rollback

    with call.state.engine.connect() as conn:
        batch = _batch(call, conn)
    by = f"api key {call.key.id}" if call.key is not None else None
    try:
        report = rollback(call.state.engine, batch["id"], promoted_by=by)
    except PromotionError as exc:  # refused, busy, or a batch that cannot be rolled back
        raise Problem(409, str(exc)) from None
    done = {"batch": report.batch_id, "status": report.status, "counts": report.counts}
    audit(call, call.state.engine, "promotion.rolled_back", batch["id"], dmo=report.dmo, after=done)
    return {
        "batch": report.batch_id,
        "rollback_of": batch["id"],
        "dmo": report.dmo,
        "status": report.status,
        "counts": report.counts,
    }


BATCH = row_of(
    ["id", "dmo", "kind", "status", "counts"],
    id="integer",
    dmo="string",
    source="string?",
    kind={"enum": ["promote", "rollback"]},
    status="string",
    requested={},
    counts="object?",
    error="string?",
    rollback_of="integer?",
    rolled_back_by="integer?",
    promoted_by="string?",
    started_at=NULLABLE_TIME,
    finished_at=NULLABLE_TIME,
)
CHANGE = row_of(
    ["id", "source", "external_id", "action"],
    id="integer",
    listing_id="integer?",
    staging_id="integer?",
    source="string",
    external_id="string",
    action="string",
    diff={},
    reason="string?",
)

ENDPOINTS = [
    Endpoint(
        "GET",
        "/staging/promotions",
        list_promotions,
        "List promotion and rollback batches",
        "staging",
        query={
            "dmo": SLUG,
            "kind": {"enum": ["promote", "rollback"]},
            "status": {"enum": ["running", "completed", "failed", "rolled_back"]},
            "after": AFTER,
            "limit": limit_param(),
        },
        response=page_of(BATCH),
    ),
    Endpoint(
        "GET",
        "/staging/promotions/{id}",
        get_promotion,
        "A promotion batch with its per-listing diffs",
        "staging",
        path_params={"id": ID},
        query={"after": AFTER, "limit": limit_param()},
        response={
            "type": "object",
            "required": ["batch", "changes", "next"],
            "properties": {
                "batch": BATCH,
                "changes": {"type": "array", "items": CHANGE},
                "next": {"type": ["integer", "null"]},
            },
        },
        errors=(404,),
    ),
    Endpoint(
        "POST",
        "/staging/promotions/{id}/rollback",
        rollback_promotion,
        "Roll a promotion batch back",
        "staging",
        role="admin",
        path_params={"id": ID},
        response={
            "type": "object",
            "required": ["batch", "rollback_of", "dmo", "status", "counts"],
            "properties": {
                "batch": {"type": ["integer", "null"]},
                "rollback_of": {"type": "integer"},
                "dmo": {"type": "string"},
                "status": {"type": "string"},
                "counts": {"type": "object"},
            },
        },
        errors=(404, 409),
    ),
]
