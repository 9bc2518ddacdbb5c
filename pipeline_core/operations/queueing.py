"""Queueing a job by hand and processing the queue within a time budget: the service behind
``dmo-pipeline queue add|process`` and ``POST /queue``, ``POST /queue/process``."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from pipeline_core.db.engine import write_transaction
from pipeline_core.db.tables import queue
from pipeline_core.exceptions import PipelineError
from pipeline_core.queue.enqueue import add_job
from pipeline_core.queue.job import ClaimedJob
from pipeline_core.queue.store import claim, claim_ids, now_expr

if TYPE_CHECKING:
    from pipeline_core.plugins import PipelineManager
    from pipeline_core.sources import Source


class UnknownJobType(PipelineError):
    """No registered job type has that name."""

    @classmethod
    def for_type(cls, job_type: str, pm: PipelineManager) -> UnknownJobType:
        known = ", ".join(sorted(pm.job_types())) or "none"
        return cls(f"no job type {job_type!r}; registered: {known}")


def enqueue_job(
    engine: sa.Engine,
    pm: PipelineManager,
    job_type: str,
    payload: Mapping[str, Any],
    *,
    dmo: str | None = None,
    priority: int = 0,
    run_after: datetime | None = None,
    dedup_key: str | None = None,
    sources: Mapping[str, Source] | None = None,
) -> int | None:
    """Queue a job of a registered type with the checks of ``queue add``
    (:func:`~pipeline_core.queue.enqueue.add_job`: options that cannot be stored and payloads
    that can never work raise :class:`~pipeline_core.exceptions.InvalidJobError`); its id,
    or None when ``dedup_key`` is queued. ``sources``: the registered sources, when the
    caller has them (the API's), so the checks build no plugin manager."""
    job_types = pm.job_types()
    if job_type not in job_types:
        raise UnknownJobType.for_type(job_type, pm)
    with write_transaction(engine) as conn:
        return add_job(
            conn,
            job_types,
            job_type,
            payload,
            settings=pm.settings,
            dmo=dmo,
            dedup_key=dedup_key,
            priority=priority,
            run_after=run_after,
            sources=sources,
        )


class _Feed:
    """The database feed of one call: claims due jobs (of one DMO when scoped), remembers
    their ids, and claims none once the deadline is past."""

    def __init__(self, engine: sa.Engine, pm: PipelineManager, dmo: str | None, deadline: float):
        self.engine = engine
        self.settings = pm.settings
        self.dmo = dmo
        self.deadline = deadline
        self.ids: list[int] = []

    def next_jobs(self, owner: str, limit: int) -> list[ClaimedJob]:
        if time.monotonic() >= self.deadline:
            return []
        if self.dmo is None:
            jobs = claim(self.engine, owner, limit, self.settings)
        else:
            with self.engine.connect() as conn:
                due = list(
                    conn.execute(
                        sa.select(queue.c.id)
                        .where(
                            queue.c.status == "queued",
                            queue.c.dmo == self.dmo,
                            queue.c.run_after <= now_expr(conn),
                        )
                        .order_by(queue.c.priority.desc(), queue.c.run_after, queue.c.id)
                        .limit(limit)
                    ).scalars()
                )
            jobs = claim_ids(self.engine, due, owner, self.settings).claimed if due else []
        self.ids.extend(job.id for job in jobs)
        return jobs

    def idle(self, stop: threading.Event) -> None:
        pass

    def done(self, jobs: Sequence[ClaimedJob]) -> None:
        pass


@dataclass
class ProcessResult:
    """What :func:`process_queue` ran and how each job ended."""

    counts: dict[str, Any]
    jobs: list[dict[str, Any]]
    seconds: float
    idle: bool


def process_queue(
    engine: sa.Engine,
    pm: PipelineManager,
    *,
    budget: float,
    batch_size: int = 1,
    dmo: str | None = None,
) -> ProcessResult:
    """Process due jobs (only ``dmo``'s when given) in batches of ``batch_size`` until the
    queue has none due or ``budget`` seconds have passed (a job that started runs to its
    end; no job starts after the budget)."""
    from pipeline_core.queue.worker import Worker

    began = time.monotonic()
    feed = _Feed(engine, pm, dmo, began + budget)
    totals: dict[str, Any] = {}
    idle = False
    while time.monotonic() < feed.deadline:
        before = len(feed.ids)
        counts = Worker(engine, pm, feed=feed).process_once(batch_size).as_dict()
        for name, value in counts.items():
            totals[name] = totals.get(name, 0) + value
        if len(feed.ids) == before:
            idle = True
            break
    jobs: list[dict[str, Any]] = []
    if feed.ids:
        with engine.connect() as conn:
            rows = conn.execute(
                sa.select(
                    queue.c.id,
                    queue.c.type,
                    queue.c.status,
                    queue.c.dead_lettered,
                    queue.c.attempts,
                    queue.c.last_error,
                )
                .where(queue.c.id.in_(feed.ids))
                .order_by(queue.c.id)
            ).all()
        jobs = [
            {
                "id": row.id,
                "type": row.type,
                "status": row.status,
                "dead_lettered": bool(row.dead_lettered),
                "attempts": row.attempts,
                "last_error": row.last_error,
            }
            for row in rows
        ]
    return ProcessResult(totals, jobs, round(time.monotonic() - began, 3), idle)
