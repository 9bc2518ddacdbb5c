"""Queue routes: list, enqueue, process a batch, retry, dead letters."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from pipeline_core.api.endpoints import Call, Endpoint
from pipeline_core.api.problems import Problem, field_problem
from pipeline_core.api.routes.audit import audit
from pipeline_core.api.rows import acting_dmo, dmo_scope, not_found, page, row_json
from pipeline_core.api.schemas import AFTER, ID, QUEUE_JOB, SLUG, limit_param, page_of
from pipeline_core.db.tables import files, queue
from pipeline_core.exceptions import InvalidJobError, QueueError
from pipeline_core.operations.jobs import JobFilter, job_rows
from pipeline_core.operations.queueing import UnknownJobType, enqueue_job, process_queue

STATES = ["queued", "running", "completed", "failed"]


def _job_json(row: Any) -> dict[str, Any]:
    return row_json(row._mapping)


def _list(call: Call, dead: bool) -> dict[str, Any]:
    q = call.query
    dmo = q.get("dmo")
    if call.dmo is not None and dmo not in (None, call.dmo):
        return page([], q["limit"])
    where = JobFilter(
        status=q.get("state"),
        dead=dead,
        type=q.get("type"),
        source=q.get("source"),
        dmo=call.dmo or dmo,
    )
    rows = job_rows(call.state.engine, where, after=q.get("after"), limit=q["limit"] + 1)
    return page([_job_json(r) for r in rows], q["limit"])


def list_queue(call: Call) -> dict[str, Any]:
    """Jobs of the queue, newest first (keyset: ``after`` is the last id seen)."""
    return _list(call, dead=False)


def list_dead_letters(call: Call) -> dict[str, Any]:
    """Dead-lettered jobs, newest first."""
    return _list(call, dead=True)


def _run_after(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, int | float):
        return datetime.now(UTC) + timedelta(seconds=float(value))
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise field_problem(
            422, "body", "run_after", f"{value!r} is neither seconds from now nor an ISO 8601 time"
        ) from None
    if moment.tzinfo is None:
        raise field_problem(422, "body", "run_after", "an ISO 8601 time needs its offset (Z)")
    return moment.astimezone(UTC)


def _check_payload(call: Call, payload: dict[str, Any]) -> None:
    """A scoped key may only name its own DMO's sources and files in a payload."""
    if call.dmo is None:
        return
    from pipeline_core.api.rows import dmo_sources

    with call.state.engine.connect() as conn:
        mine = set(dmo_sources(call, conn, call.dmo))
        source = payload.get("source")
        if source is not None and source not in mine:
            raise field_problem(422, "body", "payload.source", f"no source named {source!r}")
        file_id = payload.get("file_id")
        if file_id is not None:
            owner = conn.execute(sa.select(files.c.source).where(files.c.id == file_id)).scalar()
            if owner not in mine:
                raise field_problem(422, "body", "payload.file_id", f"no file {file_id}")


def add_job(call: Call) -> Any:
    """Queue a job (the fields and checks of ``dmo-pipeline queue add``)."""
    body = call.body
    dmo = acting_dmo(call, body.get("dmo"))
    _check_payload(call, body.get("payload", {}))
    try:
        job_id = enqueue_job(
            call.state.engine,
            call.state.plugin_manager(),
            body["type"],
            body.get("payload", {}),
            dmo=dmo,
            priority=body.get("priority", 0),
            run_after=_run_after(body.get("run_after")),
            dedup_key=body.get("dedup_key"),
            sources=call.state.sources(),
        )
    except UnknownJobType as exc:
        raise field_problem(422, "body", "type", str(exc)) from None
    except InvalidJobError as exc:
        raise field_problem(422, "body", exc.option, exc.problem) from None
    if job_id is None:
        raise Problem(
            409, f"not queued: a job with dedup key {body.get('dedup_key')!r} is already queued"
        )
    with call.state.engine.connect() as conn:
        row = conn.execute(sa.select(queue).where(queue.c.id == job_id)).one()
    audit(call, call.state.engine, "job.queued", job_id, dmo=dmo, after=_job_json(row))
    return _job_json(row)


def process(call: Call) -> dict[str, Any]:
    """Process due jobs within a time budget; what ran and how each ended."""
    budget = call.body.get("budget_seconds", 10)
    limit = call.state.settings.api_process_timeout
    if budget > limit:
        raise field_problem(
            422,
            "body",
            "budget_seconds",
            f"{budget} is over PIPELINE_API_PROCESS_TIMEOUT ({limit:g})",
        )
    result = process_queue(
        call.state.engine,
        call.state.plugin_manager(),
        budget=budget,
        batch_size=call.body.get("batch_size", 1),
        dmo=call.dmo,
    )
    answer = {
        "counts": result.counts,
        "jobs": result.jobs,
        "seconds": result.seconds,
        "idle": result.idle,
    }
    audit(call, call.state.engine, "queue.processed", None, dmo=call.dmo, after=answer)
    return answer


def retry(call: Call) -> Any:
    """Queue a failed (dead-lettered) job again, with a fresh budget of attempts."""
    from pipeline_core.queue.runner import max_attempts_of
    from pipeline_core.queue.store import retry_job

    job_id = call.path["id"]
    with call.state.engine.connect() as conn:
        row = conn.execute(
            sa.select(queue.c.type).where(queue.c.id == job_id, dmo_scope(call, queue.c.dmo))
        ).first()
    if row is None:
        raise not_found("job", job_id)
    pm = call.state.plugin_manager()
    budget = max(1, max_attempts_of(pm.job_types(), row.type, pm.settings))
    try:
        updated = retry_job(call.state.engine, job_id, pm.settings, budget)
    except QueueError as exc:
        raise Problem(409, str(exc)) from None
    audit(call, call.state.engine, "job.retried", job_id, dmo=updated.dmo, after=_job_json(updated))
    return _job_json(updated)


_FILTERS: dict[str, dict[str, Any]] = {
    "state": {"enum": STATES},
    "type": SLUG,
    "source": SLUG,
    "dmo": SLUG,
    "after": AFTER,
    "limit": limit_param(),
}
_ENQUEUE = {
    "type": "object",
    "required": ["type"],
    "additionalProperties": False,
    "properties": {
        "type": SLUG,
        "payload": {"type": "object", "maxProperties": 50},
        "priority": {"type": "integer", "minimum": -1000, "maximum": 1000},
        "run_after": {
            "oneOf": [
                {"type": "number", "minimum": 0, "maximum": 31_536_000},
                {"type": "string", "format": "date-time", "maxLength": 40},
            ]
        },
        "dedup_key": {"type": "string", "minLength": 1, "maxLength": 300},
        "dmo": SLUG,
    },
}
_PROCESS = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "budget_seconds": {"type": "number", "exclusiveMinimum": 0, "maximum": 3600},
        "batch_size": {"type": "integer", "minimum": 1, "maximum": 100},
    },
}
_PROCESSED = {
    "type": "object",
    "required": ["counts", "jobs", "seconds", "idle"],
    "properties": {
        "counts": {"type": "object"},
        "jobs": {"type": "array", "items": {"type": "object"}},
        "seconds": {"type": "number"},
        "idle": {"type": "boolean"},
    },
}

ENDPOINTS = [
    Endpoint(
        "GET",
        "/queue",
        list_queue,
        "List jobs of the queue",
        "queue",
        query=_FILTERS,
        response=page_of(QUEUE_JOB),
    ),
    Endpoint(
        "POST",
        "/queue",
        add_job,
        "Queue a job",
        "queue",
        role="operator",
        body=_ENQUEUE,
        response=QUEUE_JOB,
        status=201,
        errors=(403, 409, 413, 422),
    ),
    Endpoint(
        "POST",
        "/queue/process",
        process,
        "Process due jobs within a time budget",
        "queue",
        role="operator",
        body=_PROCESS,
        response=_PROCESSED,
        errors=(413, 422),
    ),
    Endpoint(
        "POST",
        "/queue/{id}/retry",
        retry,
        "Retry a dead-lettered job",
        "queue",
        role="operator",
        path_params={"id": ID},
        response=QUEUE_JOB,
        errors=(404, 409),
    ),
    Endpoint(
        "GET",
        "/queue/dead",
        list_dead_letters,
        "List dead-lettered jobs",
        "queue",
        query={k: v for k, v in _FILTERS.items() if k != "state"},
        response=page_of(QUEUE_JOB),
    ),
]
