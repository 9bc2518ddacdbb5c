"""scrape → transform → ingest of a paginated JSON feed on 127.0.0.1, through the registered
handlers as the worker calls them, with the archive in a local folder and in S3 (moto)."""

from __future__ import annotations

import logging
import uuid
from pathlib import Path
from typing import Any

import boto3
import orjson
import pytest
import sqlalchemy as sa
from feeds import expected_rows, feed, write_mapping
from jobs_kit import (
    check_file_row,
    file_row,
    job_settings,
    run_job,
    staging_counts,
    stored_bytes,
)
from moto_server import moto_endpoint  # noqa: F401  (a fixture)

from pipeline_core.db.tables import configs, crawls, errors, queue, sources, staging
from pipeline_core.jobtypes import NextJob
from pipeline_core.mapping import load_mapping_file
from pipeline_core.testing import FeedServer, paginate_json

SOURCE = "chain-feed"
COUNT = 120


def _storage_url(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, str]:
    if kind == "local":
        return {"storage_url": str(tmp_path / "files")}
    endpoint = request.getfixturevalue("moto_endpoint")
    bucket = f"chain-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket=bucket)
    return {"storage_url": f"s3://{bucket}/dmo", "PIPELINE_S3_ENDPOINT_URL": endpoint}


@pytest.mark.parametrize("storage", ["local", "s3"])
def test_scrape_transform_ingest(
    storage: str,
    db_url: str,
    engine: sa.Engine,
    tmp_path: Path,
    request: pytest.FixtureRequest,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="pipeline_core.jobs.scrape")
    records = feed(COUNT)
    bad = records[9]  # L00010
    bad["lat"] = 123.5  # out of range: invalid, not staged
    where = _storage_url(storage, request, tmp_path)
    with FeedServer(paginate_json(records, per_page=50)) as server:
        write_mapping(tmp_path / "mappings", SOURCE, server.url("/listings?page=1"))
        settings = job_settings(
            db_url,
            where.pop("storage_url"),
            PIPELINE_SOURCES_PATH=str(tmp_path / "mappings"),
            **where,
        )
        scraped = run_job(engine, settings, "scrape", {"source": SOURCE})
    assert len(server.requests) == 3
    relayed = [r.getMessage() for r in caplog.records if r.name == "pipeline_core.jobs.scrape"]
    assert (  # the child's output, in this process's log
        f"{SOURCE} crawl | {SOURCE}: archived {COUNT} raw records (finished, complete, "
        "0 errors in pipeline.errors)"
    ) in relayed

    # scrape: the raw file, its files row, the crawl row, the next job
    stats = scraped.result.stats
    raw_id = stats["file_id"]
    assert scraped.result.next_jobs == [
        NextJob("transform", {"file_id": raw_id, "source": SOURCE}, dmo="test-dmo")
    ]
    assert (stats["records"], stats["complete"], stats["page_errors"]) == (COUNT, True, 0)
    raw = file_row(engine, raw_id)
    crawl_id = raw["crawl_id"]
    assert (raw["kind"], raw["source"], raw["job_id"]) == ("raw", SOURCE, scraped.job_id)
    prefix = "file://" if storage == "local" else "s3://"
    assert raw["url"].startswith(prefix)
    assert raw["url"].endswith(
        f"/raw/{SOURCE}/" + _day(engine, crawl_id) + f"/crawl-{crawl_id}.jsonl"
    )
    data = stored_bytes(settings, raw["url"])
    if storage == "s3":  # read back with boto3 itself, not through our storage
        bucket, key = raw["url"].removeprefix("s3://").split("/", 1)
        s3 = boto3.client("s3", endpoint_url=settings.s3_endpoint_url)
        assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == data
    check_file_row(settings, raw, data)
    assert raw["record_count"] == COUNT
    lines = [orjson.loads(line) for line in data.splitlines()]
    assert [line["payload"] for line in lines] == records
    assert lines[0]["source"] == SOURCE and lines[0]["external_id"] == "L00001"
    assert lines[0]["url"] == server.url("/listings?page=1")
    assert len(lines[0]["raw_hash"]) == 64
    assert staging_counts(engine)["listings"] == 0  # a scrape stages nothing
    with engine.connect() as conn:
        crawl = conn.execute(sa.select(crawls).where(crawls.c.id == crawl_id)).mappings().one()
    assert crawl["complete"] is True and crawl["finish_reason"] == "finished"

    # transform: the normalised file, one line per raw record; the invalid one is an error
    transformed = run_job(engine, settings, "transform", {"file_id": raw_id}, scraped.next_ids[0])
    stats = transformed.result.stats
    normalised_id = stats["file_id"]
    assert transformed.result.next_jobs == [
        NextJob("ingest", {"file_id": normalised_id, "source": SOURCE}, dmo="test-dmo")
    ]
    assert (stats["records"], stats["valid"], stats["invalid"]) == (COUNT, COUNT - 1, 1)
    normalised = file_row(engine, normalised_id)
    assert (normalised["kind"], normalised["crawl_id"]) == ("normalised", crawl_id)
    assert normalised["job_id"] == transformed.job_id
    assert normalised["url"].startswith(prefix)
    data = stored_bytes(settings, normalised["url"])
    check_file_row(settings, normalised, data)
    assert normalised["record_count"] == COUNT
    out = [orjson.loads(line) for line in data.splitlines()]
    assert out[9] == {
        "external_id": "L00010",
        "url": server.url("/listings?page=1"),
        "error": "validate",
    }
    assert out[0]["record"]["name"] == {"en": "Listing 1"}
    assert out[0]["record"]["location"]["latitude"] == 47.001
    assert len(out[0]["record_hash"]) == 64
    with engine.connect() as conn:
        error_rows = conn.execute(
            sa.select(
                errors.c.source,
                errors.c.external_id,
                errors.c.stage,
                errors.c.field,
                errors.c.job_id,
                errors.c.crawl_id,
            )
        ).all()
    assert [tuple(r) for r in error_rows] == [
        (SOURCE, "L00010", "validate", "location.latitude", transformed.job_id, crawl_id)
    ]

    # ingest: staged exactly, crawl closed, nothing follows
    ingested = run_job(
        engine, settings, "ingest", {"file_id": normalised_id}, transformed.next_ids[0]
    )
    stats = ingested.result.stats
    assert ingested.result.next_jobs == []
    good = [r for r in records if r is not bad]
    assert (stats["scraped"], stats["inserted"], stats["updated"]) == (COUNT, COUNT - 1, 0)
    assert (stats["invalid"], stats["duplicates"], stats["withdrawn"]) == (1, 1, 0)
    assert (stats["complete"], stats["errors"]) == (True, 1)
    assert staging_counts(engine) == expected_rows(good)
    with engine.connect() as conn:
        crawl = conn.execute(sa.select(crawls).where(crawls.c.id == crawl_id)).mappings().one()
        source = conn.execute(sa.select(sources).where(sources.c.name == SOURCE)).mappings().one()
        queued = conn.execute(sa.select(queue.c.type).order_by(queue.c.id)).scalars().all()
    assert crawl["complete"] is True
    assert crawl["stats"]["inserted"] == COUNT - 1
    assert crawl["stats"]["scrape"]["scraped"] == COUNT
    assert source["last_crawl_id"] == crawl_id
    assert source["last_complete_crawl_at"] is not None
    assert queued == ["scrape", "transform", "ingest"]


def _day(engine: sa.Engine, crawl_id: int) -> str:
    with engine.connect() as conn:
        started = conn.execute(
            sa.select(crawls.c.started_at).where(crawls.c.id == crawl_id)
        ).scalar_one()
    return started.strftime("%Y/%m/%d")


def _staged(engine: sa.Engine) -> dict[str, dict[str, Any]]:
    listings = staging["listings"]
    with engine.connect() as conn:
        rows = conn.execute(sa.select(listings.c.external_id, listings.c.record)).all()
    return {ext: record for ext, record in rows}


def test_a_mapping_fix_is_applied_by_transforming_the_archived_file_again(
    db_url: str, engine: sa.Engine, tmp_path: Path
) -> None:
    """A stored-config source crawled once with a wrong field path; the config is fixed and
    the same raw file is transformed and ingested again, with no new request to the feed."""
    records = feed(60)
    with FeedServer(paginate_json(records, per_page=25)) as server:
        path = write_mapping(tmp_path / "drafts", SOURCE, server.url("/listings?page=1"))
        row = load_mapping_file(path).to_config_row()
        broken = dict(row["field_mappings"], **{"location.locality": "addr.city"})
        with engine.begin() as conn:
            conn.execute(sa.insert(configs).values(**(row | {"field_mappings": broken})))
        settings = job_settings(db_url, str(tmp_path / "files"))
        scraped = run_job(engine, settings, "scrape", {"source": SOURCE})
        requests = len(server.requests)
    raw_id = scraped.result.stats["file_id"]
    transformed = run_job(engine, settings, "transform", {"file_id": raw_id}, scraped.next_ids[0])
    first = run_job(
        engine, settings, "ingest", transformed.result.next_jobs[0].payload, transformed.next_ids[0]
    )
    assert first.result.stats["inserted"] == 60
    assert all("locality" not in r["location"] for r in _staged(engine).values())
    with engine.connect() as conn:
        started = conn.execute(sa.select(crawls.c.started_at)).scalar_one()
        assert conn.execute(sa.select(configs.c.last_scrape_at)).scalar_one() == started

    with engine.begin() as conn:  # the fix, as the API would store it
        conn.execute(sa.update(configs).values(field_mappings=row["field_mappings"]))
    again = run_job(engine, settings, "transform", {"file_id": raw_id})
    assert again.result.stats["file_id"] != transformed.result.stats["file_id"]
    fixed = run_job(engine, settings, "ingest", again.result.next_jobs[0].payload)
    stats = fixed.result.stats
    assert (stats["inserted"], stats["updated"], stats["unchanged"]) == (0, 60, 0)
    assert (stats["withdrawn"], stats["complete"]) == (0, True)
    staged = _staged(engine)
    assert len(staged) == 60
    assert {r["location"]["locality"] for r in staged.values()} == {"Innsbruck"}
    assert len(server.requests) == requests  # no new crawl
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(crawls)).scalar_one() == 1
        assert conn.execute(sa.select(configs.c.last_scrape_at)).scalar_one() == started
