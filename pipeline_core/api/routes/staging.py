"""Staging routes: listings (keyset pages), one listing with its child rows and quality
score, queueing a promotion.

On PostgreSQL a DMO-scoped key reads staging through its DMO's row-level-security engine
(:meth:`~pipeline_core.api.state.ApiState.data_engine`), besides the ``dmo`` condition."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from pipeline_core.api.endpoints import Call, Endpoint
from pipeline_core.api.routes.audit import audit
from pipeline_core.api.rows import check_source, dmo_scope, not_found, page, required_dmo, row_json
from pipeline_core.api.schemas import (
    AFTER,
    ERROR,
    ID,
    LISTING,
    NULLABLE_TIME,
    QUEUE_JOB,
    SLUG,
    TIME,
    limit_param,
    page_of,
)
from pipeline_core.db.tables import CHILD_TABLES, errors, queue, staging
from pipeline_core.quality.store import listing_score

LISTINGS = staging["listings"]
_COLUMNS = [name for name in LISTING["properties"]]


def list_listings(call: Call) -> dict[str, Any]:
    """Staged listings by id; filters; keyset pagination (``after``), whose cost does not
    grow with depth."""
    q = call.query
    query = sa.select(*(LISTINGS.c[name] for name in _COLUMNS)).where(
        dmo_scope(call, LISTINGS.c.dmo)
    )
    for name in ("source", "dmo", "category", "status"):
        if q.get(name):
            query = query.where(LISTINGS.c[name] == q[name])
    if q.get("changed_since"):
        from datetime import datetime

        query = query.where(LISTINGS.c.updated_at >= datetime.fromisoformat(q["changed_since"]))
    if q.get("q"):
        info = staging["listing_info"]
        pattern = "%" + q["q"].replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(
            sa.exists().where(
                info.c.listing_id == LISTINGS.c.id, info.c.name.ilike(pattern, escape="\\")
            )
        )
    if q.get("after"):
        query = query.where(LISTINGS.c.id > q["after"])
    query = query.order_by(LISTINGS.c.id).limit(q["limit"] + 1)
    with call.state.data_engine(call.dmo).connect() as conn:
        rows = conn.execute(query).mappings().all()
    return page([row_json(r) for r in rows], q["limit"])


def get_listing(call: Call) -> dict[str, Any]:
    """One staged listing with every child row, its last errors, and its quality score with
    the rule breakdown (null when it was not scored)."""
    listing_id = call.path["id"]
    with call.state.data_engine(call.dmo).connect() as conn:
        row = (
            conn.execute(
                sa.select(LISTINGS).where(
                    LISTINGS.c.id == listing_id, dmo_scope(call, LISTINGS.c.dmo)
                )
            )
            .mappings()
            .first()
        )
        if row is None:
            raise not_found("listing", listing_id)
        children = {}
        for name in CHILD_TABLES:
            table = staging[name]
            rows = (
                conn.execute(
                    sa.select(table)
                    .where(table.c.listing_id == listing_id)
                    .order_by(table.c.listing_id)
                )
                .mappings()
                .all()
            )
            children[name] = [row_json(r) for r in rows]
    with call.state.engine.connect() as conn:
        found = (
            conn.execute(
                sa.select(errors)
                .where(errors.c.source == row["source"], errors.c.external_id == row["external_id"])
                .order_by(errors.c.id.desc())
                .limit(20)
            )
            .mappings()
            .all()
        )
        quality = listing_score(conn, listing_id)
    return {
        "listing": row_json(row, _COLUMNS),
        "children": children,
        "errors": [row_json(e) for e in found],
        "quality": row_json(quality) if quality is not None else None,
    }


def promote(call: Call) -> Any:
    """Queue a ``promote`` job for one DMO (the key's, or the body's ``dmo`` for an unscoped
    key), optionally only one ``source`` or some staging ``ids``, or a ``dry_run``; the
    answer is the queued job (its stats will hold the batch and counts)."""
    from pipeline_core.operations.queueing import enqueue_job

    body = call.body
    dmo = required_dmo(call, body.get("dmo"), "body", "the DMO to promote")
    payload: dict[str, Any] = {"dmo": dmo}
    if body.get("source") is not None:
        with call.state.engine.connect() as conn:
            check_source(call, conn, body["source"])
        payload["source"] = body["source"]
    if body.get("ids") is not None:
        payload["ids"] = body["ids"]
    if body.get("dry_run"):
        payload["dry_run"] = True
    job_id = enqueue_job(
        call.state.engine, call.state.plugin_manager(), "promote", payload, dmo=dmo
    )
    with call.state.engine.connect() as conn:
        row = conn.execute(sa.select(queue).where(queue.c.id == job_id)).one()
    audit(call, call.state.engine, "promotion.queued", job_id, dmo=dmo, after=payload)
    return row_json(row._mapping)


_DETAIL = {
    "type": "object",
    "required": ["listing", "children", "errors", "quality"],
    "properties": {
        "listing": LISTING,
        "children": {"type": "object"},
        "errors": {"type": "array", "items": ERROR},
        "quality": {
            "type": ["object", "null"],
            "required": ["score", "breakdown", "scored_at"],
            "properties": {
                "score": {"type": "integer", "minimum": 0, "maximum": 100},
                "breakdown": {"type": "object"},
                "scored_at": NULLABLE_TIME,
            },
        },
    },
}
_PROMOTE = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "source": SLUG,
        "dmo": SLUG,
        "ids": {"type": "array", "items": ID, "maxItems": 1000},
        "dry_run": {"type": "boolean"},
    },
}

ENDPOINTS = [
    Endpoint(
        "GET",
        "/staging/listings",
        list_listings,
        "List staged listings",
        "staging",
        query={
            "source": SLUG,
            "dmo": SLUG,
            "category": SLUG,
            "status": {"enum": ["active", "withdrawn"]},
            "changed_since": TIME,
            "q": {"type": "string", "minLength": 1, "maxLength": 200},
            "after": AFTER,
            "limit": limit_param(),
        },
        response=page_of(LISTING),
    ),
    Endpoint(
        "GET",
        "/staging/listings/{id}",
        get_listing,
        "A staged listing with its child rows and last errors",
        "staging",
        path_params={"id": ID},
        response=_DETAIL,
        errors=(404,),
    ),
    Endpoint(
        "POST",
        "/staging/promote",
        promote,
        "Queue a promotion of a DMO's staging listings",
        "staging",
        role="admin",
        body=_PROMOTE,
        response=QUEUE_JOB,
        status=202,
        errors=(403, 413, 422),
    ),
]
