"""Chaos: PostgreSQL restarts while 4 workers run 2,000 jobs and a crawl writes batches.

The cluster is the test's own (:mod:`own_postgres`), so no other test sees the restart.
Every job is completed exactly once (one run, one ``completed`` attempt), no worker
dies, and the staging is exact: what the crawl staged across the restart is the feed's
own records, each once, and the next crawl stages the whole feed.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from conftest import ROOT
from faulty_proxy import Call, FaultyProxy
from fetch_helpers import crawl_state, staged
from own_postgres import OwnPostgres, own_postgres  # noqa: F401  (a fixture)
from queue_helpers import start_worker, wait_for
from queue_jobs import create_runs_table

from pipeline_core.config import load_settings
from pipeline_core.db.engine import make_engine, write_transaction
from pipeline_core.db.migrate import upgrade
from pipeline_core.db.tables import jobs, queue
from pipeline_core.queue.enqueue import enqueue
from pipeline_core.testing import FeedServer
from pipeline_core.testing.server import paginate_json

pytestmark = [pytest.mark.postgres, pytest.mark.slow]
pytest_plugins = ["queue_fixtures"]

JOBS = 2000
WORKERS = 4
RECORDS = 600
PER_PAGE = 20
MAPPING = """\
source: chaos-feed
dmo: test-dmo
fetcher: json_api
url: {url}
records: data
id: id
pagination: {{type: next_link, path: next}}
fields:
  name: title
  category: {{const: attraction}}
"""


def _count(engine: sa.Engine, sql: str) -> int:
    with engine.connect() as conn:
        return int(conn.exec_driver_sql(sql).scalar() or 0)


def _completed(engine: sa.Engine) -> int:
    return _count(engine, "SELECT count(*) FROM pipeline.queue WHERE status = 'completed'")


def _reachable(engine: sa.Engine) -> bool:
    try:
        _count(engine, "SELECT 1")
    except sa.exc.OperationalError:
        return False
    return True


def test_a_database_restart_loses_no_job_and_no_worker(
    own_postgres: OwnPostgres,  # noqa: F811
    jobs_plugin_path: str,
    tmp_path: Path,
) -> None:
    admin = sa.create_engine(own_postgres.admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql("CREATE DATABASE chaos")
    admin.dispose()
    url = own_postgres.url("chaos")
    upgrade(url)
    engine = make_engine(url)
    create_runs_table(engine)
    settings = load_settings({"PIPELINE_DATABASE_URL": url})
    with write_transaction(engine) as conn:
        ids = [enqueue(conn, "record", {"n": n}, settings=settings) for n in range(JOBS)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIPELINE_")}
    env.update(
        PIPELINE_DATABASE_URL=url,
        PIPELINE_HOME=str(tmp_path / "home"),
        PIPELINE_STORAGE_URL=str(tmp_path / "files"),
        PIPELINE_ALLOWED_HOSTS="127.0.0.1",
        PIPELINE_POLL_INTERVAL="0.2",
        PIPELINE_LEASE_SECONDS="60",
        PIPELINE_DMO_CONCURRENCY="0",
        PIPELINE_BATCH_SIZE="40",
        PYTHONPATH=jobs_plugin_path,
        LOG_LEVEL="INFO",
    )
    records = [{"id": f"C{n:04d}", "title": f"Listing {n}"} for n in range(RECORDS)]
    expected = {r["id"]: {"en": r["title"]} for r in records}
    folder = tmp_path / "mappings"
    folder.mkdir()
    workers: list[subprocess.Popen[bytes]] = []

    def gate_paths() -> list[str]:
        return [call.path for call in gate.calls]

    # The crawl's request for page 6 is held until the database is back: the crawl is
    # running (batches written before, one pending, more after) whatever the machine's load
    restarted_event = threading.Event()

    def hold_page_6(call: Call) -> None:
        if call.path.endswith("page=6"):
            restarted_event.wait(120)

    with (
        FeedServer(paginate_json(records, per_page=PER_PAGE)) as server,
        FaultyProxy(server.url(""), fault=hold_page_6) as gate,
    ):
        (folder / "chaos-feed.yaml").write_text(
            MAPPING.format(url=gate.endpoint + "/listings?page=1"), "utf-8"
        )
        crawl_env = dict(env, PIPELINE_SOURCES_PATH=str(folder))
        crawl_log = (tmp_path / "crawl.log").open("wb")
        try:
            # Pages one after another, 0.1 s apart; page 6 waits for the restart
            crawl = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "scrapy",
                    "crawl",
                    "chaos-feed",
                    "-s",
                    "DOWNLOAD_DELAY=0.1",
                    "-s",
                    "CONCURRENT_REQUESTS=1",
                ],
                env=crawl_env,
                cwd=ROOT,
                stdout=crawl_log,
                stderr=subprocess.STDOUT,
            )
            wait_for("a staged batch", lambda: staged(engine, "chaos-feed"), 60)
            for n in range(WORKERS):
                workers.append(start_worker(env, tmp_path / f"worker-{n}.log"))
            wait_for("a tenth of the jobs", lambda: _completed(engine) >= JOBS // 10, 120)
            wait_for("the crawl to ask for page 6", lambda: "/listings?page=6" in gate_paths())
            assert crawl.poll() is None, "the crawl ended before the restart"
            before = _completed(engine)
            own_postgres.stop()
            time.sleep(2.0)  # workers and crawl meet a database that is away
            own_postgres.start()
            restarted = time.monotonic()
            wait_for("the database", lambda: _reachable(engine), 60)
            restarted_event.set()
            wait_for("every job", lambda: _completed(engine) == JOBS, 180)
            took = time.monotonic() - restarted
            assert crawl.wait(120) == 0, (tmp_path / "crawl.log").read_text()
            alive = [worker.poll() is None for worker in workers]
        finally:
            restarted_event.set()
            for worker in workers:
                if worker.poll() is None:
                    worker.send_signal(signal.SIGTERM)
            codes = [worker.wait(60) for worker in workers]
            crawl_log.close()
        logs = [(tmp_path / f"worker-{n}.log").read_text() for n in range(WORKERS)]
        assert alive == [True] * WORKERS, logs
        assert codes == [0] * WORKERS, logs
        assert before < JOBS
        # the restart reached the workers: they met the database away and went on
        met = ("the database failed", "committing outcomes failed")
        assert any(sign in log for log in logs for sign in met)

        with engine.connect() as conn:
            states = dict(
                conn.execute(
                    sa.select(queue.c.status, sa.func.count()).group_by(queue.c.status)
                ).all()
            )
            completed_attempts = conn.execute(
                sa.select(jobs.c.queue_id, sa.func.count())
                .where(jobs.c.status == "completed")
                .group_by(jobs.c.queue_id)
            ).all()
            ran = conn.exec_driver_sql(
                "SELECT job_id, count(*) FROM qtest_runs GROUP BY job_id"
            ).all()
        assert states == {"completed": JOBS}
        assert sorted(completed_attempts) == [(job, 1) for job in sorted(ids)]
        assert sorted(ran) == [(job, 1) for job in sorted(ids)]

        # what the crawl staged across the restart is the feed's, each listing once
        first = staged(engine, "chaos-feed")
        assert first, "nothing was staged"
        assert {ext: rec["name"] for ext, rec in first.items()} == {
            ext: expected[ext] for ext in first
        }
        complete, stats = crawl_state(engine, "chaos-feed")
        assert complete is (len(first) == RECORDS)
        # the next crawl stages the whole feed, exactly
        again = subprocess.run(
            [sys.executable, "-m", "scrapy", "crawl", "chaos-feed"],
            env=crawl_env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert again.returncode == 0, again.stderr
    after = staged(engine, "chaos-feed")
    assert {ext: rec["name"] for ext, rec in after.items()} == expected
    assert crawl_state(engine, "chaos-feed")[0] is True
    with engine.connect() as conn:
        listings = conn.exec_driver_sql(
            "SELECT count(*), count(DISTINCT external_id), "
            "count(*) FILTER (WHERE status = 'withdrawn') FROM staging.listings"
        ).one()
    assert tuple(listings) == (RECORDS, RECORDS, 0)
    print(
        f"\nchaos: database restart: {JOBS} jobs on {WORKERS} workers; {before} done before "
        f"the restart, the rest {took:.1f} s after it; the crawl staged {len(first)} of "
        f"{RECORDS} listings across it (complete: {complete}, stats {stats})"
    )
    engine.dispose()
