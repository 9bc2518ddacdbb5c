"""scrape → transform → ingest → image through the worker: on SQLite with a local folder
and on PostgreSQL with S3 (moto); the feed and its photos on loopback servers."""

from __future__ import annotations

import threading
import uuid
from pathlib import Path
from typing import Any

import boto3
import pytest
import sqlalchemy as sa
from feeds import feed, write_mapping
from image_samples import jpeg, photo
from image_server import ImageServer
from jobs_kit import job_settings
from moto_server import moto_endpoint  # noqa: F401  (a fixture)

from pipeline_core.db.tables import queue, staging
from pipeline_core.plugins import get_plugin_manager
from pipeline_core.queue import enqueue
from pipeline_core.queue.worker import Worker
from pipeline_core.storage import get_storage
from pipeline_core.testing import FeedServer, paginate_json

SOURCE = "chain-images"


def _run_worker(engine: sa.Engine, settings: Any) -> dict[str, Any]:
    """``dmo-pipeline worker --once`` in a thread (no signal handlers in pytest)."""
    counts: dict[str, Any] = {}

    def target() -> None:
        counts.update(Worker(engine, get_plugin_manager(settings), once=True).run().as_dict())

    thread = threading.Thread(target=target)
    thread.start()
    thread.join(300)
    assert not thread.is_alive(), "the worker did not stop"
    return counts


def test_scrape_transform_ingest_image_through_the_worker(
    db_url: str, engine: sa.Engine, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    if db_url.startswith("sqlite"):
        where = {"storage": str(tmp_path / "files")}
    else:
        endpoint = request.getfixturevalue("moto_endpoint")
        bucket = f"chain-{uuid.uuid4().hex[:12]}"
        boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket=bucket)
        where = {"storage": f"s3://{bucket}/dmo", "PIPELINE_S3_ENDPOINT_URL": endpoint}
    records = feed(12)  # listing n has n % 3 photos; listing 7 repeats 6 (none): 11 rows
    with ImageServer() as images, FeedServer(paginate_json(records, per_page=5)) as pages:
        for n, record in enumerate(records, 1):
            for i, photo_entry in enumerate(record["photos"]):
                path = f"/{n}/{i}.jpg"
                images.bodies[path] = (jpeg(photo(n * 10 + i, 320, 240)), "image/jpeg")
                photo_entry["src"] = images.url(path)
        pages.set_pages(paginate_json(records, per_page=5))
        write_mapping(tmp_path / "mappings", SOURCE, pages.url("/listings?page=1"))
        storage_url = where.pop("storage")
        settings = job_settings(
            db_url,
            storage_url,
            PIPELINE_SOURCES_PATH=str(tmp_path / "mappings"),
            PIPELINE_DISABLE_PLUGINS="",
            PIPELINE_POLL_INTERVAL="0.1",
            PIPELINE_DMO_CONCURRENCY="0",
            PIPELINE_IMAGE_PROCESSES="1",
            **where,
        )
        with engine.begin() as conn:
            enqueue(conn, "scrape", {"source": SOURCE}, settings=settings)
        counts = _run_worker(engine, settings)

    with engine.connect() as conn:
        jobs = conn.execute(sa.select(queue.c.type, queue.c.status).order_by(queue.c.id)).all()
        rows = conn.execute(
            sa.select(
                staging["listing_images"].c.url,
                staging["listing_images"].c.status,
                staging["listing_images"].c.width,
                staging["listing_images"].c.original_key,
                staging["listing_images"].c.variants,
            )
        ).all()
    assert counts["completed"] == 4
    assert [tuple(job) for job in jobs] == [
        ("scrape", "completed"),
        ("transform", "completed"),
        ("ingest", "completed"),
        ("image", "completed"),
    ]
    assert len(rows) == 11 and len({row.url for row in rows}) == 11
    assert {(row.status, row.width) for row in rows} == {("stored", 320)}
    storage = get_storage(settings)
    for row in rows:
        assert storage.exists(row.original_key)
        assert {name: v["format"] for name, v in row.variants.items()} == {
            "thumb": "jpeg",
            "large": "webp",
        }
    assert sorted(images.statuses(p)[0] for p in images.bodies) == [200] * 11
