"""What the dashboard shows, read from the database: queue depth, processing rate, outcomes
and processing times by job type, errors by stage and source, each source's last crawl and
the dead letters. One function, :func:`overview`, for one DMO or all of them.

Rates, outcomes, percentiles and errors cover the last :data:`WINDOW` (attempts by their
``finished_at``, errors by ``created_at``); queue depth and dead letters are as they are now.
"""

from __future__ import annotations

import math
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from pipeline_core.db.tables import crawls, errors, jobs, queue
from pipeline_core.metrics.database import queue_counts
from pipeline_core.operations.jobs import JobFilter, list_jobs
from pipeline_core.queue.events import newest_id
from pipeline_core.queue.job import utc

#: How far back rates, outcomes, processing times and errors look.
WINDOW = timedelta(hours=24)
#: The states of queue depth, in the order shown (``dead`` counts dead-lettered jobs).
DEPTH_STATES = ("queued", "running", "completed", "failed", "dead")
#: The counts of a crawl shown beside it (from its ``stats``).
CRAWL_COUNTS = ("scraped", "inserted", "updated", "unchanged", "invalid", "errors")
#: Attempt statuses that count as failures (``released`` ones count as neither).
FAILED = ("failed", "expired")
PERCENTILES = (50, 95, 99)


def percentile(values: list[int], pct: int) -> int:
    """The nearest-rank ``pct`` percentile of sorted ``values`` (0 for none)."""
    if not values:
        return 0
    rank = max(1, math.ceil(pct / 100 * len(values)))
    return values[rank - 1]


@dataclass
class Overview:
    """Everything the dashboard shows, of one DMO or all."""

    at: datetime
    #: job type → state (:data:`DEPTH_STATES`) → jobs
    depth: dict[str, dict[str, int]]
    #: attempts finished as completed in the last 5 and 60 minutes, per minute, and per
    #: minute over the last 60 minutes (oldest first)
    rate_5m: float
    rate_60m: float
    per_minute: list[int]
    #: job type → {completed, failed, success (percent, one decimal)}
    outcomes: dict[str, dict[str, Any]]
    #: job type → {n, p50, p95, p99} milliseconds of completed attempts
    durations: dict[str, dict[str, int]]
    #: (stage, source, errors), most first
    errors: list[tuple[str, str, int]]
    #: one dict per source: source, id, started_at, finished_at, finish_reason, complete,
    #: and :data:`CRAWL_COUNTS`
    crawls: list[dict[str, Any]]
    dead: list[Any]
    dead_total: int
    #: The newest job event's id: the dashboard's WebSocket resumes after it.
    last_event_id: int
    totals: dict[str, int] = field(default_factory=dict)


def _depth(conn: sa.Connection, dmo: str | None) -> dict[str, dict[str, int]]:
    depth: dict[str, dict[str, int]] = {}
    for job_type, status, dead, count in queue_counts(conn, *JobFilter(dmo=dmo).where()):
        states = depth.setdefault(job_type, dict.fromkeys(DEPTH_STATES, 0))
        states[status] += count
        if dead:
            states["dead"] += count
    return dict(sorted(depth.items()))


def _attempts(conn: sa.Connection, dmo: str | None, since: datetime) -> list[Any]:
    query = (
        sa.select(queue.c.type, jobs.c.status, jobs.c.duration_ms, jobs.c.finished_at)
        .join(queue, queue.c.id == jobs.c.queue_id)
        .where(jobs.c.finished_at >= since, *JobFilter(dmo=dmo).where())
    )
    return list(conn.execute(query).all())


def _errors(
    conn: sa.Connection, sources: Collection[str] | None, since: datetime
) -> list[tuple[str, str, int]]:
    count = sa.func.count().label("n")
    query = (
        sa.select(errors.c.stage, errors.c.source, count)
        .where(errors.c.created_at >= since)
        .group_by(errors.c.stage, errors.c.source)
        .order_by(count.desc(), errors.c.stage, errors.c.source)
        .limit(50)
    )
    if sources is not None:
        query = query.where(errors.c.source.in_(list(sources)))
    return [(r.stage, r.source, r.n) for r in conn.execute(query)]


def _crawls(conn: sa.Connection, sources: Collection[str] | None) -> list[dict[str, Any]]:
    newest = sa.select(sa.func.max(crawls.c.id)).group_by(crawls.c.source)
    if sources is not None:
        newest = newest.where(crawls.c.source.in_(list(sources)))
    rows = conn.execute(
        sa.select(crawls).where(crawls.c.id.in_(newest.scalar_subquery())).order_by(crawls.c.source)
    ).all()
    out = []
    for row in rows:
        stats = row.stats or {}
        item: dict[str, Any] = {
            "source": row.source,
            "id": row.id,
            "started_at": row.started_at,
            "finished_at": row.finished_at,
            "finish_reason": row.finish_reason,
            "complete": bool(row.complete),
        }
        item.update({name: stats.get(name) for name in CRAWL_COUNTS})
        out.append(item)
    return out


def overview(
    engine: sa.Engine,
    *,
    dmo: str | None = None,
    sources: Collection[str] | None = None,
    now: datetime | None = None,
    dead_limit: int = 50,
) -> Overview:
    """The dashboard's figures: jobs of ``dmo`` (every job when None), errors and crawls
    of ``sources`` (every source when None)."""
    now = now or datetime.now(UTC)
    since = now - WINDOW
    with engine.connect() as conn:
        depth = _depth(conn, dmo)
        attempts = _attempts(conn, dmo, since)
        error_counts = _errors(conn, sources, since)
        last_crawls = _crawls(conn, sources)
    per_minute = [0] * 60
    outcomes: dict[str, dict[str, Any]] = {}
    times: dict[str, list[int]] = {}
    for row in attempts:
        if row.status == "completed":
            age = (now - utc(row.finished_at)).total_seconds()
            if 0 <= age < 3600:
                per_minute[59 - int(age // 60)] += 1
            times.setdefault(row.type, []).append(row.duration_ms or 0)
        if row.status == "completed" or row.status in FAILED:
            seen = outcomes.setdefault(row.type, {"completed": 0, "failed": 0})
            seen["completed" if row.status == "completed" else "failed"] += 1
    for seen in outcomes.values():
        done = seen["completed"] + seen["failed"]
        seen["success"] = round(100 * seen["completed"] / done, 1) if done else 0.0
    durations = {}
    for job_type, values in sorted(times.items()):
        values.sort()
        durations[job_type] = {"n": len(values)} | {
            f"p{p}": percentile(values, p) for p in PERCENTILES
        }
    dead = list_jobs(engine, JobFilter(status="failed", dead=True, dmo=dmo), dead_limit)
    totals = dict.fromkeys(DEPTH_STATES, 0)
    for states in depth.values():
        for state, count in states.items():
            totals[state] += count
    return Overview(
        at=now,
        depth=depth,
        rate_5m=round(sum(per_minute[-5:]) / 5, 1),
        rate_60m=round(sum(per_minute) / 60, 1),
        per_minute=per_minute,
        outcomes=dict(sorted(outcomes.items())),
        durations=durations,
        errors=error_counts,
        crawls=last_crawls,
        dead=dead.rows,
        dead_total=dead.totals["dead"],
        last_event_id=newest_id(engine),
        totals=totals,
    )
