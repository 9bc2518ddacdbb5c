"""Finishing a batch of attempts in one transaction: completed, retried or dead-lettered.

For each outcome the job's row is updated only while the worker still holds it (same
``lease_owner`` and ``attempts``); an outcome whose lease was rescued is dropped and
counted as stale. Completed jobs get one statement for the batch; their next jobs are
enqueued in the same transaction with the parent's ``correlation_id`` and ``dmo``. Every
attempt gets a ``pipeline.jobs`` row; every failed attempt a ``pipeline.errors`` row.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from pipeline_core.config import Settings
from pipeline_core.db.engine import write_transaction
from pipeline_core.db.tables import errors, jobs, queue
from pipeline_core.jobtypes import JobType
from pipeline_core.metrics import observe_outcomes
from pipeline_core.queue.backoff import retry_delay
from pipeline_core.queue.enqueue import announce, enqueue
from pipeline_core.queue.events import job_event, record
from pipeline_core.queue.failures import error_row
from pipeline_core.queue.job import FinishCounts, Outcome
from pipeline_core.queue.runner import max_attempts_of
from pipeline_core.queue.store import count_released, held_by, later_expr, now_expr, release_held

logger = logging.getLogger(__name__)

#: Longest error text kept in ``pipeline.queue.last_error`` and ``pipeline.jobs.error``.
ERROR_CHARS = 4000


def _attempt_row(outcome: Outcome) -> dict[str, Any]:
    job = outcome.job
    return {
        "queue_id": job.id,
        "attempt": job.attempt,
        "worker": job.owner,
        "status": "completed" if outcome.ok else "failed",
        "started_at": outcome.started_at,
        "finished_at": outcome.finished_at,
        "duration_ms": outcome.duration_ms,
        "stats": outcome.stats if outcome.ok else None,
        "error": None if outcome.ok else (outcome.error or "")[:ERROR_CHARS],
    }


def _event(outcome: Outcome, requeued: list[int]) -> dict[str, Any]:
    """The job event of a kept outcome: completed, failed (queued again) or dead-lettered."""
    job = outcome.job
    timings: dict[str, Any] = {
        "started_at": outcome.started_at,
        "finished_at": outcome.finished_at,
        "duration_ms": outcome.duration_ms,
    }
    if outcome.ok:
        return job_event("completed", job, **timings)
    error = (outcome.error or "")[:ERROR_CHARS]
    if job.id not in requeued:
        return job_event("dead_lettered", job, error=error, **timings)
    return job_event("failed", job, error=error, retry_in_s=outcome.retry_in, **timings)


def finish(
    engine: sa.Engine,
    outcomes: Sequence[Outcome],
    settings: Settings,
    job_types: Mapping[str, JobType] | None = None,
) -> FinishCounts:
    """Record ``outcomes`` in one transaction and return what happened.

    A next job gets the attempts of its type in ``job_types`` (its ``max_attempts``, else
    ``PIPELINE_MAX_RETRIES``), as ``queue add`` gives them.

    A failed attempt with attempts left is queued again after :func:`retry_delay`; the
    last attempt (or a permanent failure) is dead-lettered: status ``failed``,
    ``dead_lettered`` true, listed in ``counts.dead`` for the ``job_failed`` hook, which
    the caller fires after this returns (the transaction has committed by then).
    """
    counts = FinishCounts()
    if not outcomes:
        return counts
    with write_transaction(engine) as conn:
        kept: list[Outcome] = []
        done = [o for o in outcomes if o.ok]
        for owner in {o.job.owner for o in done}:
            group = [o for o in done if o.job.owner == owner]
            owned = set(
                conn.execute(
                    sa.update(queue)
                    .where(held_by(owner, ((o.job.id, o.job.attempt) for o in group)))
                    .values(
                        status="completed",
                        lease_owner=None,
                        lease_expires_at=None,
                        last_error=None,
                        finished_at=now_expr(conn),
                        updated_at=now_expr(conn),
                    )
                    .returning(queue.c.id)
                ).scalars()
            )
            for outcome in group:
                if outcome.job.id in owned:
                    kept.append(outcome)
                    counts.completed += 1
                    counts.next_jobs += _enqueue_next(conn, outcome, settings, job_types or {})
        error_rows: list[dict[str, Any]] = []
        requeued: list[int] = []
        for outcome in outcomes:
            if not outcome.ok and _fail(conn, outcome, settings, counts, requeued):
                kept.append(outcome)
                error_rows.append(
                    error_row(
                        outcome.job,
                        outcome.error or "",
                        outcome.traceback,
                        source=outcome.source,
                        external_id=outcome.external_id,
                        field=outcome.field,
                    )
                )
        counts.stale = len(outcomes) - len(kept)
        if kept:
            conn.execute(sa.insert(jobs), [_attempt_row(o) for o in kept])
            record(conn, [_event(o, requeued) for o in kept])
        if error_rows:
            conn.execute(sa.insert(errors), error_rows)
        announce(conn, requeued, settings=settings)
    observe_outcomes(kept, [letter.job["type"] for letter in counts.dead])
    if counts.stale:
        logger.warning(
            "%d finished job(s) were no longer held by this worker (lease expired and "
            "rescued); their outcome was dropped",
            counts.stale,
        )
    return counts


def _enqueue_next(
    conn: sa.Connection,
    outcome: Outcome,
    settings: Settings,
    job_types: Mapping[str, JobType],
) -> int:
    job, queued = outcome.job, 0
    for nxt in outcome.next_jobs:
        job_id = enqueue(
            conn,
            nxt.type,
            nxt.payload,
            settings=settings,
            dmo=nxt.dmo if nxt.dmo is not None else job.dmo,
            dedup_key=nxt.dedup_key,
            priority=nxt.priority,
            max_attempts=max_attempts_of(job_types, nxt.type, settings),
            correlation_id=job.correlation_id,
        )
        queued += job_id is not None
    return queued


def _fail(
    conn: sa.Connection,
    outcome: Outcome,
    settings: Settings,
    counts: FinishCounts,
    requeued: list[int],
) -> bool:
    """Retry or dead-letter one failed attempt; False when the job is no longer held."""
    job = outcome.job
    message = (outcome.error or "")[:ERROR_CHARS]
    dead = outcome.permanent or job.attempt >= job.max_attempts
    delay = 0.0 if dead else retry_delay(job.attempt, settings)
    run_after = None if dead else later_expr(conn, delay)
    if not release_held(conn, job, message, dead=dead, run_after=run_after):
        return False
    outcome.retry_in = None if dead else round(delay, 3)
    count_released(job, message, dead, counts, requeued)
    if dead:
        named = job.payload.get("source") if isinstance(job.payload, dict) else None
        source = outcome.source or named or "-"
        logger.error(
            "job %d (%s, source %s) dead-lettered after attempt %d of %d: %s",
            job.id,
            job.type,
            source,
            job.attempt,
            job.max_attempts,
            message,
        )
    else:
        logger.warning(
            "job %d (%s) attempt %d of %d failed, retry in %.3g s: %s",
            job.id,
            job.type,
            job.attempt,
            job.max_attempts,
            delay,
            message,
        )
    return True
