"""``dmo-pipeline worker`` processes: many workers run every job exactly once, a worker
killed mid-job loses nothing and runs nothing twice, SIGTERM stops a worker cleanly."""

from __future__ import annotations

import signal
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import queue_jobs
import sqlalchemy as sa
from queue_helpers import (
    make_settings,
    start_worker,
    statuses,
    wait_for,
)

from pipeline_core.db import ensure
from pipeline_core.db.engine import write_transaction
from pipeline_core.db.tables import jobs, queue
from pipeline_core.queue import enqueue, worker

pytest_plugins = ["queue_fixtures"]

#: A worker's start line: the built-in job types and the test plugin's.
JOB_TYPES_LINE = (
    "started: job types beats-while-away, chain, exits, flaky, ingest, noop, promote, "
    "read_upload, record, scrape, sleepy, transform"
)


def _completed_attempts(engine: sa.Engine) -> Counter[int]:
    with engine.connect() as conn:
        ids = conn.execute(sa.select(jobs.c.queue_id).where(jobs.c.status == "completed"))
        return Counter(ids.scalars())


def _stop(workers: list[subprocess.Popen[bytes]], logs: list[Path]) -> None:
    for proc in workers:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc, log in zip(workers, logs, strict=True):
        assert proc.wait(60) == 0, log.read_text()


@pytest.mark.postgres
@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
def test_four_workers_run_2000_jobs_exactly_once(
    worker_env: dict[str, str], tmp_path: Path, engine: sa.Engine
) -> None:
    queue_jobs.create_runs_table(engine)
    settings = make_settings(str(engine.url.render_as_string(hide_password=False)), tmp_path)
    logs = [tmp_path / f"worker-{n}.log" for n in range(4)]
    workers = [start_worker(worker_env, log) for log in logs]
    try:
        for log in logs:
            wait_for(f"{log.name} to start", lambda log=log: "started" in log.read_text(), 120)
        with write_transaction(engine) as conn:
            for n in range(2000):
                enqueue(conn, "record", {"n": n}, settings=settings)
        wait_for(
            "2000 completed jobs",
            lambda: set(statuses(engine).values()) == {"completed"},
            240,
        )
    finally:
        _stop(workers, logs)

    runs = queue_jobs.runs(engine)
    assert len(runs) == 2000
    assert Counter(job_id for job_id, *_ in runs).most_common(1)[0][1] == 1
    assert {attempt for _, attempt, *_ in runs} == {1}
    completed = _completed_attempts(engine)
    assert len(completed) == 2000 and set(completed.values()) == {1}
    assert len({pid for *_, pid in runs}) >= 2  # the work was shared
    for log in logs:
        assert "stopped: claimed" in log.read_text()


def test_a_worker_killed_mid_job_loses_nothing_and_runs_nothing_twice(
    worker_env: dict[str, str], engine: sa.Engine, tmp_path: Path, db_url: str
) -> None:
    env = dict(worker_env, PIPELINE_LEASE_SECONDS="1.5")
    settings = make_settings(db_url, tmp_path)
    queue_jobs.create_runs_table(engine)
    with write_transaction(engine) as conn:
        quick = [enqueue(conn, "record", {"n": n}, settings=settings) for n in range(30)]
        slow = enqueue(conn, "sleepy", {"seconds": 4}, settings=settings)
        after = [enqueue(conn, "record", {"n": n}, settings=settings) for n in range(30, 40)]

    first_log, second_log = tmp_path / "first.log", tmp_path / "second.log"
    first = start_worker(env, first_log)
    try:
        wait_for("the slow job to start", lambda: slow in {r[0] for r in queue_jobs.runs(engine)})
        # The quick jobs before it are committed while it runs (FLUSH_WHEN_SLOW).
        wait_for(
            "the quick jobs to be committed",
            lambda: {statuses(engine)[q] for q in quick} == {"completed"},
        )
        first.kill()
        first.wait(10)
        assert statuses(engine)[slow] == "running"
        second = start_worker(env, second_log)
        try:
            wait_for(
                "every job to complete",
                lambda: set(statuses(engine).values()) == {"completed"},
                120,
            )
        finally:
            _stop([second], [second_log])
    finally:
        if first.poll() is None:
            first.kill()

    runs = Counter(job_id for job_id, *_ in queue_jobs.runs(engine))
    assert runs[slow] == 2  # started by the killed worker, run again after its lease expired
    assert {job_id: n for job_id, n in runs.items() if job_id != slow} == dict.fromkeys(
        [*quick, *after], 1
    )
    assert _completed_attempts(engine) == Counter(dict.fromkeys([*quick, slow, *after], 1))
    with engine.connect() as conn:
        history = conn.execute(
            sa.select(jobs.c.attempt, jobs.c.status)
            .where(jobs.c.queue_id == slow)
            .order_by(jobs.c.id)
        ).all()
        attempts = conn.execute(sa.select(queue.c.attempts).where(queue.c.id == slow)).scalar()
    assert [tuple(h) for h in history] == [(1, "expired"), (2, "completed")]
    assert attempts == 2
    assert "rescued 1 job(s) with expired leases: 1 queued again" in second_log.read_text()


def test_sigterm_lets_the_running_job_finish(
    worker_env: dict[str, str], engine: sa.Engine, tmp_path: Path, db_url: str
) -> None:
    settings = make_settings(db_url, tmp_path)
    queue_jobs.create_runs_table(engine)
    with write_transaction(engine) as conn:
        job_id = enqueue(conn, "sleepy", {"seconds": 1.0}, settings=settings)
        later = enqueue(conn, "record", {}, settings=settings)
    log = tmp_path / "worker.log"
    proc = start_worker(worker_env, log)
    wait_for("the job to start", lambda: queue_jobs.runs(engine))
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(60) == 0, log.read_text()
    assert statuses(engine) == {job_id: "completed", later: "queued"}
    assert [r[:2] for r in queue_jobs.runs(engine)] == [(job_id, 1)]
    assert "stopping (signal 15)" in log.read_text()


def test_sigterm_releases_a_job_that_outlasts_the_grace_period(
    worker_env: dict[str, str], engine: sa.Engine, tmp_path: Path, db_url: str
) -> None:
    settings = make_settings(db_url, tmp_path)
    queue_jobs.create_runs_table(engine)
    with write_transaction(engine) as conn:
        job_id = enqueue(conn, "sleepy", {"seconds": 30}, settings=settings)
    log = tmp_path / "worker.log"
    proc = start_worker(worker_env, log, "--grace", "0.5")
    wait_for("the job to start", lambda: queue_jobs.runs(engine))
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(20) == 0, log.read_text()
    assert statuses(engine) == {job_id: "queued"}
    with engine.connect() as conn:
        attempts = conn.execute(sa.select(queue.c.attempts)).scalar()
        history = conn.execute(sa.select(jobs.c.attempt, jobs.c.status, jobs.c.error)).all()
    assert attempts == 0  # a release is not an attempt
    assert [tuple(h) for h in history] == [
        (1, "released", "worker stopped: not finished within 0.5 s grace")
    ]
    assert f"job {job_id} (sleepy) did not finish within 0.5 s of the stop signal; " in (
        log.read_text()
    )


def test_worker_concurrency_spawns_processes_that_drain_the_queue(
    worker_env: dict[str, str], engine: sa.Engine, tmp_path: Path, db_url: str
) -> None:
    settings = make_settings(db_url, tmp_path)
    queue_jobs.create_runs_table(engine)
    with write_transaction(engine) as conn:
        for n in range(200):
            enqueue(conn, "record", {"n": n}, settings=settings)
    log = tmp_path / "workers.log"
    proc = start_worker(worker_env, log, "--concurrency", "2", "--once")
    assert proc.wait(180) == 0, log.read_text()
    assert set(statuses(engine).values()) == {"completed"}
    assert len(queue_jobs.runs(engine)) == 200
    text = log.read_text()
    assert text.count(JOB_TYPES_LINE) == 2
    assert text.count("stopped: claimed") == 2


@pytest.mark.postgres
@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
def test_a_worker_outlives_its_database_connections_being_killed(
    worker_env: dict[str, str], engine: sa.Engine, tmp_path: Path, db_url: str
) -> None:
    # Three waves of jobs; while each runs (one of its jobs has run), every connection of
    # the worker is killed: waits on conditions, so a fast or a loaded machine kills as
    # many times.
    env = dict(worker_env, PIPELINE_RETRY_BACKOFF="0.05", PIPELINE_RETRY_BACKOFF_MAX="0.1")
    settings = make_settings(db_url, tmp_path)
    queue_jobs.create_runs_table(engine)
    log = tmp_path / "worker.log"
    proc = start_worker(env, log)
    ids: list[int] = []
    killed = []
    try:
        for _ in range(3):
            with write_transaction(engine) as conn:
                wave = [
                    enqueue(conn, "sleepy", {"seconds": 0.02}, settings=settings)
                    for _ in range(100)
                ]
            ids += wave
            wait_for(
                "a job of the wave to run",
                lambda wave=wave: {run[0] for run in queue_jobs.runs(engine)} & set(wave),
            )
            with engine.connect() as conn:
                killed.append(
                    conn.exec_driver_sql(
                        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                        "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                    ).scalar_one()
                )
            wait_for(
                "the wave to complete",
                lambda: set(statuses(engine).values()) == {"completed"},
                timeout=120,
            )
        assert proc.poll() is None, log.read_text()
    finally:
        _stop([proc], [log])
    assert len(killed) == 3 and min(killed) >= 1  # the worker's connections, each time
    assert _completed_attempts(engine) == Counter(dict.fromkeys(ids, 1))
    with engine.connect() as conn:
        failed = conn.execute(sa.select(jobs.c.error).where(jobs.c.status == "failed")).scalars()
        for error in failed:  # the driver's message, never the SQL and its parameters
            assert error.startswith("OperationalError (") and "[SQL" not in error, error


def test_a_worker_started_while_the_database_is_away_waits_for_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # A worker that starts while PostgreSQL restarts meets the database away before its
    # loop; it waits for it, as its loop does, rather than die with a traceback
    checks: list[int] = []

    def ensure_schema(engine: sa.Engine) -> None:
        checks.append(1)
        if len(checks) < 3:
            raise sa.exc.OperationalError("SELECT 1", {}, Exception("connection refused"))

    class Ran:
        def __init__(self, engine: sa.Engine, pm: Any, **options: Any) -> None:
            pass

        def run(self) -> str:
            return "ran"

    monkeypatch.setattr(ensure, "ensure_schema", ensure_schema)
    monkeypatch.setattr(worker, "Worker", Ran)
    monkeypatch.setenv("PIPELINE_DATABASE_URL", f"sqlite:///{tmp_path / 'db.sqlite'}")
    monkeypatch.setenv("PIPELINE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("PIPELINE_POLL_INTERVAL", "0.01")
    assert worker.run_worker(once=True) == "ran"
    assert len(checks) == 3
