"""S3 and SQS stopped and frozen for a few seconds (issue 18, items 4 and 5), through a TCP
proxy on 127.0.0.1 in front of moto's server (:mod:`aws_outage`), on PostgreSQL.

- SQS frozen (connections accepted, never answered): the relay's calls time out
  (``PIPELINE_AWS_TIMEOUT``) and the worker's database sweep claims the new job on its
  clock (``PIPELINE_SWEEP_SECONDS``) whatever SQS does;
- S3 frozen while a scrape stores its archive: the store is tried again within the job and
  succeeds once S3 answers; the source is crawled once.

Each outage lasts until the code under test has met it (a condition waited on, never a
sleep); every wait is bounded.
"""

from __future__ import annotations

import threading
import uuid
from pathlib import Path

import boto3
import pytest
import sqlalchemy as sa
from aws_outage import OutageProxy
from feeds import feed, write_mapping
from jobs_kit import job_settings, queue_job, run_job
from moto_server import moto_endpoint  # noqa: F401  (a fixture)
from queue_helpers import make_settings
from sqs_server import create_queue

from pipeline_core.db.tables import crawls, files, outbox
from pipeline_core.queue.enqueue import enqueue
from pipeline_core.queue.job import ClaimedJob
from pipeline_core.queue.sqs_feed import SqsFeed
from pipeline_core.testing import FeedServer, paginate_json

ON_POSTGRES = pytest.mark.parametrize(
    "db_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
#: Longest a test waits for what must happen in a few seconds.
BOUND = 60.0


@ON_POSTGRES
def test_a_frozen_sqs_neither_blocks_the_relay_nor_the_sweep(
    db_url: str,
    engine: sa.Engine,
    tmp_path: Path,
    moto_endpoint: str,  # noqa: F811
) -> None:
    queue = create_queue(moto_endpoint)
    with OutageProxy(moto_endpoint) as proxy:
        settings = make_settings(
            db_url,
            tmp_path,
            PIPELINE_ENABLE_QUEUES="true",
            PIPELINE_JOBS_QUEUE_URL=queue.url,
            PIPELINE_SQS_ENDPOINT_URL=proxy.url,
            PIPELINE_AWS_TIMEOUT="1",
            PIPELINE_SWEEP_SECONDS="2",
        )
        jobs_feed = SqsFeed(engine, settings, wait_seconds=1)
        assert jobs_feed.next_jobs("w1", 5) == []  # the first sweep, with SQS up
        proxy.freeze()
        with engine.begin() as conn:
            job_id = enqueue(conn, "noop", {}, settings=settings)
        claimed: list[ClaimedJob] = []
        calls = 0

        def work() -> None:
            nonlocal calls
            while not claimed and calls < 20:
                calls += 1
                claimed.extend(jobs_feed.next_jobs("w1", 5))

        worker = threading.Thread(target=work)
        worker.start()
        worker.join(BOUND)
        frozen_while = proxy.held
        proxy.resume()
        worker.join(BOUND)
    assert frozen_while >= 1  # the relay or the long poll did meet the frozen endpoint
    assert [job.id for job in claimed] == [job_id]
    assert jobs_feed.counts.swept == 1
    with engine.connect() as conn:  # the announcement waits for SQS; nothing is lost
        assert conn.execute(sa.select(outbox.c.queue_id)).scalars().all() == [job_id]


@ON_POSTGRES
def test_s3_frozen_while_a_scrape_stores_costs_no_crawl(
    db_url: str,
    engine: sa.Engine,
    tmp_path: Path,
    moto_endpoint: str,  # noqa: F811
) -> None:
    bucket = f"frozen-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=moto_endpoint).create_bucket(Bucket=bucket)
    with (
        FeedServer(paginate_json(feed(8), per_page=10)) as server,
        OutageProxy(moto_endpoint) as proxy,
    ):
        write_mapping(tmp_path / "mappings", "frozen-feed", server.url("/listings?page=1"))
        settings = job_settings(
            db_url,
            f"s3://{bucket}/dmo",
            PIPELINE_SOURCES_PATH=str(tmp_path / "mappings"),
            PIPELINE_S3_ENDPOINT_URL=proxy.url,
            PIPELINE_AWS_TIMEOUT="1",
            PIPELINE_STORAGE_RETRY_SECONDS=str(BOUND),
        )
        job_id = queue_job(engine, settings, "scrape", {"source": "frozen-feed"})
        proxy.freeze()

        def thaw() -> None:
            proxy.wait_for("held", 1, timeout=BOUND)
            proxy.resume()

        helper = threading.Thread(target=thaw)
        helper.start()
        scraped = run_job(engine, settings, "scrape", {"source": "frozen-feed"}, job_id)
        helper.join()
        assert len(server.requests) == 1
    assert proxy.held >= 1
    assert (scraped.result.stats["records"], scraped.result.stats["complete"]) == (8, True)
    with engine.connect() as conn:
        rows = conn.execute(sa.select(crawls.c.id, crawls.c.complete)).all()
        stored = conn.execute(sa.select(sa.func.count()).select_from(files)).scalar_one()
    assert [tuple(r) for r in rows] == [(1, True)]
    assert stored == 1
