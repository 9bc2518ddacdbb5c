"""Writing jobs to ``pipeline.queue``, and to the SQS outbox when queues are enabled."""

from __future__ import annotations

import inspect
import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from pipeline_core.config import Settings
from pipeline_core.db.tables import outbox, queue
from pipeline_core.exceptions import InvalidJobError, PermanentJobError
from pipeline_core.log_context import current_correlation_id
from pipeline_core.queue.events import event_row, record

if TYPE_CHECKING:
    from pipeline_core.jobtypes import JobType
    from pipeline_core.sources import Source

#: Range of the queue's integer columns (``priority``, ``max_attempts``): PostgreSQL's
#: ``integer``, checked on SQLite too so both databases refuse the same values.
INT_MIN, INT_MAX = -(2**31), 2**31 - 1


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


def _text_option(name: str, value: str | None) -> None:
    """A text option fits its ``pipeline.queue`` column and holds no NUL character."""
    if value is None:
        return
    if not isinstance(value, str):
        raise InvalidJobError(name, f"must be text, got {type(value).__name__}")
    length: int | None = getattr(queue.c[name].type, "length", None)
    if length is not None and len(value) > length:
        raise InvalidJobError(name, f"{len(value)} characters, at most {length}")
    if "\x00" in value:
        raise InvalidJobError(name, "holds a NUL character (\\u0000)")
    if name != "correlation_id" and not value.strip():
        raise InvalidJobError(name, "is empty")


def _int_option(name: str, value: int | None, low: int = INT_MIN) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidJobError(name, f"must be a whole number, got {value!r}")
    if not low <= value <= INT_MAX:
        raise InvalidJobError(name, f"{value} is out of range ({low} to {INT_MAX})")


def _payload_problem(value: Any, path: str, depth: int = 0) -> str | None:
    """Where ``value`` cannot be stored as a job payload on every database: a NUL
    character (PostgreSQL's jsonb refuses it), a number out of JSON's range, a key that is
    not text. ``None`` when it can."""
    if depth > 64:
        return f"{path}: nested more than 64 deep"
    if isinstance(value, str):
        return f"{path}: holds a NUL character (\\u0000)" if "\x00" in value else None
    if isinstance(value, bool) or value is None or isinstance(value, float):
        return None
    if isinstance(value, int):
        return None if -(2**63) <= value < 2**64 else f"{path}: {value} is too large a number"
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                return f"{path}: key {key!r} is not text"
            if "\x00" in key:
                return f"{path}: key {key!r} holds a NUL character (\\u0000)"
            problem = _payload_problem(item, f"{path}.{key}", depth + 1)
            if problem:
                return problem
        return None
    if isinstance(value, list | tuple):
        for index, item in enumerate(value):
            problem = _payload_problem(item, f"{path}[{index}]", depth + 1)
            if problem:
                return problem
        return None
    return f"{path}: {type(value).__name__} is not a JSON value"


def check_options(
    job_type: str,
    payload: Any,
    *,
    dmo: str | None = None,
    dedup_key: str | None = None,
    priority: int = 0,
    max_attempts: int | None = None,
    correlation_id: str | None = None,
    run_after: datetime | None = None,
) -> None:
    """Refuse a job whose options cannot be stored, with an :class:`InvalidJobError` naming
    the option: the same on SQLite and PostgreSQL (lengths of the ``pipeline.queue``
    columns, 32-bit integers, no NUL character anywhere, a JSON object as payload)."""
    _text_option("type", job_type)
    if not isinstance(payload, Mapping):
        raise InvalidJobError(
            "payload", f"must be a JSON object ({{...}}), got {type(payload).__name__}"
        )
    problem = _payload_problem(payload, "payload")
    if problem:
        raise InvalidJobError("payload", problem.removeprefix("payload: "))
    _text_option("dmo", dmo)
    _text_option("dedup_key", dedup_key)
    _text_option("correlation_id", correlation_id)
    _int_option("priority", priority)
    _int_option("max_attempts", max_attempts, low=1)
    if run_after is not None and run_after.tzinfo is None:
        raise InvalidJobError("run_after", "needs a time zone (UTC if in doubt)")


def add_job(
    conn: sa.Connection,
    job_types: Mapping[str, JobType],
    job_type: str,
    payload: Any,
    *,
    settings: Settings,
    dmo: str | None = None,
    dedup_key: str | None = None,
    priority: int = 0,
    run_after: datetime | None = None,
    sources: Mapping[str, Source] | None = None,
) -> int | None:
    """Queue a job asked for from outside (``queue add``, the API): the type must be
    registered, the options storable (:func:`check_options`) and the payload one that can
    work (the type's ``check``: a scrape of a registered source, a transform of a raw file
    that exists). A scrape due now records the schedule slot it falls in, so the scheduler
    does not scrape the source again in that slot. Refusals raise
    :class:`InvalidJobError` naming the option; nothing is written. A job whose payload names
    a registered source and that is given no ``dmo`` gets the source's. Returns the job's id,
    or ``None`` as :func:`enqueue` does. ``sources``: the registered sources, when the
    caller has them (else a plugin manager is built, once, when a check needs them)."""
    from pipeline_core.queue.runner import max_attempts_of

    built: list[Mapping[str, Source]] = [] if sources is None else [sources]

    def registered() -> Mapping[str, Source]:
        if not built:
            from pipeline_core.plugins import get_plugin_manager

            built.append(get_plugin_manager(settings).sources())
        return built[0]

    found = job_types.get(job_type)
    if found is None:
        known = ", ".join(sorted(job_types)) or "none"
        raise InvalidJobError("type", f"no job type {job_type!r}; registered: {known}")
    check_options(
        job_type, payload, dmo=dmo, dedup_key=dedup_key, priority=priority, run_after=run_after
    )
    if found.check is not None:
        try:
            if "sources" in inspect.signature(found.check).parameters:
                found.check(payload, conn, settings, sources=registered())
            else:
                found.check(payload, conn, settings)
        except PermanentJobError as exc:
            raise InvalidJobError("payload", str(exc)) from None
    if dmo is None and isinstance(payload.get("source"), str):
        # A job for a source belongs to the source's DMO when the caller names none, as the
        # scheduler's jobs do: its logs, events and DMO-scoped keys see it.
        named = registered().get(payload["source"])
        dmo = named.dmo if named is not None else None
    job_id = enqueue(
        conn,
        job_type,
        payload,
        settings=settings,
        dmo=dmo,
        dedup_key=dedup_key,
        priority=priority,
        run_after=run_after,
        max_attempts=max_attempts_of(job_types, job_type, settings),
    )
    if job_id is not None and job_type == "scrape" and run_after is None:
        # A scrape queued by hand counts for the schedule slot it falls in.
        from pipeline_core.queue.slots import record_manual_slot

        source = registered().get(payload["source"])
        if source is not None:
            record_manual_slot(conn, source, job_id)
    return job_id


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
    ``PIPELINE_MAX_RETRIES``; ``correlation_id`` to the one of the request or job this
    runs for (:mod:`pipeline_core.log_context`), else a new UUID (a chain of jobs passes
    its own on). Higher ``priority`` runs first. With ``PIPELINE_ENABLE_QUEUES`` an outbox
    row is written in the same transaction (:func:`announce`); the relay announces it on
    SQS. A ``queued`` job event is recorded (:mod:`~pipeline_core.queue.events`). Options
    that cannot be stored raise :class:`InvalidJobError`
    (:func:`check_options`).
    """
    check_options(
        job_type,
        payload,
        dmo=dmo,
        dedup_key=dedup_key,
        priority=priority,
        max_attempts=max_attempts,
        correlation_id=correlation_id,
        run_after=run_after,
    )
    values: dict[str, Any] = {
        "type": job_type,
        "payload": dict(payload),
        "dmo": dmo,
        "dedup_key": dedup_key,
        "priority": priority,
        "max_attempts": settings.max_retries if max_attempts is None else max_attempts,
        # a job queued while a request or job runs joins its chain (its correlation id)
        "correlation_id": correlation_id or current_correlation_id() or uuid.uuid4().hex,
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
        now = datetime.now(UTC)
        event = event_row(
            "queued",
            job_id=job_id,
            job_type=job_type,
            payload=payload,
            attempt=0,
            dmo=dmo,
            correlation_id=values["correlation_id"],
            at=now,
            run_after=run_after,
        )
        record(conn, [event], wake=run_after is None or run_after <= now)
    return job_id
