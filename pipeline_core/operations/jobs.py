"""Jobs as an operator sees them: a filtered list with totals, one job in detail, retries."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from pipeline_core.config import Settings
from pipeline_core.db.tables import errors, jobs, queue
from pipeline_core.exceptions import QueueError
from pipeline_core.queue.store import retry_job


@dataclass(frozen=True)
class JobFilter:
    """Which jobs: each field narrows the list (None: any)."""

    status: str | None = None
    dead: bool = False
    type: str | None = None
    source: str | None = None
    dmo: str | None = None

    def where(self) -> list[sa.ColumnElement[bool]]:
        found: list[sa.ColumnElement[bool]] = []
        if self.status is not None:
            found.append(queue.c.status == self.status)
        if self.dead:
            found.append(queue.c.dead_lettered.is_(True))
        if self.type is not None:
            found.append(queue.c.type == self.type)
        if self.source is not None:
            found.append(queue.c.payload["source"].as_string() == self.source)
        if self.dmo is not None:
            found.append(queue.c.dmo == self.dmo)
        return found


@dataclass
class JobList:
    """Rows of ``pipeline.queue`` (newest first, up to a limit) and the totals of every job
    the filter matches, by status (``dead`` counts the dead-lettered among ``failed``)."""

    rows: list[Any]
    totals: dict[str, int] = field(default_factory=dict)


def job_rows(
    engine: sa.Engine, where: JobFilter, *, after: int | None = None, limit: int = 50
) -> list[Any]:
    """Rows of ``pipeline.queue`` that ``where`` matches, newest first, up to ``limit``;
    ``after`` (keyset) keeps those of smaller ids than it."""
    query = sa.select(queue).where(*where.where())
    if after is not None:
        query = query.where(queue.c.id < after)
    with engine.connect() as conn:
        return list(conn.execute(query.order_by(queue.c.id.desc()).limit(limit)).all())


def list_jobs(engine: sa.Engine, where: JobFilter, limit: int = 50) -> JobList:
    """The jobs ``where`` matches, newest first, and their totals by status."""
    conditions = where.where()
    totals_query = (
        sa.select(queue.c.status, queue.c.dead_lettered, sa.func.count())
        .where(*conditions)
        .group_by(queue.c.status, queue.c.dead_lettered)
    )
    totals = {"queued": 0, "running": 0, "completed": 0, "failed": 0, "dead": 0}
    rows = job_rows(engine, where, limit=limit)
    with engine.connect() as conn:
        for status, dead, count in conn.execute(totals_query):
            totals[status] = totals.get(status, 0) + count
            if dead:
                totals["dead"] += count
    totals["total"] = sum(totals[s] for s in ("queued", "running", "completed", "failed"))
    return JobList(rows, totals)


def list_attempts(
    engine: sa.Engine,
    where: JobFilter,
    *,
    queue_id: int | None = None,
    after: int | None = None,
    limit: int = 50,
) -> list[Any]:
    """Attempts (rows of ``pipeline.jobs``) of the jobs ``where`` matches, newest first;
    ``where.status`` is the attempt's status here."""
    attempts_of = JobFilter(type=where.type, source=where.source, dmo=where.dmo, dead=where.dead)
    query = sa.select(jobs).join(queue, queue.c.id == jobs.c.queue_id).where(*attempts_of.where())
    if where.status is not None:
        query = query.where(jobs.c.status == where.status)
    if queue_id is not None:
        query = query.where(jobs.c.queue_id == queue_id)
    if after is not None:
        query = query.where(jobs.c.id < after)
    with engine.connect() as conn:
        return list(conn.execute(query.order_by(jobs.c.id.desc()).limit(limit)).all())


@dataclass
class JobDetail:
    """One job: its ``pipeline.queue`` row, every attempt (``pipeline.jobs``), every error
    row it wrote (``pipeline.errors``, a failed attempt's traceback included) and the jobs
    queued after it in its chain (same correlation id)."""

    job: Any
    attempts: list[Any]
    errors: list[Any]
    next_jobs: list[Any] = field(default_factory=list)

    @property
    def duration_ms(self) -> int:
        """Milliseconds its attempts ran, in all."""
        return sum(a.duration_ms or 0 for a in self.attempts)


def job_detail(
    engine: sa.Engine, job_id: int, *, dmo: str | None = None, limit: int | None = None
) -> JobDetail:
    """Job ``job_id`` in detail (its errors and next jobs up to ``limit`` each); a job of
    another DMO than ``dmo``, when given, is not found. :class:`QueueError` when there is
    none."""
    scope = JobFilter(dmo=dmo).where()
    with engine.connect() as conn:
        row = conn.execute(sa.select(queue).where(queue.c.id == job_id, *scope)).first()
        if row is None:
            raise QueueError(f"no job {job_id} in pipeline.queue")
        attempts = list(
            conn.execute(
                sa.select(jobs).where(jobs.c.queue_id == job_id).order_by(jobs.c.attempt)
            ).all()
        )
        error_rows = list(
            conn.execute(
                sa.select(errors)
                .where(errors.c.job_id == job_id)
                .order_by(errors.c.id)
                .limit(limit)
            ).all()
        )
        following: list[Any] = []
        if row.correlation_id:
            following = list(
                conn.execute(
                    sa.select(queue.c.id, queue.c.type, queue.c.status)
                    .where(
                        queue.c.correlation_id == row.correlation_id,
                        queue.c.id > job_id,
                        *scope,
                    )
                    .order_by(queue.c.id)
                    .limit(limit)
                ).all()
            )
    return JobDetail(row, attempts, error_rows, following)


def retry_again(engine: sa.Engine, job_id: int, settings: Settings) -> int | None:
    """Run a finished job (completed or failed) again, as a new job with the same type,
    payload, DMO and correlation id: the history of the first stays as it is. Returns the
    new job's id (None when a job with its dedup key is queued already)."""
    from pipeline_core.queue.enqueue import enqueue

    with engine.begin() as conn:
        row = conn.execute(sa.select(queue).where(queue.c.id == job_id)).first()
        if row is None:
            raise QueueError(f"no job {job_id} in pipeline.queue")
        if row.status not in ("completed", "failed"):
            raise QueueError(f"job {job_id} is {row.status}: only a finished job can be run again")
        return enqueue(
            conn,
            row.type,
            row.payload,
            settings=settings,
            dmo=row.dmo,
            dedup_key=row.dedup_key,
            priority=row.priority,
            correlation_id=row.correlation_id,
        )


@dataclass
class RetryAll:
    """What a retry of every dead-lettered job did."""

    queued: list[int] = field(default_factory=list)
    #: Job id → why it was not queued (another job with its dedup key is queued...).
    refused: dict[int, str] = field(default_factory=dict)


def retry_all_dead(
    engine: sa.Engine,
    settings: Settings,
    extra_attempts: int,
    source: str | None = None,
    limit: int = 1000,
) -> RetryAll:
    """Queue again every dead-lettered job (of ``source``'s, when given), oldest first, up
    to ``limit``; each keeps its attempts and gets ``extra_attempts`` more."""
    where = JobFilter(status="failed", dead=True, source=source).where()
    with engine.connect() as conn:
        ids = (
            conn.execute(sa.select(queue.c.id).where(*where).order_by(queue.c.id).limit(limit))
            .scalars()
            .all()
        )
    done = RetryAll()
    for job_id in ids:
        try:
            retry_job(engine, job_id, settings, extra_attempts)
        except QueueError as exc:
            done.refused[job_id] = str(exc)
        else:
            done.queued.append(job_id)
    return done


def when(value: datetime | None) -> str:
    """A time for a table cell: ``YYYY-MM-DD HH:MM:SS``, or ``-``."""
    return "-" if value is None else value.strftime("%Y-%m-%d %H:%M:%S")
