"""Job types of the queue tests, registered as a plugin (entry point ``queue-test-jobs``).

Each handler records that it ran in the table ``qtest_runs`` (job id, attempt, worker,
process id), committed before the handler returns: a job that ran twice has two rows.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from unittest.mock import patch

import sqlalchemy as sa

from pipeline_core.db.tables import queue
from pipeline_core.hookspecs import hookimpl
from pipeline_core.jobtypes import JobContext, JobResult, JobType, NextJob

RUNS_DDL = (
    "CREATE TABLE IF NOT EXISTS qtest_runs (job_id INTEGER NOT NULL, attempt INTEGER NOT NULL,"
    " worker VARCHAR(200) NOT NULL, pid INTEGER NOT NULL)"
)


def create_runs_table(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        conn.exec_driver_sql(RUNS_DDL)


def runs(engine: sa.Engine) -> list[tuple[int, int, str, int]]:
    with engine.connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT job_id, attempt, worker, pid FROM qtest_runs ORDER BY job_id, attempt"
        ).all()
    return [tuple(row) for row in rows]  # type: ignore[misc]


def _record(context: JobContext) -> None:
    with context.engine.begin() as conn:
        conn.execute(
            sa.text("INSERT INTO qtest_runs VALUES (:job, :attempt, :worker, :pid)"),
            {
                "job": context.job_id,
                "attempt": context.attempt,
                "worker": context.worker,
                "pid": os.getpid(),
            },
        )


def record(payload: Mapping[str, Any], context: JobContext) -> dict[str, Any]:
    _record(context)
    return {"recorded": 1}


def sleepy(payload: Mapping[str, Any], context: JobContext) -> dict[str, Any]:
    _record(context)
    time.sleep(float(payload.get("seconds", 1.0)))
    return {"slept": payload.get("seconds", 1.0)}


def flaky(payload: Mapping[str, Any], context: JobContext) -> dict[str, Any]:
    """Fails while the file named by ``payload["fail_while"]`` exists."""
    _record(context)
    if Path(payload["fail_while"]).exists():
        raise RuntimeError(f"flaky job {context.job_id} failed on purpose")
    return {"recovered": True}


def chain(payload: Mapping[str, Any], context: JobContext) -> JobResult:
    _record(context)
    count = int(payload.get("next", 2))
    return JobResult(
        {"next": count},
        [NextJob("record", {"parent": context.job_id, "n": n}) for n in range(count)],
    )


def exits(payload: Mapping[str, Any], context: JobContext) -> dict[str, Any]:
    """Calls ``sys.exit(3)``, as a careless handler might."""
    sys.exit(3)


def beats_while_away(payload: Mapping[str, Any], context: JobContext) -> dict[str, Any]:
    """Heartbeats while the database refuses every statement, then once it is back with
    its lease set in the past; returns how often the away database was tried and whether
    the second heartbeat extended the lease (a heartbeat that does nothing shows 0, False)."""
    engine = context.engine
    with patch.object(engine, "connect", side_effect=_database_away) as connect:
        with patch.object(engine, "begin", side_effect=_database_away) as begin:
            context.heartbeat()
    tried = connect.call_count + begin.call_count
    with engine.begin() as conn:
        conn.execute(
            sa.update(queue).where(queue.c.id == context.job_id).values(lease_expires_at=LONG_AGO)
        )
    context.heartbeat()
    with engine.connect() as conn:
        lease = conn.execute(
            sa.select(queue.c.lease_expires_at).where(queue.c.id == context.job_id)
        ).scalar_one()
    return {"tried_while_away": tried, "lease_extended": lease.year > LONG_AGO.year}


#: A lease long expired.
LONG_AGO = datetime(2000, 1, 1, tzinfo=UTC)


def _database_away(*_args: Any, **_kwargs: Any) -> Any:
    raise sa.exc.OperationalError("SELECT 1", {}, Exception("server closed the connection"))


JOB_TYPES = [
    JobType("record", record, "Records that it ran."),
    JobType("sleepy", sleepy, "Records that it ran, then sleeps payload['seconds']."),
    JobType("flaky", flaky, "Fails while a file exists.", max_attempts=3),
    JobType("chain", chain, "Records that it ran and queues payload['next'] record jobs."),
    JobType("exits", exits, "Calls sys.exit(3)."),
    JobType("beats-while-away", beats_while_away, "Heartbeats while the database is away."),
]


@hookimpl
def register_job_types() -> list[JobType]:
    return JOB_TYPES
