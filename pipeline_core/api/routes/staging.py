"""Staging routes: listings (keyset pages), one listing with its child rows, promotion."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from pipeline_core.api.endpoints import Call, Endpoint
from pipeline_core.api.problems import Problem
from pipeline_core.api.rows import dmo_scope, not_found, page, row_json
from pipeline_core.api.schemas import AFTER, ERROR, ID, LISTING, SLUG, TIME, limit_param, page_of
from pipeline_core.db.tables import CHILD_TABLES, errors, staging

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
    with call.state.engine.connect() as conn:
        rows = conn.execute(query).mappings().all()
    return page([row_json(r) for r in rows], q["limit"])


def get_listing(call: Call) -> dict[str, Any]:
    """One staged listing with every child row and its last errors."""
    listing_id = call.path["id"]
    with call.state.engine.connect() as conn:
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
    return {
        "listing": row_json(row, _COLUMNS),
        "children": children,
        "errors": [row_json(e) for e in found],
    }


def promote(call: Call) -> Any:
    """Queue a ``promote`` job: not available yet (promotion is its own issue)."""
    raise Problem(
        501,
        "promotion to production is not implemented yet: POST /staging/promote will queue a "
        "promote job once the promote job type exists; nothing was queued",
    )


_DETAIL = {
    "type": "object",
    "required": ["listing", "children", "errors"],
    "properties": {
        "listing": LISTING,
        "children": {"type": "object"},
        "errors": {"type": "array", "items": ERROR},
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
        "Queue a promotion (not implemented: 501)",
        "staging",
        role="admin",
        body=_PROMOTE,
        response={"type": "object"},
        status=202,
        errors=(413, 422, 501),
    ),
]
