"""Job events: one ``pipeline.job_events`` row per change of a job's state, written in the
transaction that makes the change, so the feed can never show a change that was rolled back
nor miss one that was committed.

States: ``queued`` (a new job, or one given back or retried by hand), ``running`` (claimed;
``attempt`` is the claim's), ``completed``, ``failed`` (the attempt failed and the job is
queued again after ``detail.retry_in_s``) and ``dead_lettered`` (failed for good).

On PostgreSQL the same transaction sends ``NOTIFY`` on :data:`EVENTS_CHANNEL` (every event)
and, when a job became due now, on :data:`QUEUED_CHANNEL`; PostgreSQL delivers both at
commit. API processes listen on the first (:mod:`pipeline_core.api.events`), idle workers
on the second (:class:`~pipeline_core.queue.wakeup.QueuedListener`). SQLite has no
notifications: its readers poll.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from pipeline_core.db.tables import fit_text, job_events

#: Channel notified (on PostgreSQL) at the commit of every transaction that wrote events.
EVENTS_CHANNEL = "dmo_pipeline_events"
#: Channel notified when a job became queued and due now: idle workers wake on it.
QUEUED_CHANNEL = "dmo_pipeline_queued"
STATES = ("queued", "running", "completed", "failed", "dead_lettered")
#: Longest error text an event carries (the job's row and attempts keep the whole).
EVENT_ERROR_CHARS = 500


def _iso(value: Any) -> Any:
    if isinstance(value, datetime):
        moment = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return moment.isoformat()
    return value


def event_row(
    state: str,
    *,
    job_id: int,
    job_type: str,
    payload: Mapping[str, Any] | None,
    attempt: int,
    dmo: str | None,
    correlation_id: str | None,
    at: datetime | None = None,
    **detail: Any,
) -> dict[str, Any]:
    """The ``pipeline.job_events`` row of one change of job ``job_id`` to ``state``;
    ``detail`` holds its timings (datetimes are written as ISO 8601 text)."""
    source = payload.get("source") if isinstance(payload, Mapping) else None
    if "error" in detail and isinstance(detail["error"], str):
        detail["error"] = detail["error"][:EVENT_ERROR_CHARS]
    return {
        "job_id": job_id,
        "state": state,
        "type": job_type,
        "source": fit_text(job_events.c.source, source) if isinstance(source, str) else None,
        "dmo": dmo,
        "attempt": attempt,
        "correlation_id": correlation_id,
        "at": at or datetime.now(UTC),
        "detail": {name: _iso(value) for name, value in detail.items() if value is not None},
    }


def job_event(state: str, job: Any, at: datetime | None = None, **detail: Any) -> dict[str, Any]:
    """:func:`event_row` of a :class:`~pipeline_core.queue.job.ClaimedJob`."""
    return event_row(
        state,
        job_id=job.id,
        job_type=job.type,
        payload=job.payload,
        attempt=job.attempt,
        dmo=job.dmo,
        correlation_id=job.correlation_id,
        at=at,
        **detail,
    )


def row_event(state: str, row: Any, at: datetime | None = None, **detail: Any) -> dict[str, Any]:
    """:func:`event_row` of a ``pipeline.queue`` row."""
    return event_row(
        state,
        job_id=row.id,
        job_type=row.type,
        payload=row.payload,
        attempt=row.attempts,
        dmo=row.dmo,
        correlation_id=row.correlation_id,
        at=at,
        **detail,
    )


def record(conn: sa.Connection, rows: Sequence[dict[str, Any]], *, wake: bool = False) -> None:
    """Write event ``rows`` in ``conn``'s transaction; on PostgreSQL notify
    :data:`EVENTS_CHANNEL` (and :data:`QUEUED_CHANNEL` when ``wake``: a job is due now)."""
    if not rows:
        return
    conn.execute(sa.insert(job_events), list(rows))
    if conn.dialect.name == "postgresql":
        channels = [EVENTS_CHANNEL, QUEUED_CHANNEL] if wake else [EVENTS_CHANNEL]
        conn.execute(sa.select(*(sa.func.pg_notify(c, "") for c in channels)))


def prune(engine: sa.Engine, keep_hours: float) -> int:
    """Delete events older than ``keep_hours`` (``PIPELINE_EVENTS_KEEP_HOURS``); the count."""
    cutoff = datetime.now(UTC) - timedelta(hours=keep_hours)
    with engine.begin() as conn:
        return conn.execute(sa.delete(job_events).where(job_events.c.at < cutoff)).rowcount


def event_json(row: Any) -> dict[str, Any]:
    """An event as the WebSocket sends it."""
    return {
        "id": row.id,
        "job_id": row.job_id,
        "state": row.state,
        "type": row.type,
        "source": row.source,
        "dmo": row.dmo,
        "attempt": row.attempt,
        "correlation_id": row.correlation_id,
        "at": _iso(row.at),
        **(row.detail or {}),
    }


def read_after(engine: sa.Engine, after: int, limit: int = 1000) -> list[Any]:
    """Events with an id above ``after``, oldest first, at most ``limit`` (every DMO's: a
    reader needs every id to see the gaps that transactions still open will fill)."""
    query = sa.select(job_events).where(job_events.c.id > after)
    with engine.connect() as conn:
        return list(conn.execute(query.order_by(job_events.c.id).limit(limit)).all())


def newest_id(engine: sa.Engine) -> int:
    """The id of the newest event (0 when there is none)."""
    with engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.max(job_events.c.id))).scalar() or 0)
