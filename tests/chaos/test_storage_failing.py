"""Chaos: the storage fails for a while — a local folder made read-only, or moto's S3
answering errors — under a worker running scrape → transform → ingest.

Each phase of the outage is short and lasts until the storage has refused the scrape's
archive, then the transform's normalised file. The scrape keeps its archive and retries
its store (decision 49): with ``PIPELINE_STORAGE_RETRY_SECONDS=0`` (the read-only folder)
its attempt fails and the next attempt stores the kept archive; with a retry window (S3)
the attempt rides the outage out. Either way the source is crawled once. The transform's
attempt fails and is retried. Nothing is half-written (the storage holds exactly the
files that ``pipeline.files`` describes, their bytes matching their size and sha256; no
temporary file or kept archive is left) and nothing is lost (every listing of the feed is
staged).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import boto3
import pytest
import sqlalchemy as sa
from conftest import ROOT
from faulty_proxy import Call, FaultyProxy, s3_error
from feeds import feed, write_mapping
from jobs_kit import check_file_row, stored_bytes
from moto_server import CREDENTIALS, moto_endpoint  # noqa: F401  (a fixture)
from queue_helpers import wait_for

from pipeline_core.config import Settings, load_settings
from pipeline_core.db.engine import write_transaction
from pipeline_core.db.tables import crawls, files, jobs, queue, staging
from pipeline_core.jobs.scrape import pending_folder
from pipeline_core.queue.enqueue import enqueue
from pipeline_core.storage import get_storage
from pipeline_core.testing import FeedServer, paginate_json

pytestmark = pytest.mark.slow

SOURCE = "chaos-storage"
COUNT = 60


def _failed_attempts(engine: sa.Engine, job_type: str) -> list[str]:
    with engine.connect() as conn:
        return list(
            conn.execute(
                sa.select(jobs.c.error)
                .join(queue, queue.c.id == jobs.c.queue_id)
                .where(queue.c.type == job_type, jobs.c.status == "failed")
                .order_by(jobs.c.id)
            ).scalars()
        )


def _attempts(engine: sa.Engine, job_type: str) -> list[str]:
    """Every attempt's status, in order."""
    with engine.connect() as conn:
        return list(
            conn.execute(
                sa.select(jobs.c.status)
                .join(queue, queue.c.id == jobs.c.queue_id)
                .where(queue.c.type == job_type)
                .order_by(jobs.c.id)
            ).scalars()
        )


def _states(engine: sa.Engine) -> dict[str, str]:
    with engine.connect() as conn:
        return dict(conn.execute(sa.select(queue.c.type, queue.c.status)).all())  # type: ignore[arg-type]


def _worker(env: dict[str, str], log: Path, unprivileged: bool) -> subprocess.Popen[bytes]:
    """A worker; as root, without the capability to write where permissions forbid it."""
    prefix: list[str] = []
    if unprivileged and os.geteuid() == 0:
        prefix = ["setpriv", "--bounding-set=-dac_override,-dac_read_search", "--"]
    with log.open("wb") as out:
        return subprocess.Popen(
            [*prefix, sys.executable, "-m", "pipeline_core.cli", "worker"],
            env=env,
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


@pytest.fixture
def storage_env(pipeline_env: dict[str, str], tmp_path: Path) -> Iterator[dict[str, str]]:
    records = feed(COUNT)
    with FeedServer(paginate_json(records, per_page=25)) as server:
        write_mapping(tmp_path / "mappings", SOURCE, server.url("/listings?page=1"))
        yield dict(
            pipeline_env,
            PIPELINE_SOURCES_PATH=str(tmp_path / "mappings"),
            PIPELINE_POLL_INTERVAL="0.1",
            PIPELINE_RETRY_BACKOFF="0.2",
            PIPELINE_RETRY_BACKOFF_MAX="0.5",
            PIPELINE_MAX_RETRIES="20",
            PIPELINE_DMO_CONCURRENCY="0",
        )


def _run_through_outages(
    engine: sa.Engine,
    env: dict[str, str],
    log: Path,
    outage: Callable[[bool], None],
    unprivileged: bool = False,
    scrape_rides_it_out: bool = False,
) -> None:
    """Queue a scrape; the storage fails until it has refused the scrape's archive (a failed
    attempt, or with ``scrape_rides_it_out`` a try retried within the attempt), then until
    the transform has failed an attempt on it; then the chain must complete."""
    settings = load_settings(env)
    with write_transaction(engine) as conn:
        enqueue(conn, "scrape", {"source": SOURCE}, settings=settings)
    outage(True)
    worker = _worker(env, log, unprivileged)
    try:
        if scrape_rides_it_out:
            wait_for("a refused store", lambda: "storing the archive failed" in log.read_text(), 20)
        else:
            wait_for("a failed scrape", lambda: _failed_attempts(engine, "scrape"), 20)
        outage(False)
        wait_for("the transform job", lambda: "transform" in _states(engine), 20)
        outage(True)
        wait_for("a failed transform", lambda: _failed_attempts(engine, "transform"), 20)
        outage(False)
        done = {"scrape": "completed", "transform": "completed", "ingest": "completed"}
        wait_for("the chain", lambda: _states(engine) == done, 30)
        assert worker.poll() is None, log.read_text()
    finally:
        outage(False)
        worker.send_signal(signal.SIGTERM)
        code = worker.wait(60)
    assert code == 0, log.read_text()
    scrapes = _attempts(engine, "scrape")
    if scrape_rides_it_out:
        assert scrapes == ["completed"], scrapes
    else:
        assert scrapes[-1] == "completed" and set(scrapes[:-1]) == {"failed"}, scrapes
        assert "the source is not crawled again" in log.read_text()
    assert "failed" in _attempts(engine, "transform")
    _check_crawled_once_nothing_kept(engine, settings)


def _check_crawled_once_nothing_kept(engine: sa.Engine, settings: Settings) -> None:
    """One crawl however many attempts the scrape took; its kept archive removed once stored."""
    with engine.connect() as conn:
        crawled = conn.execute(sa.select(crawls.c.id, crawls.c.source)).all()
        scrape = conn.execute(
            sa.select(queue.c.id, queue.c.correlation_id).where(queue.c.type == "scrape")
        ).one()
    assert [source for _, source in crawled] == [SOURCE], crawled
    context = SimpleNamespace(
        settings=settings, job_id=scrape.id, correlation_id=scrape.correlation_id
    )
    kept = pending_folder(cast(Any, context))
    assert not kept.exists(), sorted(kept.rglob("*"))


def _check_nothing_half_written_nothing_lost(
    engine: sa.Engine, env: dict[str, str], keys: list[str]
) -> None:
    settings = load_settings(env)
    with engine.connect() as conn:
        rows = [dict(r) for r in conn.execute(sa.select(files).order_by(files.c.id)).mappings()]
        staged = conn.execute(
            sa.select(sa.func.count()).select_from(staging["listings"])
        ).scalar_one()
    assert [(row["kind"], row["source"]) for row in rows] == [
        ("raw", SOURCE),
        ("normalised", SOURCE),
    ]
    for row in rows:
        check_file_row(settings, row, stored_bytes(settings, row["url"]))
        assert row["record_count"] == COUNT
    stored = sorted(get_key(settings, row["url"]) for row in rows)
    assert sorted(keys) == stored, "the storage holds files no files row describes"
    assert staged == COUNT


def get_key(settings: Settings, url: str) -> str:
    return get_storage(settings).key_of(url)


@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
def test_a_read_only_storage_folder_delays_the_chain_and_loses_nothing(
    engine: sa.Engine, storage_env: dict[str, str], tmp_path: Path
) -> None:
    folder = tmp_path / "files"
    folder.mkdir(exist_ok=True)
    # the folders the chain writes to exist, read-only like the root while the outage lasts
    # no retry within the attempt: the scrape's attempt fails, the next stores its archive
    env = dict(storage_env, PIPELINE_STORAGE_URL=str(folder), PIPELINE_STORAGE_RETRY_SECONDS="0")

    def outage(on: bool) -> None:
        for path in [folder, *(p for p in folder.rglob("*") if p.is_dir())]:
            path.chmod(0o555 if on else 0o755)

    _run_through_outages(engine, env, tmp_path / "worker.log", outage, unprivileged=True)
    errors = _failed_attempts(engine, "scrape") + _failed_attempts(engine, "transform")
    assert errors and all("Permission denied" in error for error in errors), errors
    keys = [str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()]
    _check_nothing_half_written_nothing_lost(engine, env, keys)
    print(f"\nchaos: read-only storage folder: {len(errors)} failed attempt(s): {errors}")


@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
def test_s3_answering_errors_delays_the_chain_and_loses_nothing(
    engine: sa.Engine,
    storage_env: dict[str, str],
    moto_endpoint: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    bucket = f"chaos-{uuid.uuid4().hex[:12]}"
    s3 = boto3.client("s3", endpoint_url=moto_endpoint)
    s3.create_bucket(Bucket=bucket)
    failing = threading.Event()

    def fault(call: Call) -> tuple[int, str, bytes] | None:
        return s3_error() if failing.is_set() else None

    def outage(on: bool) -> None:
        if on:
            failing.set()
        else:
            failing.clear()

    with FaultyProxy(moto_endpoint, fault=fault) as proxy:
        env = dict(
            storage_env,
            **CREDENTIALS,
            PIPELINE_STORAGE_URL=f"s3://{bucket}/dmo",
            PIPELINE_S3_ENDPOINT_URL=proxy.endpoint,
            # the scrape's attempt retries its store within the attempt, well past the outage
            PIPELINE_STORAGE_RETRY_SECONDS="60",
        )
        _run_through_outages(engine, env, tmp_path / "worker.log", outage, scrape_rides_it_out=True)
        refused = sum(1 for call in proxy.calls if call.status == 503)
    errors = _failed_attempts(engine, "scrape") + _failed_attempts(engine, "transform")
    assert errors and all("ServiceUnavailable" in error or "503" in error for error in errors), (
        errors
    )
    assert refused >= len(errors)
    listed = s3.list_objects_v2(Bucket=bucket).get("Contents", [])
    keys = [item["Key"].removeprefix("dmo/") for item in listed]
    _check_nothing_half_written_nothing_lost(
        engine, dict(env, PIPELINE_S3_ENDPOINT_URL=moto_endpoint), keys
    )
    print(
        f"\nchaos: S3 errors: {refused} requests refused, {len(errors)} failed attempt(s): {errors}"
    )
