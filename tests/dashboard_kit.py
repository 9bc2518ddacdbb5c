"""Helpers of the dashboard tests: known figures written to the database, and what the
dashboard must show for them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from pipeline_core.db.tables import crawls, errors, jobs, queue

#: Milliseconds of the ten completed attempts written by :func:`seed_figures`.
DURATIONS = [10, 20, 30, 40, 50, 60, 70, 80, 90, 100]


def seed_figures(engine: sa.Engine, dmo: str, source: str, dead_job: int) -> dict[str, str]:
    """Ten completed noop jobs (one attempt each, 2 minutes ago), one queued for later, the
    dead job's attempt finished, two job errors, two crawls of ``source``; the figures the
    dashboard must show for them (``data-metric`` → text)."""
    now = datetime.now(UTC)
    done = now - timedelta(minutes=2)
    with engine.begin() as conn:
        for ms in DURATIONS:
            job_id = conn.execute(
                sa.insert(queue)
                .values(
                    type="noop",
                    payload={"source": source},
                    status="completed",
                    attempts=1,
                    dmo=dmo,
                    finished_at=done,
                )
                .returning(queue.c.id)
            ).scalar_one()
            conn.execute(
                sa.insert(jobs).values(
                    queue_id=job_id,
                    attempt=1,
                    status="completed",
                    started_at=done - timedelta(milliseconds=ms),
                    finished_at=done,
                    duration_ms=ms,
                )
            )
        conn.execute(
            sa.insert(queue).values(
                type="noop", payload={}, dmo=dmo, run_after=now + timedelta(hours=1)
            )
        )
        conn.execute(
            sa.update(jobs)
            .where(jobs.c.queue_id == dead_job)
            .values(finished_at=done, duration_ms=5)
        )
        conn.execute(
            sa.insert(errors),
            [
                {"source": source, "stage": "job", "message": f"job failed {i}", "job_id": dead_job}
                for i in range(2)
            ],
        )
        stats_old = {"scraped": 1, "inserted": 1}
        stats_new = {
            "scraped": 12,
            "inserted": 10,
            "updated": 1,
            "unchanged": 1,
            "invalid": 0,
            "errors": 1,
        }
        for stats in (stats_old, stats_new):
            conn.execute(
                sa.insert(crawls).values(
                    source=source,
                    started_at=done,
                    finished_at=done,
                    finish_reason="finished",
                    complete=True,
                    stats=stats,
                )
            )
    figures = {
        "total.queued": "1",
        "total.running": "0",
        "total.completed": "10",
        "total.failed": "1",
        "total.dead": "1",
        "depth.noop.queued": "1",
        "depth.noop.completed": "10",
        "depth.noop.failed": "1",
        "depth.noop.dead": "1",
        "rate.5m": "2.0",
        "rate.60m": "0.2",
        "outcomes.noop.completed": "10",
        "outcomes.noop.failed": "1",
        "outcomes.noop.success": "90.9%",
        "durations.noop.n": "10",
        "durations.noop.p50": "50",
        "durations.noop.p95": "100",
        "durations.noop.p99": "100",
        f"errors.map.{source}": "1",
        f"errors.job.{source}": "2",
        "dead.total": "1",
    }
    figures.update({f"crawl.{source}.{name}": str(value) for name, value in stats_new.items()})
    return figures


def database_figures(engine: sa.Engine) -> dict[str, Any]:
    """The same figures counted straight from the tables (a check of the seed itself)."""
    with engine.connect() as conn:
        by_status = dict(
            conn.execute(sa.select(queue.c.status, sa.func.count()).group_by(queue.c.status)).all()
        )
        durations = sorted(
            conn.execute(
                sa.select(jobs.c.duration_ms).where(jobs.c.status == "completed")
            ).scalars()
        )
    return {"by_status": by_status, "durations": durations}
