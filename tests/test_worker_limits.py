"""A worker holds only what it can run, and a job that runs past its timeout fails and is
retried (issue 15, item 9)."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from pathlib import Path

import limits_jobs
import pytest
import sqlalchemy as sa
from queue_helpers import TESTS, make_pm, make_settings, start_worker, statuses, wait_for
from queue_jobs import create_runs_table, runs

from pipeline_core.config import ConfigError, load_settings
from pipeline_core.db.engine import write_transaction
from pipeline_core.db.tables import jobs, queue
from pipeline_core.queue.enqueue import enqueue
from pipeline_core.queue.job import ClaimedJob
from pipeline_core.queue.worker import DatabaseFeed, Worker

pytest_plugins = ["queue_fixtures"]


@pytest.fixture(scope="session")
def limits_plugin_path(tmp_path_factory: pytest.TempPathFactory) -> str:
    """PYTHONPATH on which the limit-test job types are an installed plugin."""
    folder = tmp_path_factory.mktemp("limits-plugin")
    dist_info = folder / "limits_test_jobs-1.0.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: limits-test-jobs\nVersion: 1.0\n", "utf-8"
    )
    (dist_info / "entry_points.txt").write_text(
        "[dmo_pipeline]\nlimits-test-jobs = limits_jobs\n", "utf-8"
    )
    return os.pathsep.join([str(folder), str(TESTS)])


@pytest.fixture
def gate() -> Iterator[threading.Event]:
    event = limits_jobs.GATES.setdefault("slow", threading.Event())
    event.clear()
    yield event
    event.set()


class SixAtOnce(DatabaseFeed):
    """Claims six jobs whatever the worker asks for."""

    def next_jobs(self, owner: str, limit: int) -> list[ClaimedJob]:
        return super().next_jobs(owner, 6)


def history(engine: sa.Engine) -> list[tuple[int, int, str, str | None]]:
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(jobs.c.queue_id, jobs.c.attempt, jobs.c.status, jobs.c.error).order_by(
                jobs.c.queue_id, jobs.c.attempt, jobs.c.id
            )
        ).all()
    return [tuple(row) for row in rows]  # type: ignore[misc]


def test_a_worker_gives_back_the_jobs_it_cannot_start_while_one_runs_long(
    db_url: str, engine: sa.Engine, tmp_path: Path, gate: threading.Event
) -> None:
    settings = make_settings(db_url, tmp_path)
    pm = make_pm(settings)
    pm.register(limits_jobs, name="limits-test-jobs")
    create_runs_table(engine)
    with write_transaction(engine) as conn:
        slow = enqueue(conn, "block", {"gate": "slow"}, settings=settings, priority=1)
        quick = [enqueue(conn, "marks", {"n": n}, settings=settings) for n in range(5)]
    # a worker whose batch has grown to six (its loop, not process_once: that one runs the
    # batch it was asked for whole)
    feed = SixAtOnce(engine, settings)
    slow_worker = Worker(engine, pm, owner="slow-worker", feed=feed, once=True)
    thread = threading.Thread(target=slow_worker.run)
    thread.start()
    try:
        # Worker 1 claims all six and runs the slow one; the five waiting behind it go back
        wait_for("the slow job to run", lambda: [row[0] for row in runs(engine)] == [slow])
        wait_for(
            "the quick jobs to be given back",
            lambda: [statuses(engine)[job] for job in quick] == ["queued"] * 5,
            timeout=30,
        )
        assert statuses(engine)[slow] == "running"
        idle = Worker(engine, pm, owner="idle-worker").process_once(10)
        assert idle.completed == 5
    finally:
        gate.set()
        thread.join(60)
    assert not thread.is_alive()
    assert slow_worker.counts.claimed == 6
    assert slow_worker.counts.released == 5
    assert slow_worker.counts.completed == 1
    assert statuses(engine) == {job: "completed" for job in [slow, *quick]}
    assert [(job, attempt, worker) for job, attempt, worker, _ in runs(engine)] == [
        (slow, 1, "slow-worker"),
        *[(job, 1, "idle-worker") for job in quick],
    ]
    given_back = f"given back: job {slow} (block) runs long"
    assert history(engine) == [
        (slow, 1, "completed", None),
        *[
            row
            for job in quick
            for row in ((job, 1, "released", given_back), (job, 1, "completed", None))
        ],
    ]


def test_job_timeouts_are_read_per_job_type() -> None:
    settings = load_settings({"PIPELINE_JOB_TIMEOUTS": " scrape=3600, transform=0.5 ,"})
    assert settings.job_timeouts == {"scrape": 3600.0, "transform": 0.5}
    assert load_settings({}).job_timeouts == {}
    for bad, why in (
        ("scrape", "comma-separated JOB_TYPE=SECONDS pairs, such as scrape=3600"),
        ("=5", "comma-separated JOB_TYPE=SECONDS pairs, such as scrape=3600"),
        ("scrape=0", "scrape: seconds must be a number greater than 0"),
        ("scrape=soon", "scrape: seconds must be a number greater than 0"),
    ):
        with pytest.raises(ConfigError) as error:
            load_settings({"PIPELINE_JOB_TIMEOUTS": bad})
        assert str(error.value).startswith(f"PIPELINE_JOB_TIMEOUTS={bad!r} is not accepted: ")
        assert str(error.value).endswith(why)


def test_a_job_past_its_timeout_fails_and_is_retried_and_the_worker_lives_on(
    worker_env: dict[str, str],
    limits_plugin_path: str,
    engine: sa.Engine,
    db_url: str,
    tmp_path: Path,
) -> None:
    """A handler that stops on its cancellation (but returns success): both its attempts
    fail 'timed out' and it is dead-lettered. One that ignores it (10 s more) and swallows
    the first interruption: its one attempt fails the same way. The worker process runs
    on and then completes a quick job."""
    settings = make_settings(db_url, tmp_path)
    create_runs_table(engine)
    with write_transaction(engine) as conn:
        polite = enqueue(conn, "cooperative", {}, settings=settings, max_attempts=2)
        rude = enqueue(conn, "stubborn", {}, settings=settings, max_attempts=1)
    env = dict(
        worker_env,
        PYTHONPATH=os.pathsep.join([limits_plugin_path, worker_env["PYTHONPATH"]]),
        PIPELINE_JOB_TIMEOUTS="cooperative=0.5,stubborn=0.5",
        PIPELINE_RETRY_BACKOFF="0.1",
        PIPELINE_RETRY_BACKOFF_MAX="0.2",
    )
    log = tmp_path / "worker.log"
    worker = start_worker(env, log)
    try:
        wait_for(
            "both jobs to be dead-lettered",
            lambda: statuses(engine) == {polite: "failed", rude: "failed"},
            timeout=90,
        )
        assert worker.poll() is None, log.read_text()
        with write_transaction(engine) as conn:
            after = enqueue(conn, "marks", {"n": 1}, settings=settings)
        wait_for("the next job to complete", lambda: statuses(engine)[after] == "completed")
        assert worker.poll() is None, log.read_text()
    finally:
        worker.send_signal(signal.SIGTERM)
        code = worker.wait(60)
    assert code == 0, log.read_text()
    timed_out = "timed out: job {} ({}) ran longer than its 0.5 s timeout (PIPELINE_JOB_TIMEOUTS)"
    assert history(engine) == [
        (polite, 1, "failed", timed_out.format(polite, "cooperative")),
        (polite, 2, "failed", timed_out.format(polite, "cooperative")),
        (rude, 1, "failed", timed_out.format(rude, "stubborn")),
        (after, 1, "completed", None),
    ]
    assert [(job, attempt) for job, attempt, _, _ in runs(engine)] == [
        (polite, 1),
        (polite, 2),
        (rude, 1),
        (after, 1),
    ]
    with engine.connect() as conn:
        dead = conn.execute(
            sa.select(queue.c.id, queue.c.dead_lettered, queue.c.attempts).order_by(queue.c.id)
        ).all()
    assert [tuple(row) for row in dead] == [(polite, True, 2), (rude, True, 1), (after, False, 1)]
