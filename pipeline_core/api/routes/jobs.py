"""Job routes: the queue's jobs with their attempts, errors and next jobs."""

from __future__ import annotations

from typing import Any

from pipeline_core.api.endpoints import Call, Endpoint
from pipeline_core.api.rows import not_found, page, row_json
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
from pipeline_core.exceptions import QueueError
from pipeline_core.operations.jobs import JobFilter, job_detail, list_attempts


def list_jobs(call: Call) -> dict[str, Any]:
    """Attempts of jobs (``pipeline.jobs``), newest first."""
    q = call.query
    rows = list_attempts(
        call.state.engine,
        JobFilter(status=q.get("status"), type=q.get("type"), dmo=call.dmo),
        queue_id=q.get("queue_id"),
        after=q.get("after"),
        limit=q["limit"] + 1,
    )
    return page([row_json(r._mapping) for r in rows], q["limit"])


def get_job(call: Call) -> dict[str, Any]:
    """One job: its queue row, attempts, errors and the jobs it queued next."""
    job_id = call.path["id"]
    try:
        detail = job_detail(call.state.engine, job_id, dmo=call.dmo, limit=100)
    except QueueError:
        raise not_found("job", job_id) from None
    return {
        "job": row_json(detail.job._mapping),
        "attempts": [row_json(a._mapping) for a in detail.attempts],
        "errors": [row_json(e._mapping) for e in detail.errors],
        "next_jobs": [dict(n._mapping) for n in detail.next_jobs],
        "correlation_id": detail.job.correlation_id,
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
