"""What a scrape job's outcome says, and what its crawl row says (issue 18, items 2 to 4).

- a source that is down (every page failed, nothing fetched) fails the attempt, so it is
  retried, then dead-lettered and notified; a source that failed in part completes, not
  complete, with a warning;
- a crawl row is complete and archived only once its file is stored; a row whose file was
  never stored does not stop a later ingest's withdrawals;
- while storage is away the archive is kept and its store retried within the job, and the
  next attempt stores the same file: the source is never crawled again for it.
"""

from __future__ import annotations

import socket
import threading
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
import sqlalchemy as sa
from aws_outage import OutageProxy
from feeds import feed, write_mapping
from jobs_kit import job_settings, queue_job, run_job
from moto_server import moto_endpoint  # noqa: F401  (a fixture)

from pipeline_core.db.tables import crawls, errors, files, queue, staging
from pipeline_core.exceptions import JobError
from pipeline_core.plugins import get_plugin_manager
from pipeline_core.queue.worker import process_batch
from pipeline_core.testing import FeedServer, paginate_json

SOURCE = "outcome-feed"
#: The operator's set-up (PostgreSQL); the queue and crawl code under test is the same on
#: SQLite, whose queue tests cover it.
ON_POSTGRES = pytest.mark.parametrize(
    "db_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)


def _dead_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _crawl_rows(engine: sa.Engine) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(crawls.c.id, crawls.c.finish_reason, crawls.c.complete, crawls.c.stats)
            .where(crawls.c.source == SOURCE)
            .order_by(crawls.c.id)
        ).all()
    out = []
    for row in rows:
        stats = row.stats or {}
        out.append(
            (row.id, row.finish_reason, row.complete, stats.get("archived"), stats.get("complete"))
        )
    return out


@ON_POSTGRES
def test_a_source_that_is_down_fails_its_attempt_and_is_retried(
    db_url: str, engine: sa.Engine, tmp_path: Path
) -> None:
    url = f"http://127.0.0.1:{_dead_port()}/listings?page=1"
    write_mapping(tmp_path / "mappings", SOURCE, url)
    settings = job_settings(
        db_url,
        str(tmp_path / "files"),
        PIPELINE_SOURCES_PATH=str(tmp_path / "mappings"),
        PIPELINE_MAX_RETRIES="2",
    )
    job_id = queue_job(engine, settings, "scrape", {"source": SOURCE})
    counts = process_batch(engine, get_plugin_manager(settings), batch_size=1)
    assert (counts.completed, counts.retried, counts.next_jobs) == (0, 1, 0)
    with engine.connect() as conn:
        job = conn.execute(sa.select(queue).where(queue.c.id == job_id)).mappings().one()
        error_rows = conn.execute(
            sa.select(errors.c.stage, errors.c.url, errors.c.job_id).order_by(errors.c.id)
        ).all()
        filed = conn.execute(sa.select(sa.func.count()).select_from(files)).scalar_one()
    assert (job["status"], job["attempts"], job["dead_lettered"]) == ("queued", 1, False)
    assert job["last_error"].startswith(
        f"JobError: scrape of {SOURCE}: nothing was fetched, 1 page(s) failed (crawl 1; the first: "
    )
    assert [tuple(r) for r in error_rows] == [("fetch", url, job_id), ("job", None, job_id)]
    assert filed == 0
    ((_, reason, complete, archived, _),) = _crawl_rows(engine)
    assert (reason, complete, archived) == ("finished", False, False)


@ON_POSTGRES
def test_a_source_down_in_part_completes_with_a_warning(
    db_url: str, engine: sa.Engine, tmp_path: Path
) -> None:
    pages = paginate_json(feed(8), per_page=4)
    del pages["/listings?page=2"]  # page 2 is missing: 404
    with FeedServer(pages) as server:
        write_mapping(tmp_path / "mappings", SOURCE, server.url("/listings?page=1"))
        settings = job_settings(
            db_url, str(tmp_path / "files"), PIPELINE_SOURCES_PATH=str(tmp_path / "mappings")
        )
        scraped = run_job(engine, settings, "scrape", {"source": SOURCE})
    stats = scraped.result.stats
    assert (stats["records"], stats["complete"], stats["page_errors"]) == (4, False, 1)
    assert stats["warning"] == (
        "crawl 1 is not complete (1 page error(s), finish reason finished): its ingest stages "
        "what was fetched and withdraws nothing"
    )
    assert [j.type for j in scraped.result.next_jobs] == ["transform"]
    assert _crawl_rows(engine) == [(1, "finished", False, True, False)]


def _s3_settings(db_url: str, tmp_path: Path, endpoint: str, bucket: str, **extra: str) -> Any:
    return job_settings(
        db_url,
        f"s3://{bucket}/dmo",
        PIPELINE_SOURCES_PATH=str(tmp_path / "mappings"),
        PIPELINE_S3_ENDPOINT_URL=endpoint,
        PIPELINE_AWS_TIMEOUT="2",
        **extra,
    )


@ON_POSTGRES
def test_storage_away_keeps_the_archive_and_the_next_attempt_stores_it(
    db_url: str,
    engine: sa.Engine,
    tmp_path: Path,
    moto_endpoint: str,  # noqa: F811
) -> None:
    bucket = f"outage-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=moto_endpoint).create_bucket(Bucket=bucket)
    with (
        FeedServer(paginate_json(feed(8), per_page=10)) as server,
        OutageProxy(moto_endpoint) as proxy,
    ):
        write_mapping(tmp_path / "mappings", SOURCE, server.url("/listings?page=1"))
        settings = _s3_settings(
            db_url, tmp_path, proxy.url, bucket, PIPELINE_STORAGE_RETRY_SECONDS="0"
        )
        job_id = queue_job(engine, settings, "scrape", {"source": SOURCE})
        proxy.stop()
        with pytest.raises(JobError, match=r"storing the archive failed 1 time\(s\) over 0 s"):
            run_job(engine, settings, "scrape", {"source": SOURCE}, job_id)
        assert len(server.requests) == 1
        # the crawl row says what is true: finished, not complete, not archived, no file
        assert _crawl_rows(engine) == [(1, "finished", False, False, True)]
        with engine.connect() as conn:
            assert conn.execute(sa.select(sa.func.count()).select_from(files)).scalar_one() == 0

        # a few seconds' outage inside one attempt: the store is tried again and succeeds
        settings = _s3_settings(
            db_url, tmp_path, proxy.url, bucket, PIPELINE_STORAGE_RETRY_SECONDS="60"
        )
        turned_away = proxy.turned_away

        def back_after_a_refusal() -> None:
            proxy.wait_for("turned_away", turned_away + 1)
            proxy.resume()

        helper = threading.Thread(target=back_after_a_refusal)
        helper.start()
        again = run_job(engine, settings, "scrape", {"source": SOURCE}, job_id)
        helper.join()
        assert len(server.requests) == 1  # the source was not crawled again
    stats = again.result.stats
    assert (stats["crawl_id"], stats["records"], stats["complete"]) == (1, 8, True)
    assert _crawl_rows(engine) == [(1, "finished", True, True, True)]
    with engine.connect() as conn:
        (row,) = conn.execute(sa.select(files)).mappings().all()
    key = f"dmo/raw/{SOURCE}/{datetime.now(UTC):%Y/%m/%d}/crawl-1.jsonl"
    assert row["url"] == f"s3://{bucket}/{key}"
    body = boto3.client("s3", endpoint_url=moto_endpoint).get_object(Bucket=bucket, Key=key)
    assert body["Body"].read().count(b"\n") == 8


@ON_POSTGRES
def test_a_crawl_row_without_a_file_does_not_stop_withdrawals(
    db_url: str, engine: sa.Engine, tmp_path: Path
) -> None:
    records = feed(8)
    pages = paginate_json(records, per_page=10)
    with FeedServer(pages) as server:
        write_mapping(tmp_path / "mappings", SOURCE, server.url("/listings?page=1"))
        settings = job_settings(
            db_url, str(tmp_path / "files"), PIPELINE_SOURCES_PATH=str(tmp_path / "mappings")
        )
        first = run_job(engine, settings, "scrape", {"source": SOURCE})
        normalised = run_job(engine, settings, "transform", first.result.next_jobs[0].payload)
        run_job(engine, settings, "ingest", normalised.result.next_jobs[0].payload)
        server.set_pages(paginate_json(records[:7], per_page=10))  # L00008 is gone
        second = run_job(engine, settings, "scrape", {"source": SOURCE})
    # a later crawl that finished but whose upload failed: finished, not archived, no file
    with engine.begin() as conn:
        conn.execute(
            sa.insert(crawls).values(
                source=SOURCE,
                started_at=datetime.now(UTC),
                finished_at=datetime.now(UTC),
                finish_reason="finished",
                complete=False,
                stats={"complete": True, "archived": False},
            )
        )
    normalised = run_job(engine, settings, "transform", second.result.next_jobs[0].payload)
    ingested = run_job(engine, settings, "ingest", normalised.result.next_jobs[0].payload)
    assert ingested.result.stats["withdrawn"] == 1
    listings = staging["listings"]
    with engine.connect() as conn:
        states = dict(conn.execute(sa.select(listings.c.external_id, listings.c.status)).all())
    assert states == {
        "L00001": "active",
        "L00002": "active",
        "L00003": "active",
        "L00004": "active",
        "L00005": "active",
        "L00006": "active",
        "L00007": "active",
        "L00008": "withdrawn",
    }
