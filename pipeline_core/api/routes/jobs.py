"""Job routes: the queue's jobs with their attempts, errors and next jobs."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from pipeline_core.api.endpoints import Call, Endpoint
from pipeline_core.api.rows import dmo_scope, not_found, page, row_json
from pipeline_core.api.schemas import (
    AFTER,
    ATTEMPT,
    ERROR,
    ID,
    QUEUE_JOB,
    SLUG,
    limit_param,
    page_of,
)
from pipeline_core.db.tables import errors, jobs, queue


def list_jobs(call: Call) -> dict[str, Any]:
    """Attempts of jobs (``pipeline.jobs``), newest first."""
    q = call.query
    query = (
        sa.select(jobs)
        .join(queue, queue.c.id == jobs.c.queue_id)
        .where(dmo_scope(call, queue.c.dmo))
    )
    if q.get("status"):
        query = query.where(jobs.c.status == q["status"])
    if q.get("type"):
        query = query.where(queue.c.type == q["type"])
    if q.get("queue_id"):
        query = query.where(jobs.c.queue_id == q["queue_id"])
    if q.get("after"):
        query = query.where(jobs.c.id < q["after"])
    query = query.order_by(jobs.c.id.desc()).limit(q["limit"] + 1)
    with call.state.engine.connect() as conn:
        rows = conn.execute(query).mappings().all()
    return page([row_json(r) for r in rows], q["limit"])


def get_job(call: Call) -> dict[str, Any]:
    """One job: its queue row, attempts, errors and the jobs it queued next."""
    job_id = call.path["id"]
    with call.state.engine.connect() as conn:
        row = (
            conn.execute(sa.select(queue).where(queue.c.id == job_id, dmo_scope(call, queue.c.dmo)))
            .mappings()
            .first()
        )
        if row is None:
            raise not_found("job", job_id)
        attempts = (
            conn.execute(sa.select(jobs).where(jobs.c.queue_id == job_id).order_by(jobs.c.attempt))
            .mappings()
            .all()
        )
        found = (
            conn.execute(
                sa.select(errors).where(errors.c.job_id == job_id).order_by(errors.c.id).limit(100)
            )
            .mappings()
            .all()
        )
        following: list[Any] = []
        if row["correlation_id"]:
            following = list(
                conn.execute(
                    sa.select(queue.c.id, queue.c.type, queue.c.status)
                    .where(
                        queue.c.correlation_id == row["correlation_id"],
                        queue.c.id > job_id,
                        dmo_scope(call, queue.c.dmo),
                    )
                    .order_by(queue.c.id)
                    .limit(100)
                ).mappings()
            )
    return {
        "job": row_json(row),
        "attempts": [row_json(a) for a in attempts],
        "errors": [row_json(e) for e in found],
        "next_jobs": [dict(n) for n in following],
        "correlation_id": row["correlation_id"],
    }


_JOB_DETAIL = {
    "type": "object",
    "required": ["job", "attempts", "errors", "next_jobs", "correlation_id"],
    "properties": {
        "job": QUEUE_JOB,
        "attempts": {"type": "array", "items": ATTEMPT},
        "errors": {"type": "array", "items": ERROR},
        "next_jobs": {"type": "array", "items": {"type": "object"}},
        "correlation_id": {"type": ["string", "null"]},
    },
}

ENDPOINTS = [
    Endpoint(
        "GET",
        "/jobs",
        list_jobs,
        "List job attempts",
        "jobs",
        query={
            "status": SLUG,
            "type": SLUG,
            "queue_id": ID,
            "after": AFTER,
            "limit": limit_param(),
        },
        response=page_of(ATTEMPT),
    ),
    Endpoint(
        "GET",
        "/jobs/{id}",
        get_job,
        "A job with its attempts, errors and next jobs",
        "jobs",
        path_params={"id": ID},
        response=_JOB_DETAIL,
        errors=(404,),
    ),
]
