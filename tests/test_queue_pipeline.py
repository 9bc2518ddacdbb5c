"""A source scraped end to end through the queue by the real worker: ``queue add scrape``
then ``dmo-pipeline worker --once`` as a child process runs
scrape → transform → ingest, with the files in a local folder and in S3 (moto over HTTP);
an ingest job whose database connection is killed midway, failed and retried by the
worker; and the crawl process of a scrape stopped when its worker shuts down, dies or
loses its lease, its crawl row closed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import orjson
import pytest
import sqlalchemy as sa
from conftest import run_cli
from feeds import expected_rows, feed, listing, write_mapping
from jobs_kit import (
    check_file_row,
    job_settings,
    kill_second_batch,
    staging_counts,
    staging_rows,
    stored_bytes,
)
from moto_server import CREDENTIALS, moto_endpoint  # noqa: F401  (a fixture)
from queue_helpers import expire_and_rescue, wait_for

from pipeline_core.config import Settings, load_settings
from pipeline_core.db import make_engine
from pipeline_core.db.tables import configs, crawls, errors, files, jobs, queue
from pipeline_core.hookspecs import hookimpl
from pipeline_core.jobtypes import JobResult, JobType, NextJob
from pipeline_core.mapping import load_mapping_file
from pipeline_core.plugins import get_plugin_manager
from pipeline_core.queue import enqueue
from pipeline_core.queue.store import rescue_expired
from pipeline_core.queue.worker import Worker
from pipeline_core.testing import FeedServer, paginate_json
from pipeline_core.testing.server import LoopbackHTTPServer

SOURCE = "queue-feed"
COUNT = 30  # two pages of 20 and 10: small, each scrape starts a crawl process


def _ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result.stdout


def _store_config(engine: sa.Engine, folder: Path, url: str) -> None:
    """The source as a stored configuration (as the API stores it), so ingest sets its
    ``last_scrape_at``."""
    row = load_mapping_file(write_mapping(folder, SOURCE, url)).to_config_row()
    with engine.begin() as conn:
        conn.execute(sa.insert(configs).values(**row))


def _queue_rows(engine: sa.Engine) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(sa.select(queue).order_by(queue.c.id)).mappings()]


def _attempts(engine: sa.Engine) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        return [
            tuple(r)
            for r in conn.execute(
                sa.select(jobs.c.queue_id, jobs.c.attempt, jobs.c.status).order_by(jobs.c.id)
            )
        ]


def _file_rows(engine: sa.Engine) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(sa.select(files).order_by(files.c.id)).mappings()]


@pytest.mark.parametrize(("storage", "dmo"), [("local", None), ("s3", "test-dmo")])
def test_a_source_scraped_end_to_end_through_the_queue(
    storage: str,
    dmo: str | None,
    db_url: str,
    engine: sa.Engine,
    pipeline_env: dict[str, str],
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    env = dict(
        pipeline_env,
        PIPELINE_POLL_INTERVAL="0.1",
        # Shorter than the crawl process takes: its lease lives on heartbeats alone.
        PIPELINE_LEASE_SECONDS="1",
    )
    if storage == "s3":
        endpoint = request.getfixturevalue("moto_endpoint")
        bucket = f"queue-{uuid.uuid4().hex[:12]}"
        boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket=bucket)
        env.update(
            CREDENTIALS,
            PIPELINE_STORAGE_URL=f"s3://{bucket}/dmo",
            PIPELINE_S3_ENDPOINT_URL=endpoint,
        )
    settings = load_settings({k: v for k, v in env.items() if k.startswith("PIPELINE_")})
    records = feed(COUNT)
    # page 2 answers after 1.5 s: the scrape surely outlasts its 1 s lease
    delays = {"/listings?page=2": 1.5}
    with FeedServer(paginate_json(records, per_page=20), delays=delays) as server:
        _store_config(engine, tmp_path / "drafts", server.url("/listings?page=1"))
        add = ["queue", "add", "scrape", "--payload", f'{{"source": "{SOURCE}"}}']
        if dmo is not None:  # as the scheduler queues a scrape
            add += ["--dmo", dmo, "--dedup-key", f"scrape:{SOURCE}"]
        assert _ok(run_cli(*add, env=env)) == "queued job 1 (scrape)\n"
        log = tmp_path / "worker.log"
        with log.open("wb") as out:
            worker = subprocess.Popen(
                [sys.executable, "-m", "pipeline_core.cli", "worker", "--once"],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        # Another worker's rescue pass, again and again while the scrape runs: a live
        # worker's heartbeats keep its lease, so nothing is ever rescued.
        rescued = 0
        deadline = time.monotonic() + 300
        while worker.poll() is None and time.monotonic() < deadline:
            counts = rescue_expired(engine, settings)
            rescued += counts.retried + counts.dead_lettered
            time.sleep(0.2)
        if worker.poll() is None:
            worker.kill()
            worker.wait()
            pytest.fail(f"the worker did not finish\n{log.read_text('utf-8')}")
        output = log.read_text("utf-8")
    assert worker.returncode == 0, output
    assert rescued == 0, output
    assert "claimed 3: completed 3, retried 0, dead-lettered 0, stale 0, released 0" in output, (
        output
    )
    assert len(server.requests) == 2

    # the three jobs: completed at the first attempt, one correlation id, one DMO
    rows = _queue_rows(engine)
    assert [(r["id"], r["type"], r["status"], r["attempts"]) for r in rows] == [
        (1, "scrape", "completed", 1),
        (2, "transform", "completed", 1),
        (3, "ingest", "completed", 1),
    ]
    assert len({r["correlation_id"] for r in rows}) == 1 and rows[0]["correlation_id"]
    # queued without --dmo, the scrape takes its source's DMO
    assert [r["dmo"] for r in rows] == ["test-dmo", "test-dmo", "test-dmo"]
    assert [r["lease_owner"] for r in rows] == [None, None, None]
    assert _attempts(engine) == [(1, 1, "completed"), (2, 1, "completed"), (3, 1, "completed")]
    with engine.connect() as conn:
        scrape_ms = conn.execute(sa.select(jobs.c.duration_ms).where(jobs.c.queue_id == 1))
        # longer than the lease (page 2 takes 1.5 s), yet never rescued: heartbeats kept it
        assert scrape_ms.scalar_one() > 1500
        assert conn.execute(sa.select(sa.func.count()).select_from(errors)).scalar_one() == 0
        crawl = conn.execute(sa.select(crawls)).mappings().one()
        last_scrape_at = conn.execute(sa.select(configs.c.last_scrape_at)).scalar_one()

    # the raw and the normalised file: recorded exactly, their bytes in storage
    raw, normalised = _file_rows(engine)
    day = crawl["started_at"].strftime("%Y/%m/%d")
    root = f"file://{tmp_path / 'files'}" if storage == "local" else f"s3://{bucket}/dmo"
    assert raw["url"] == f"{root}/raw/{SOURCE}/{day}/crawl-{crawl['id']}.jsonl"
    assert normalised["url"].startswith(f"{root}/normalised/{SOURCE}/")
    expected = [("raw", 1, COUNT), ("normalised", 2, COUNT)]
    assert [(f["kind"], f["job_id"], f["record_count"]) for f in (raw, normalised)] == expected
    assert (raw["source"], raw["crawl_id"]) == (SOURCE, crawl["id"])
    assert (normalised["source"], normalised["crawl_id"]) == (SOURCE, crawl["id"])
    for row in (raw, normalised):
        data = stored_bytes(settings, row["url"])
        check_file_row(settings, row, data)
        if storage == "s3":  # read back with boto3 itself, not through our storage
            key = row["url"].removeprefix(f"s3://{bucket}/")
            s3 = boto3.client("s3", endpoint_url=endpoint)
            assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == data
        else:
            assert Path(row["url"].removeprefix("file://")).read_bytes() == data

    # staged exactly; the crawl closed as complete; last_scrape_at set by the ingest
    assert staging_counts(engine) == expected_rows(records)
    assert crawl["complete"] is True
    assert crawl["stats"]["inserted"] == COUNT
    assert last_scrape_at == crawl["started_at"]

    listed = _ok(run_cli("queue", "list", env=env)).splitlines()
    assert listed[-1] == "3 job(s): 0 queued, 0 running, 3 completed, 0 failed (0 dead-lettered)"
    assert [line.split()[:4] for line in listed[1:-1]] == [
        ["3", "ingest", "completed", "1/5"],
        ["2", "transform", "completed", "1/5"],
        ["1", "scrape", "completed", "1/5"],
    ]


def _worker_settings(db_url: str, tmp_path: Path, url: str, **extra: str) -> Settings:
    write_mapping(tmp_path / "mappings", SOURCE, url)
    return job_settings(
        db_url,
        str(tmp_path / "files"),
        PIPELINE_SOURCES_PATH=str(tmp_path / "mappings"),
        PIPELINE_RETRY_BACKOFF="0.5",
        PIPELINE_RETRY_BACKOFF_MAX="0.5",
        PIPELINE_POLL_INTERVAL="0.1",
        PIPELINE_DMO_CONCURRENCY="0",
        **extra,
    )


def _run_worker(engine: sa.Engine, settings: Settings) -> dict[str, Any]:
    """``dmo-pipeline worker --once`` in this process (so the test can reach its database
    connection), in a thread so the worker installs no signal handlers in pytest."""
    counts: dict[str, Any] = {}

    def target() -> None:
        worker = Worker(engine, get_plugin_manager(settings), once=True)
        counts.update(worker.run().as_dict())

    thread = threading.Thread(target=target)
    thread.start()
    thread.join(300)
    assert not thread.is_alive(), "the worker did not stop"
    return counts


def test_an_ingest_job_whose_connection_is_killed_is_retried_by_the_worker(
    db_url: str, engine: sa.Engine, tmp_path: Path
) -> None:
    if not db_url.startswith("postgresql"):
        pytest.skip("pg_terminate_backend is PostgreSQL's")
    records = feed(120)  # batches of 50: 50, 50, 20
    observer = make_engine(db_url)  # another session: sees only what was committed
    kill_in_second_batch, seen = kill_second_batch(observer)

    with FeedServer(paginate_json(records, per_page=60)) as server:
        settings = _worker_settings(db_url, tmp_path, server.url("/listings?page=1"))
        with engine.begin() as conn:
            enqueue(conn, "scrape", {"source": SOURCE}, settings=settings)
        sa.event.listen(engine, "before_cursor_execute", kill_in_second_batch)
        try:
            first = _run_worker(engine, settings)
        finally:
            sa.event.remove(engine, "before_cursor_execute", kill_in_second_batch)

    # scrape and transform completed; the ingest's first attempt failed and waits
    assert (first["claimed"], first["completed"], first["retried"]) == (3, 2, 1)
    assert seen["listings_in_batch"] == 100  # the batch was half way through
    after = staging_rows(observer)
    assert after == seen["before"]  # exactly as before the failed batch
    assert len(after["listings"]) == 50
    rows = _queue_rows(observer)
    assert [(r["type"], r["status"], r["attempts"]) for r in rows] == [
        ("scrape", "completed", 1),
        ("transform", "completed", 1),
        ("ingest", "queued", 1),
    ]
    ingest_job = rows[2]
    assert ingest_job["lease_owner"] is None
    assert ingest_job["last_error"].startswith(
        f"JobError: ingest of file 2 ({SOURCE}): a stage-write batch failed and was rolled "
        "back, so staging is as it was before that batch (1 batches of 50 were written)"
    )
    with observer.connect() as conn:
        crawl = conn.execute(sa.select(crawls.c.stats)).scalar_one()
        assert crawl["archived"] is True  # the ingest never closed the crawl
        failed = conn.execute(sa.select(errors.c.job_id, errors.c.stage)).all()
    assert [tuple(r) for r in failed] == [(3, "job")]

    # the retry, once its backoff (at most 0.5 s) is over
    time.sleep(0.6)
    second = _run_worker(engine, settings)
    assert (second["claimed"], second["completed"], second["retried"]) == (1, 1, 0)
    rows = _queue_rows(observer)
    assert [(r["type"], r["status"], r["attempts"]) for r in rows] == [
        ("scrape", "completed", 1),
        ("transform", "completed", 1),
        ("ingest", "completed", 2),
    ]
    assert len({r["correlation_id"] for r in rows}) == 1
    assert _attempts(observer) == [
        (1, 1, "completed"),
        (2, 1, "completed"),
        (3, 1, "failed"),
        (3, 2, "completed"),
    ]
    with observer.connect() as conn:
        stats = conn.execute(
            sa.select(jobs.c.stats).where(jobs.c.queue_id == 3, jobs.c.attempt == 2)
        ).scalar_one()
    assert (stats["inserted"], stats["unchanged"], stats["updated"]) == (70, 50, 0)
    assert (stats["duplicates"], stats["complete"]) == (1, True)
    assert staging_counts(observer) == expected_rows(records)
    observer.dispose()


class LoopbackFeed:
    """A feed server on 127.0.0.1 (a daemon thread per request) whose every GET is answered
    by :meth:`answer`; subclasses say how."""

    def __init__(self) -> None:
        feed = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                feed.answer(self)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = LoopbackHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def answer(self, request: BaseHTTPRequestHandler) -> None:
        raise NotImplementedError

    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/listings?page=1"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _queue_scrape(pipeline_env: dict[str, str], tmp_path: Path, url: str) -> dict[str, str]:
    """Queue a scrape of the source at ``url`` with ``queue add`` (job 1); return the
    environment for the worker."""
    write_mapping(tmp_path / "mappings", SOURCE, url)
    env = dict(
        pipeline_env,
        PIPELINE_SOURCES_PATH=str(tmp_path / "mappings"),
        PIPELINE_POLL_INTERVAL="0.1",
    )
    add = run_cli("queue", "add", "scrape", "--payload", f'{{"source": "{SOURCE}"}}', env=env)
    assert _ok(add) == "queued job 1 (scrape)\n"
    return env


class StalledFeed(LoopbackFeed):
    """An HTTP server on 127.0.0.1 that answers nothing for a minute: a crawl that hangs."""

    def __init__(self) -> None:
        self.requested = threading.Event()
        super().__init__()

    def answer(self, request: BaseHTTPRequestHandler) -> None:
        self.requested.set()
        time.sleep(60)


def _children(pid: int) -> list[int]:
    """Ids of the live processes whose parent is ``pid`` (Linux's /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            found.append(int(stat.parent.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_sigterm_to_a_worker_running_a_scrape_stops_the_crawl_and_releases_the_job(
    db_url: str, engine: sa.Engine, pipeline_env: dict[str, str], tmp_path: Path
) -> None:
    if not Path("/proc/self/stat").exists():
        pytest.skip("reads processes from /proc")
    stalled = StalledFeed()
    try:
        env = _queue_scrape(pipeline_env, tmp_path, stalled.url())
        log = tmp_path / "worker.log"
        with log.open("wb") as out:
            worker = subprocess.Popen(
                [sys.executable, "-m", "pipeline_core.cli", "worker", "--grace", "1"],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        try:
            assert stalled.requested.wait(120), log.read_text("utf-8")  # the crawl is fetching
            crawl_processes = _children(worker.pid)
            assert len(crawl_processes) == 1
            worker.send_signal(signal.SIGTERM)
            assert worker.wait(60) == 0
        finally:
            if worker.poll() is None:
                worker.kill()
                worker.wait()
    finally:
        stalled.close()
    output = log.read_text("utf-8")
    assert not _alive(crawl_processes[0]), output  # no crawl outlives its worker
    assert "did not finish within 1 s of the stop signal; cancelling it" in output
    assert "claimed 1: completed 0, retried 0, dead-lettered 0, stale 0, released 1" in output

    rows = _queue_rows(engine)  # back in the queue, as if never tried
    assert [(r["type"], r["status"], r["attempts"], r["lease_owner"]) for r in rows] == [
        ("scrape", "queued", 0, None)
    ]
    with engine.connect() as conn:
        attempts = conn.execute(sa.select(jobs.c.attempt, jobs.c.status, jobs.c.error)).all()
        crawl = conn.execute(sa.select(crawls)).mappings().one()
        assert conn.execute(sa.select(sa.func.count()).select_from(files)).scalar_one() == 0
    assert [tuple(a) for a in attempts] == [
        (1, "released", "worker stopped: not finished within 1 s grace")
    ]
    assert crawl["finished_at"] is not None and crawl["complete"] is False
    assert crawl["finish_reason"] == "crawl process was stopped: the worker shut down"


class EndlessFeed(LoopbackFeed):
    """A JSON feed on 127.0.0.1 that never ends: page N holds listing N and links to page
    N + 1, each answered ``delay`` seconds after it is asked for. A crawl of it runs until
    it is stopped."""

    def __init__(self, delay: float) -> None:
        self.requests = 0
        self.delay = delay
        super().__init__()

    def answer(self, request: BaseHTTPRequestHandler) -> None:
        self.requests += 1
        number = int(parse_qs(urlsplit(request.path).query)["page"][0])
        time.sleep(self.delay)  # a slow server
        body = orjson.dumps({"data": [listing(number)], "next": f"/listings?page={number + 1}"})
        request.send_response(200)
        request.send_header("Content-Type", "application/json")
        request.send_header("Content-Length", str(len(body)))
        request.end_headers()
        request.wfile.write(body)


@pytest.mark.parametrize(
    ("delay", "pages"),
    [pytest.param(0.2, 3, id="slow-feed"), pytest.param(60, 1, id="hung-download")],
)
def test_a_worker_killed_with_sigkill_takes_its_crawl_process_with_it(
    db_url: str,
    engine: sa.Engine,
    pipeline_env: dict[str, str],
    tmp_path: Path,
    delay: float,
    pages: int,
) -> None:
    if not Path("/proc/self/stat").exists():
        pytest.skip("reads processes from /proc")
    slow = EndlessFeed(delay)
    crawl_process: int | None = None
    try:
        env = _queue_scrape(pipeline_env, tmp_path, slow.url())
        log = tmp_path / "worker.log"
        with log.open("wb") as out:
            worker = subprocess.Popen(
                [sys.executable, "-m", "pipeline_core.cli", "worker"],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        try:
            wait_for(f"the crawl to ask for page {pages}", lambda: slow.requests >= pages, 120)
            (crawl_process,) = _children(worker.pid)
            worker.kill()
            assert worker.wait(10) == -signal.SIGKILL
            wait_for("the crawl process to stop", lambda: not _alive(crawl_process), 10)
        finally:
            if worker.poll() is None:
                worker.kill()
                worker.wait()
            if crawl_process is not None and _alive(crawl_process):  # outlived its worker
                os.kill(crawl_process, signal.SIGKILL)
    finally:
        slow.close()

    with engine.connect() as conn:
        crawl = conn.execute(sa.select(crawls)).mappings().one()
        assert conn.execute(sa.select(sa.func.count()).select_from(files)).scalar_one() == 0
    # The crawl saw its worker die and closed its crawl row, as not complete: by closing its
    # spider (the slow feed), or 5 s later, its download hanging, just before it ended.
    assert crawl["finished_at"] is not None
    assert (crawl["finish_reason"], crawl["complete"]) == ("worker died", False)
    if delay < 1:
        assert crawl["stats"]["scraped"] >= pages - 1
    else:
        assert crawl["stats"] is None
    # The job waits for its lease to expire, to be rescued.
    rows = _queue_rows(engine)
    assert [(r["type"], r["status"], r["attempts"]) for r in rows] == [("scrape", "running", 1)]


def test_a_scrape_whose_lease_is_lost_stops_its_crawl_and_closes_its_crawl_row(
    db_url: str, engine: sa.Engine, tmp_path: Path
) -> None:
    stalled = StalledFeed()
    try:
        settings = _worker_settings(db_url, tmp_path, stalled.url(), PIPELINE_LEASE_SECONDS="3")
        with engine.begin() as conn:
            job_id = enqueue(conn, "scrape", {"source": SOURCE}, settings=settings)

        def other_worker() -> None:
            if stalled.requested.wait(120):  # the crawl is fetching
                wait_for("the rescue", lambda: expire_and_rescue(engine, settings, job_id), 30)

        thread = threading.Thread(target=other_worker)
        thread.start()
        try:
            counts = Worker(engine, get_plugin_manager(settings), owner="w1").process_once(1)
        finally:
            thread.join()
    finally:
        stalled.close()

    assert (counts.claimed, counts.completed, counts.retried, counts.stale) == (1, 0, 0, 1)
    with engine.connect() as conn:
        crawl = conn.execute(sa.select(crawls)).mappings().one()
        assert conn.execute(sa.select(sa.func.count()).select_from(files)).scalar_one() == 0
    assert crawl["finished_at"] is not None
    assert (crawl["finish_reason"], crawl["complete"]) == (
        "crawl process was stopped: the job's lease was lost",
        False,
    )
    rows = _queue_rows(engine)
    assert [(r["status"], r["attempts"], r["lease_owner"]) for r in rows] == [("queued", 1, None)]
    assert _attempts(engine) == [(job_id, 1, "expired")]


class _ChainTypes:
    """Two job types: ``first`` names ``second`` as its next job; ``second`` has 2 attempts."""

    @hookimpl
    def register_job_types(self) -> list[JobType]:
        return [
            JobType("first", lambda _p, _c: JobResult({}, [NextJob("second", {})]), "First."),
            JobType("second", lambda _p, _c: {"ran": True}, "Second.", max_attempts=2),
        ]


def test_a_next_job_gets_the_attempts_of_its_type(
    db_url: str, engine: sa.Engine, tmp_path: Path
) -> None:
    settings = job_settings(db_url, str(tmp_path / "files"), PIPELINE_DMO_CONCURRENCY="0")
    pm = get_plugin_manager(settings)
    pm.register(_ChainTypes(), name="chain-types")
    with engine.begin() as conn:
        enqueue(conn, "first", {}, settings=settings)
    counts: dict[str, Any] = {}
    thread = threading.Thread(
        target=lambda: counts.update(Worker(engine, pm, once=True).run().as_dict())
    )
    thread.start()
    thread.join(60)
    assert (counts["completed"], counts["next_jobs"]) == (2, 1)
    rows = _queue_rows(engine)
    assert [(r["type"], r["status"], r["attempts"], r["max_attempts"]) for r in rows] == [
        ("first", "completed", 1, 5),
        ("second", "completed", 1, 2),
    ]
