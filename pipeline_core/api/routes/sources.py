"""Sources, errors and health."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from pipeline_core.api.endpoints import Call, Endpoint
from pipeline_core.api.rows import dmo_sources, page, row_json
from pipeline_core.api.schemas import AFTER, ERROR, ID, SLUG, TIME, limit_param, page_of
from pipeline_core.db.tables import crawls, sources
from pipeline_core.operations.history import list_errors as list_error_rows


def list_sources(call: Call) -> dict[str, Any]:
    """Every source the key may see: where it is defined, its last crawl and that crawl's
    stats, and its quality (the average and lowest score of its active listings and the
    rules that lose the most points; null when none was scored)."""
    from pipeline_core.quality.store import source_quality

    found = call.state.sources()
    with call.state.engine.connect() as conn:
        rows = {r["name"]: r for r in conn.execute(sa.select(sources)).mappings()}
        last_ids = [r["last_crawl_id"] for r in rows.values() if r["last_crawl_id"]]
        last = (
            {
                r["id"]: r
                for r in conn.execute(sa.select(crawls).where(crawls.c.id.in_(last_ids))).mappings()
            }
            if last_ids
            else {}
        )
        quality = {q.source: q.as_dict() for q in source_quality(conn)}
    items = []
    for name, source in found.items():
        if call.dmo is not None and source.dmo != call.dmo:
            continue
        row = rows.get(name)
        crawl = last.get(row["last_crawl_id"]) if row is not None else None
        items.append(
            {
                "name": name,
                "dmo": source.dmo,
                "fetcher": source.fetcher,
                "origin": source.origin,
                "scrape_frequency": source.scrape_frequency,
                "last_crawl": row_json(crawl) if crawl is not None else None,
                "quality": _quality(quality.get(name)),
            }
        )
    return {"items": items}


def _quality(summary: dict[str, Any] | None) -> dict[str, Any] | None:
    if summary is None:
        return None
    return {k: v for k, v in summary.items() if k not in ("source", "dmo")}


def list_errors(call: Call) -> dict[str, Any]:
    """Error rows, newest first: filters source, job, stage, since."""
    q = call.query
    scope = None
    if call.dmo is not None:
        with call.state.engine.connect() as conn:
            scope = dmo_sources(call, conn, call.dmo)
    rows = list_error_rows(
        call.state.engine,
        source=q.get("source"),
        job_id=q.get("job"),
        stage=q.get("stage"),
        since=datetime.fromisoformat(q["since"]) if q.get("since") else None,
        after=q.get("after"),
        sources=scope,
        limit=q["limit"] + 1,
    )
    return page([row_json(r._mapping) for r in rows], q["limit"])


def health(call: Call) -> dict[str, Any]:
    """Up or down (the database answers); says nothing else."""
    try:
        with call.state.engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except sa.exc.SQLAlchemyError:
        from pipeline_core.api.problems import Problem

        raise Problem(503, "down") from None
    return {"status": "up"}


_SOURCE = {
    "type": "object",
    "required": ["name", "dmo", "fetcher", "origin", "last_crawl", "quality"],
    "properties": {
        "name": {"type": "string"},
        "dmo": {"type": "string"},
        "fetcher": {"type": "string"},
        "origin": {"type": "string"},
        "scrape_frequency": {"type": "string"},
        "last_crawl": {"type": ["object", "null"]},
        "quality": {
            "type": ["object", "null"],
            "required": ["listings", "average", "lowest", "worst_rules"],
            "properties": {
                "listings": {"type": "integer"},
                "average": {"type": "number"},
                "lowest": {"type": "integer"},
                "worst_rules": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["rule", "points_lost"],
                        "properties": {
                            "rule": {"type": "string"},
                            "points_lost": {"type": "number"},
                        },
                    },
                },
            },
        },
    },
}

ENDPOINTS = [
    Endpoint(
        "GET",
        "/sources",
        list_sources,
        "List sources with their last crawl",
        "sources",
        response={
            "type": "object",
            "required": ["items"],
            "properties": {"items": {"type": "array", "items": _SOURCE}},
        },
    ),
    Endpoint(
        "GET",
        "/errors",
        list_errors,
        "List error rows",
        "errors",
        query={
            "source": SLUG,
            "job": ID,
            "stage": SLUG,
            "since": TIME,
            "after": AFTER,
            "limit": limit_param(),
        },
        response=page_of(ERROR),
    ),
    Endpoint(
        "GET",
        "/health",
        health,
        "Up or down",
        "",
        role=None,
        absolute=True,
        response={
            "type": "object",
            "required": ["status"],
            "properties": {"status": {"enum": ["up"]}},
        },
        errors=(503,),
    ),
]
