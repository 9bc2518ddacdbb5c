"""Writing jobs to ``pipeline.queue``, and to the SQS outbox when queues are enabled."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from pipeline_core.config import Settings
from pipeline_core.db.tables import outbox, queue


def announce(conn: sa.Connection, job_id: int | Iterable[int], *, settings: Settings) -> int:
    """Write an outbox row for each job that became ``queued`` (inside the caller's
    transaction), when ``PIPELINE_ENABLE_QUEUES`` is on; the relay announces them on SQS.

    Every path that makes a job ``queued`` calls it: enqueue, retry after a failure,
    rescue of an expired lease, release on shutdown and retry by hand. Returns the rows
    written (0 with queues off).
    """
    if not settings.enable_queues:
        return 0
    ids = [job_id] if isinstance(job_id, int) else list(job_id)
    if ids:
        # A time to the microsecond: with the row id it names this announcement (the
        # FIFO deduplication id), even where SQLite reuses the id of a deleted row.
        now = datetime.now(UTC)
        conn.execute(sa.insert(outbox), [{"queue_id": i, "created_at": now} for i in ids])
    return len(ids)


def enqueue(
    conn: sa.Connection,
    job_type: str,
    payload: Mapping[str, Any],
    *,
    settings: Settings,
    dmo: str | None = None,
    dedup_key: str | None = None,
    priority: int = 0,
    run_after: datetime | None = None,
    max_attempts: int | None = None,
    correlation_id: str | None = None,
) -> int | None:
    """Queue one job inside the caller's transaction and return its id.

    Returns ``None`` when a job with the same ``dedup_key`` is already queued (at most one
    queued job per key, e.g. one queued scrape per source). ``max_attempts`` defaults to
    ``PIPELINE_MAX_RETRIES``; ``correlation_id`` to a new UUID (a chain of jobs passes
    its own on). Higher ``priority`` runs first. With ``PIPELINE_ENABLE_QUEUES`` an outbox
    row is written in the same transaction (:func:`announce`); the relay announces it on
    SQS.
    """
    values: dict[str, Any] = {
        "type": job_type,
        "payload": dict(payload),
        "dmo": dmo,
        "dedup_key": dedup_key,
        "priority": priority,
        "max_attempts": settings.max_retries if max_attempts is None else max_attempts,
        "correlation_id": correlation_id or uuid.uuid4().hex,
    }
    if run_after is not None:
        values["run_after"] = run_after
    insert_of = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    stmt = insert_of(queue).values(**values)
    if dedup_key is not None:
        stmt = stmt.on_conflict_do_nothing(
            index_elements=[queue.c.dedup_key], index_where=queue.c.status == "queued"
        )
    job_id = conn.execute(stmt.returning(queue.c.id)).scalar()
    if job_id is not None:
        announce(conn, job_id, settings=settings)
    return job_id
