"""The database side of the queue: claim, heartbeat, release, rescue, list and retry by hand.

Every update of a held job is guarded by ``lease_owner`` **and** ``attempts``: a worker
whose lease expired and whose job was rescued (and perhaps claimed again) matches no row,
so it can never complete, fail, extend or release the job twice. Finishing jobs is in
:mod:`pipeline_core.queue.finish`.

Times are the database's (``now()``) on PostgreSQL, so workers on several machines agree on
lease expiry; SQLite (one machine) uses this process's UTC clock. Every write on SQLite
runs in a ``BEGIN IMMEDIATE`` transaction (:func:`~pipeline_core.db.engine.write_transaction`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from pipeline_core.config import Settings
from pipeline_core.db.engine import write_transaction
from pipeline_core.db.tables import errors, jobs, queue
from pipeline_core.exceptions import QueueError
from pipeline_core.metrics import observe_expired
from pipeline_core.queue.enqueue import announce
from pipeline_core.queue.events import job_event, record, row_event
from pipeline_core.queue.failures import error_row
from pipeline_core.queue.job import ClaimedJob, DeadLetter, FinishCounts

logger = logging.getLogger(__name__)

#: Rows a claim looks at per job it wants, so a DMO at its limit cannot fill the batch.
SCAN_FACTOR = 4
#: PostgreSQL advisory lock key taken by claims while a DMO limit is set.
CLAIM_LOCK_KEY = 0x646D6F71  # "dmoq"


def now_expr(conn: sa.Connection) -> sa.ColumnElement[datetime]:
    """The current time as SQL: the database's on PostgreSQL, this process's on SQLite."""
    if conn.dialect.name == "postgresql":
        return sa.func.now()
    return sa.literal(datetime.now(UTC), sa.DateTime(timezone=True))


def later_expr(conn: sa.Connection, seconds: float) -> sa.ColumnElement[datetime]:
    """``seconds`` from now, as SQL (see :func:`now_expr`)."""
    if conn.dialect.name == "postgresql":
        return sa.func.now() + sa.literal(timedelta(seconds=seconds), sa.Interval())
    return sa.literal(datetime.now(UTC) + timedelta(seconds=seconds), sa.DateTime(timezone=True))


def held_by(owner: str, pairs: Iterable[tuple[int, int]]) -> sa.ColumnElement[bool]:
    """Rows still held by ``owner`` at the given (id, attempts): the guard of every update."""
    return sa.and_(
        queue.c.status == "running",
        queue.c.lease_owner == owner,
        sa.tuple_(queue.c.id, queue.c.attempts).in_(list(pairs)),
    )


def requeue_held(conn: sa.Connection, job: ClaimedJob, values: dict[str, Any]) -> bool:
    """Set the held ``job`` back to ``queued`` with ``values``, in a savepoint of ``conn``'s
    transaction; False when the job is no longer held (the lease guard matched nothing).

    At most one queued job may hold a dedup key (``uq_queue_dedup_key_queued``). When
    another job with this job's key was queued while it ran (the scheduler's next scrape of
    the same source), this job gives up its key (``dedup_key`` set NULL) and is queued
    all the same: its retry is kept, and the index, the transaction and the other jobs of
    the batch are unharmed.
    """
    stmt = (
        sa.update(queue)
        .where(held_by(job.owner, [(job.id, job.attempt)]))
        .values(status="queued", **values)
        .returning(queue.c.id)
    )
    try:
        with conn.begin_nested():
            return conn.execute(stmt).scalar() is not None
    except sa.exc.IntegrityError:
        pass  # the dedup key is taken by a queued job; the savepoint was rolled back
    key = conn.execute(sa.select(queue.c.dedup_key).where(queue.c.id == job.id)).scalar()
    updated = conn.execute(stmt.values(dedup_key=None)).scalar() is not None
    if updated:
        logger.warning(
            "job %d (%s) gave up its dedup key %r: another job with that key is queued",
            job.id,
            job.type,
            key,
        )
    return updated


def _pick(
    conn: sa.Connection, limit: int, settings: Settings, ids: Sequence[int] | None
) -> sa.Select[Any]:
    """SELECT of the ids to claim: due queued jobs by priority, run_after and id, at most
    ``limit``, locked with SKIP LOCKED, and no DMO above ``PIPELINE_DMO_CONCURRENCY``."""
    now = now_expr(conn)
    due = [queue.c.status == "queued", queue.c.run_after <= now]
    if ids is not None:
        due.append(queue.c.id.in_(list(ids)))
    order = (queue.c.priority.desc(), queue.c.run_after, queue.c.id)
    cap = settings.dmo_concurrency
    if cap == 0:
        return (
            sa.select(queue.c.id)
            .where(*due)
            .order_by(*order)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    running = queue.alias("running")
    busy = (
        sa.select(running.c.dmo, sa.func.count().label("n"))
        .where(running.c.status == "running", running.c.dmo.is_not(None))
        .group_by(running.c.dmo)
        .cte("busy")
    )
    full = sa.select(busy.c.dmo).where(busy.c.n >= cap)
    locked = (
        sa.select(queue.c.id, queue.c.dmo, queue.c.priority, queue.c.run_after)
        .where(*due, sa.or_(queue.c.dmo.is_(None), queue.c.dmo.not_in(full)))
        .order_by(*order)
        .limit(limit * SCAN_FACTOR)
        .with_for_update(skip_locked=True, of=queue)
        .cte("locked")
    )
    rank = (
        sa.func.row_number()
        .over(
            partition_by=locked.c.dmo,
            order_by=(locked.c.priority.desc(), locked.c.run_after, locked.c.id),
        )
        .label("rank")
    )
    ranked = sa.select(locked, rank).cte("ranked")
    return (
        sa.select(ranked.c.id)
        .select_from(ranked.outerjoin(busy, busy.c.dmo == ranked.c.dmo))
        .where(
            sa.or_(
                ranked.c.dmo.is_(None),
                ranked.c.rank + sa.func.coalesce(busy.c.n, 0) <= cap,
            )
        )
        .order_by(ranked.c.priority.desc(), ranked.c.run_after, ranked.c.id)
        .limit(limit)
    )


def _claim(
    engine: sa.Engine, owner: str, limit: int, settings: Settings, ids: Sequence[int] | None
) -> list[ClaimedJob]:
    with write_transaction(engine) as conn:
        if settings.dmo_concurrency and conn.dialect.name == "postgresql":
            # Claims take turns while a DMO limit is set, so each one sees the running
            # jobs of the claim before it (READ COMMITTED takes a snapshot per statement).
            conn.execute(sa.select(sa.func.pg_advisory_xact_lock(CLAIM_LOCK_KEY)))
        # A materialised CTE joined by UPDATE ... FROM: the pick (and its LIMIT) runs
        # exactly once; a subquery in WHERE may be re-run and claim more than the limit.
        picked = _pick(conn, limit, settings, ids).cte("picked").prefix_with("MATERIALIZED")
        stmt = (
            sa.update(queue)
            .where(queue.c.id == picked.c.id, queue.c.status == "queued")
            .values(
                status="running",
                attempts=queue.c.attempts + 1,
                lease_owner=owner,
                lease_expires_at=later_expr(conn, settings.lease_seconds),
                heartbeat_at=now_expr(conn),
                updated_at=now_expr(conn),
            )
            .returning(*queue.c)
        )
        rows = list(conn.execute(stmt).all())
        now = datetime.now(UTC)
        record(
            conn,
            [
                row_event("running", r, now, queued_at=r.created_at, run_after=r.run_after)
                for r in rows
            ],
        )
    rows.sort(key=lambda r: (-r.priority, r.run_after, r.id))
    return [ClaimedJob.from_row(row, owner) for row in rows]


def claim(engine: sa.Engine, owner: str, limit: int, settings: Settings) -> list[ClaimedJob]:
    """Claim up to ``limit`` due queued jobs for ``owner``, in one statement.

    Due means ``run_after`` has passed; higher ``priority`` first, then older
    ``run_after``, then id. Each claimed job is ``running`` with ``attempts`` one higher
    and a lease of ``PIPELINE_LEASE_SECONDS``. A DMO never has more than
    ``PIPELINE_DMO_CONCURRENCY`` jobs running (jobs without a DMO are not limited).
    """
    return _claim(engine, owner, limit, settings, None)


@dataclass
class ClaimByIds:
    """What :func:`claim_ids` did: the jobs claimed and, for the others, why not."""

    claimed: list[ClaimedJob]
    #: id → ``not found``, ``not due``, ``dmo limit`` (or locked by another claim),
    #: or the job's status (``running``, ``completed``, ``failed``).
    skipped: dict[int, str]


def claim_ids(engine: sa.Engine, ids: Sequence[int], owner: str, settings: Settings) -> ClaimByIds:
    """Claim exactly the jobs ``ids`` that are queued and due (for a feed of ids, such as
    SQS messages): the same rules as :func:`claim`. A redelivered id whose job already
    runs or ran is reported in ``skipped``, never claimed twice."""
    wanted = sorted(set(ids))
    claimed = _claim(engine, owner, len(wanted), settings, wanted) if wanted else []
    got = {job.id for job in claimed}
    rest = [i for i in wanted if i not in got]
    skipped: dict[int, str] = {}
    if rest:
        with engine.connect() as conn:
            rows = conn.execute(
                sa.select(
                    queue.c.id,
                    queue.c.status,
                    (queue.c.run_after > now_expr(conn)).label("later"),
                ).where(queue.c.id.in_(rest))
            ).all()
        found = {row.id: row for row in rows}
        for i in rest:
            row = found.get(i)
            if row is None:
                skipped[i] = "not found"
            elif row.status != "queued":
                skipped[i] = row.status
            else:
                skipped[i] = "not due" if row.later else "dmo limit"
    return ClaimByIds(claimed, skipped)


def heartbeat(engine: sa.Engine, held: Sequence[ClaimedJob], settings: Settings) -> set[int]:
    """Extend the leases of jobs still held; return the ids whose lease was extended (a
    missing id was rescued from this worker and will not be finished by it)."""
    kept: set[int] = set()
    by_owner: dict[str, list[ClaimedJob]] = {}
    for job in held:
        by_owner.setdefault(job.owner, []).append(job)
    if not by_owner:
        return kept
    with write_transaction(engine) as conn:
        for owner, group in by_owner.items():
            stmt = (
                sa.update(queue)
                .where(held_by(owner, ((j.id, j.attempt) for j in group)))
                .values(
                    lease_expires_at=later_expr(conn, settings.lease_seconds),
                    heartbeat_at=now_expr(conn),
                )
                .returning(queue.c.id)
            )
            kept.update(conn.execute(stmt).scalars())
    return kept


def release(
    engine: sa.Engine, held: Sequence[ClaimedJob], settings: Settings, reason: str = "released"
) -> int:
    """Give held jobs back (a worker shutting down): ``queued`` again, due at once.

    A release does not count as an attempt (``attempts`` goes back down); the interrupted
    run is kept in ``pipeline.jobs`` with status ``released``. Returns the jobs released.
    """
    released: list[int] = []
    with write_transaction(engine) as conn:
        for job in held:  # one at a time: a job whose dedup key is taken harms no other
            back = requeue_held(
                conn,
                job,
                {
                    "attempts": queue.c.attempts - 1,
                    "lease_owner": None,
                    "lease_expires_at": None,
                    "run_after": now_expr(conn),
                    "updated_at": now_expr(conn),
                },
            )
            if back:
                released.append(job.id)
        if released:
            now = datetime.now(UTC)
            conn.execute(
                sa.insert(jobs),
                [
                    {
                        "queue_id": job.id,
                        "attempt": job.attempt,
                        "worker": job.owner,
                        "status": "released",
                        "started_at": now,
                        "finished_at": now,
                        "duration_ms": 0,
                        "error": reason,
                    }
                    for job in held
                    if job.id in released
                ],
            )
            announce(conn, released, settings=settings)
            events = [
                {**job_event("queued", job, now, reason=reason), "attempt": job.attempt - 1}
                for job in held
                if job.id in released
            ]
            record(conn, events, wake=True)
    return len(released)


def release_held(
    conn: sa.Connection, job: ClaimedJob, message: str, *, dead: bool, run_after: Any
) -> bool:
    """Free one attempt's lease: dead-letter the job (``failed``) or queue it again from
    ``run_after``, with ``message`` as its last error. False when the worker no longer
    holds it (its lease was rescued), and then nothing is changed."""
    values: dict[str, Any] = {
        "lease_owner": None,
        "lease_expires_at": None,
        "last_error": message,
        "updated_at": now_expr(conn),
    }
    if not dead:  # back to queued: a dedup key taken meanwhile is given up
        return requeue_held(conn, job, {**values, "run_after": run_after})
    values.update(status="failed", dead_lettered=True, finished_at=now_expr(conn))
    updated = conn.execute(
        sa.update(queue)
        .where(held_by(job.owner, [(job.id, job.attempt)]))
        .values(**values)
        .returning(queue.c.id)
    ).scalar()
    return updated is not None


def count_released(
    job: ClaimedJob, message: str, dead: bool, counts: FinishCounts, requeued: list[int]
) -> None:
    """Count a job :func:`release_held` freed: dead-lettered, or retried (its id is added to
    ``requeued``, the ids to announce)."""
    if dead:
        counts.dead_lettered += 1
        counts.dead.append(DeadLetter(job.describe(), message))
    else:
        counts.retried += 1
        requeued.append(job.id)


def rescue_expired(engine: sa.Engine, settings: Settings) -> FinishCounts:
    """Queue again every ``running`` job whose lease expired (its worker died or hung), or
    dead-letter it when it has no attempt left. Each rescued attempt gets a
    ``pipeline.jobs`` row with status ``expired`` and a ``pipeline.errors`` row."""
    counts = FinishCounts()
    with write_transaction(engine) as conn:
        rows = conn.execute(
            sa.select(queue)
            .where(queue.c.status == "running", queue.c.lease_expires_at < now_expr(conn))
            .order_by(queue.c.id)
            .with_for_update(skip_locked=True)
        ).all()
        if not rows:
            return counts
        now = datetime.now(UTC)
        job_rows: list[dict[str, Any]] = []
        error_rows: list[dict[str, Any]] = []
        event_rows: list[dict[str, Any]] = []
        requeued: list[int] = []
        expired: list[ClaimedJob] = []
        for row in rows:
            job = ClaimedJob.from_row(row, row.lease_owner or "")
            message = f"lease expired: worker {row.lease_owner} stopped heartbeating"
            dead = row.attempts >= row.max_attempts
            if not release_held(conn, job, message, dead=dead, run_after=now_expr(conn)):
                continue
            job_rows.append(
                {
                    "queue_id": job.id,
                    "attempt": job.attempt,
                    "worker": job.owner,
                    "status": "expired",
                    "started_at": row.updated_at,
                    "finished_at": now,
                    "duration_ms": None,
                    "error": message,
                }
            )
            error_rows.append(error_row(job, message, None))
            expired.append(job)
            count_released(job, message, dead, counts, requeued)
            state = "dead_lettered" if dead else "failed"
            retry = None if dead else 0
            event_rows.append(job_event(state, job, now, error=message, retry_in_s=retry))
        record(conn, event_rows, wake=bool(requeued))
        if job_rows:
            conn.execute(sa.insert(jobs), job_rows)
            conn.execute(sa.insert(errors), error_rows)
        announce(conn, requeued, settings=settings)
    observe_expired([job.type for job in expired], [d.job["type"] for d in counts.dead])
    if counts.retried or counts.dead_lettered:
        logger.warning(
            "rescued %d job(s) with expired leases: %d queued again, %d dead-lettered (%s)",
            counts.retried + counts.dead_lettered,
            counts.retried,
            counts.dead_lettered,
            ", ".join(f"job {row.id} {row.type}" for row in rows),
        )
    return counts


def list_jobs(
    engine: sa.Engine, *, status: str | None = None, dead: bool = False, limit: int = 50
) -> list[Any]:
    """Rows of ``pipeline.queue``, newest first: all, of one ``status``, or dead-lettered."""
    query = sa.select(queue).order_by(queue.c.id.desc()).limit(limit)
    if status is not None:
        query = query.where(queue.c.status == status)
    if dead:
        query = query.where(queue.c.dead_lettered.is_(True))
    with engine.connect() as conn:
        return list(conn.execute(query).all())


def retry_job(engine: sa.Engine, job_id: int, settings: Settings, extra_attempts: int) -> Any:
    """Queue a failed (dead-lettered) job again, by hand; return its row.

    Its ``attempts`` are kept, so attempt numbers in ``pipeline.jobs`` stay unique and the
    history reads on; ``max_attempts`` is raised to ``attempts + extra_attempts`` (a fresh
    budget of retries). Raises :class:`QueueError` when the job does not exist, is not
    failed, or another job with its dedup key is queued.
    """
    with write_transaction(engine) as conn:
        # Locked (PostgreSQL; SQLite's write transaction holds the whole database): two
        # retries at once queue the job once, the second one is told it is not failed.
        row = conn.execute(sa.select(queue).where(queue.c.id == job_id).with_for_update()).first()
        if row is None:
            raise QueueError(f"no job {job_id} in pipeline.queue")
        if row.status != "failed":
            raise QueueError(
                f"job {job_id} is {row.status}, not failed: only failed jobs can be retried"
            )
        if row.dedup_key is not None:
            other = conn.execute(
                sa.select(queue.c.id).where(
                    queue.c.dedup_key == row.dedup_key, queue.c.status == "queued"
                )
            ).scalar()
            if other is not None:
                raise QueueError(
                    f"job {job_id} has dedup key {row.dedup_key!r} and job {other} with that "
                    "key is already queued"
                )
        try:
            with conn.begin_nested():
                updated = conn.execute(
                    sa.update(queue)
                    .where(queue.c.id == job_id, queue.c.status == "failed")
                    .values(
                        status="queued",
                        dead_lettered=False,
                        max_attempts=row.attempts + extra_attempts,
                        run_after=now_expr(conn),
                        finished_at=None,
                        updated_at=now_expr(conn),
                    )
                    .returning(*queue.c)
                ).first()
        except sa.exc.IntegrityError:  # a job with its dedup key was queued meanwhile
            raise QueueError(
                f"job {job_id} has dedup key {row.dedup_key!r} and another job with that key "
                "was queued meanwhile"
            ) from None
        if updated is None:
            raise QueueError(f"job {job_id} is no longer failed: only failed jobs can be retried")
        announce(conn, job_id, settings=settings)
        record(conn, [row_event("queued", updated, reason="retry by hand")], wake=True)
    return updated


__all__ = [
    "ClaimByIds",
    "claim",
    "claim_ids",
    "heartbeat",
    "list_jobs",
    "release",
    "requeue_held",
    "rescue_expired",
    "retry_job",
]
