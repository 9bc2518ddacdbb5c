"""The ingest job: batches are transactions, a killed connection loses only its batch and a
retry finishes the work; ingest run again changes nothing; withdrawal follows the crawl."""

from __future__ import annotations

import copy
import hashlib
from pathlib import Path
from typing import Any

import orjson
import pytest
import sqlalchemy as sa
from feeds import expected_rows, feed, write_mapping
from jobs_kit import Ran, job_settings, kill_second_batch, run_job, staging_counts, staging_rows

from pipeline_core.config import Settings
from pipeline_core.db import make_engine
from pipeline_core.db.tables import crawls, errors, files, sources, staging
from pipeline_core.exceptions import JobError
from pipeline_core.testing import FeedServer, paginate_json

SOURCE = "ingest-feed"


def _scrape_and_transform(engine: sa.Engine, settings: Settings) -> Ran:
    scraped = run_job(engine, settings, "scrape", {"source": SOURCE})
    return run_job(
        engine, settings, "transform", scraped.result.next_jobs[0].payload, scraped.next_ids[0]
    )


def _settings(db_url: str, tmp_path: Path, url: str, **extra: str) -> Settings:
    write_mapping(tmp_path / "mappings", SOURCE, url)
    return job_settings(
        db_url, str(tmp_path / "files"), PIPELINE_SOURCES_PATH=str(tmp_path / "mappings"), **extra
    )


def _versions(engine: sa.Engine) -> dict[str, set[tuple[Any, ...]]]:
    """PostgreSQL's xmin of every staging row: any UPDATE or re-INSERT changes it."""
    with engine.connect() as conn:
        return {
            name: {
                tuple(r) for r in conn.exec_driver_sql(f"SELECT id, xmin::text FROM staging.{name}")
            }
            for name in staging
        }


def test_ingest_run_again_writes_nothing(db_url: str, engine: sa.Engine, tmp_path: Path) -> None:
    records = feed(80)
    with FeedServer(paginate_json(records, per_page=40)) as server:
        settings = _settings(db_url, tmp_path, server.url("/listings?page=1"))
        transformed = _scrape_and_transform(engine, settings)
    payload = transformed.result.next_jobs[0].payload
    first = run_job(engine, settings, "ingest", payload, transformed.next_ids[0])
    assert first.result.stats["inserted"] == 80
    before = staging_rows(engine)
    versions = _versions(engine) if engine.dialect.name == "postgresql" else None

    again = run_job(engine, settings, "ingest", payload)  # e.g. the worker died after commit
    stats = again.result.stats
    assert (stats["inserted"], stats["updated"], stats["unchanged"]) == (0, 0, 80)
    assert (stats["withdrawn"], stats["rows_written"], stats["complete"]) == (0, 0, True)
    assert staging_rows(engine) == before
    if versions is not None:
        assert _versions(engine) == versions


def test_a_connection_killed_midway_loses_only_its_batch_and_a_retry_finishes(
    db_url: str, engine: sa.Engine, tmp_path: Path
) -> None:
    if not db_url.startswith("postgresql"):
        pytest.skip("pg_terminate_backend is PostgreSQL's")
    records = feed(120)  # batches of 50: 50, 50, 20
    with FeedServer(paginate_json(records, per_page=60)) as server:
        settings = _settings(db_url, tmp_path, server.url("/listings?page=1"))
        transformed = _scrape_and_transform(engine, settings)
    observer = make_engine(db_url)  # another session: sees only what was committed
    kill_in_second_batch, seen = kill_second_batch(observer)

    payload = transformed.result.next_jobs[0].payload
    job_id = transformed.next_ids[0]
    sa.event.listen(engine, "before_cursor_execute", kill_in_second_batch)
    try:
        with pytest.raises(JobError) as raised:
            run_job(engine, settings, "ingest", payload, job_id)
    finally:
        sa.event.remove(engine, "before_cursor_execute", kill_in_second_batch)
    message = str(raised.value)
    assert f"ingest of file {payload['file_id']} ({SOURCE}): a stage-write batch failed" in message
    assert "1 batches of 50 were written" in message
    assert seen["listings_in_batch"] == 100  # the batch was half way through
    after = staging_rows(observer)
    assert after == seen["before"]  # exactly as before the failed batch
    assert len(after["listings"]) == 50
    with observer.connect() as conn:
        crawl = conn.execute(sa.select(crawls.c.stats, crawls.c.complete)).one()
        assert crawl.stats["archived"] is True  # the ingest never closed the crawl

    retry = run_job(engine, settings, "ingest", payload, job_id)
    stats = retry.result.stats
    assert (stats["inserted"], stats["unchanged"], stats["updated"]) == (70, 50, 0)
    assert (stats["duplicates"], stats["complete"]) == (1, True)
    assert staging_counts(engine) == expected_rows(records)
    listings = staging["listings"]
    with engine.connect() as conn:
        pointers = dict(
            conn.execute(sa.select(listings.c.external_id, listings.c.duplicate_of)).all()
        )
        ids = dict(conn.execute(sa.select(listings.c.external_id, listings.c.id)).all())
    assert pointers["L00007"] == ids["L00006"]
    assert sum(1 for p in pointers.values() if p is not None) == 1
    observer.dispose()


def test_withdrawal_follows_the_scrape(db_url: str, engine: sa.Engine, tmp_path: Path) -> None:
    records = feed(60)
    pages = paginate_json(records, per_page=20)
    with FeedServer(pages) as server:
        settings = _settings(db_url, tmp_path, server.url("/listings?page=1"))
        transformed = _scrape_and_transform(engine, settings)
        run_job(engine, settings, "ingest", transformed.result.next_jobs[0].payload)
        with engine.connect() as conn:
            complete_at = conn.execute(sa.select(sources.c.last_complete_crawl_at)).scalar_one()

        # page 2 fails: the scrape is not complete, so nothing is withdrawn
        server.set_pages({k: v for k, v in pages.items() if not k.endswith("page=2")})
        scraped = run_job(engine, settings, "scrape", {"source": SOURCE})
        assert (scraped.result.stats["complete"], scraped.result.stats["page_errors"]) == (False, 1)
        assert scraped.result.stats["records"] == 20
        transformed = run_job(engine, settings, "transform", scraped.result.next_jobs[0].payload)
        ingested = run_job(engine, settings, "ingest", transformed.result.next_jobs[0].payload)
        stats = ingested.result.stats
        assert (stats["unchanged"], stats["withdrawn"], stats["complete"]) == (20, 0, False)
        assert stats["errors"] == 1
        with engine.connect() as conn:
            fetch = conn.execute(
                sa.select(errors.c.stage, errors.c.url, errors.c.job_id, errors.c.crawl_id)
            ).one()
            source = conn.execute(sa.select(sources)).mappings().one()
        assert fetch.stage == "fetch" and fetch.url == server.url("/listings?page=2")
        assert fetch.job_id == scraped.job_id
        assert fetch.crawl_id == scraped.result.stats["crawl_id"]
        assert source["last_complete_crawl_at"] == complete_at
        assert source["last_crawl_id"] == scraped.result.stats["crawl_id"]

        # two listings gone from a complete scrape: withdrawn
        fewer = copy.deepcopy(records[:10] + records[12:])
        server.set_pages(paginate_json(fewer, per_page=20))
        scraped = run_job(engine, settings, "scrape", {"source": SOURCE})
    transformed = run_job(engine, settings, "transform", scraped.result.next_jobs[0].payload)
    ingested = run_job(engine, settings, "ingest", transformed.result.next_jobs[0].payload)
    assert (ingested.result.stats["withdrawn"], ingested.result.stats["complete"]) == (2, True)
    listings = staging["listings"]
    with engine.connect() as conn:
        withdrawn = conn.execute(
            sa.select(listings.c.external_id).where(listings.c.status == "withdrawn")
        ).scalars()
        assert sorted(withdrawn) == ["L00011", "L00012"]


def _rewrite_normalised(tmp_path: Path, edit: Any, engine: sa.Engine | None = None) -> Path:
    """Rewrite the one normalised file line by line (as a file from an older version, or
    written by hand, may be); with ``engine``, its SHA-256 in ``pipeline.files`` too (else
    the ingest refuses the changed file)."""
    [path] = (tmp_path / "files" / "normalised").rglob("*.jsonl")
    lines = path.read_text("utf-8").splitlines()
    path.write_text("".join(line + "\n" for line in edit(lines)), "utf-8")
    if engine is not None:
        with engine.begin() as conn:
            conn.execute(
                sa.update(files)
                .where(files.c.kind == "normalised")
                .values(sha256=hashlib.sha256(path.read_bytes()).hexdigest())
            )
    return path


def test_an_ingest_refuses_a_normalised_file_that_does_not_match_its_sha256(
    db_url: str, engine: sa.Engine, tmp_path: Path
) -> None:
    with FeedServer(paginate_json(feed(8), per_page=8)) as server:
        settings = _settings(db_url, tmp_path, server.url("/listings?page=1"))
        transformed = _scrape_and_transform(engine, settings)
    payload = transformed.result.next_jobs[0].payload
    path = _rewrite_normalised(tmp_path, lambda lines: [*lines[:-1]])  # one record lost
    with engine.connect() as conn:
        url = conn.execute(sa.select(files.c.url).where(files.c.id == payload["file_id"]))
        file_url = url.scalar_one()
    with pytest.raises(JobError) as raised:
        run_job(engine, settings, "ingest", payload, transformed.next_ids[0])
    assert str(raised.value) == (
        f"ingest of file {payload['file_id']} ({SOURCE}): {file_url} does not match its SHA-256 "
        "in pipeline.files; the archive was changed or damaged, nothing was staged"
    )
    assert staging_counts(engine)["listings"] == 0
    assert path.is_file()


def test_a_nul_in_a_normalised_record_is_invalid_and_the_rest_is_staged(
    db_url: str, engine: sa.Engine, tmp_path: Path
) -> None:
    with FeedServer(paginate_json(feed(10), per_page=10)) as server:
        settings = _settings(db_url, tmp_path, server.url("/listings?page=1"))
        transformed = _scrape_and_transform(engine, settings)
    payload = transformed.result.next_jobs[0].payload

    def poison(lines: list[str]) -> list[str]:
        entry = orjson.loads(lines[4])
        entry["record"]["name"]["en"] = "Listing\x005"
        return [*lines[:4], orjson.dumps(entry).decode(), *lines[5:]]

    _rewrite_normalised(tmp_path, poison, engine)
    ingested = run_job(engine, settings, "ingest", payload, transformed.next_ids[0])
    stats = ingested.result.stats
    assert (stats["inserted"], stats["invalid"], stats["errors"]) == (9, 1, 1)
    listings = staging["listings"]
    with engine.connect() as conn:
        staged = conn.execute(sa.select(listings.c.external_id)).scalars().all()
        row = conn.execute(
            sa.select(errors.c.source, errors.c.stage, errors.c.external_id, errors.c.field)
        ).one()
    assert "L00005" not in staged and len(staged) == 9
    assert tuple(row) == (SOURCE, "validate", "L00005", "name.en")


@pytest.mark.parametrize(
    ("line", "problem"),
    [("[1, 2]", "is a JSON array, not an object"), ('{"external_id": "L', "is not JSON: ")],
)
def test_a_line_that_is_not_a_json_object_names_the_file_and_line(
    db_url: str, engine: sa.Engine, tmp_path: Path, line: str, problem: str
) -> None:
    with FeedServer(paginate_json(feed(8), per_page=8)) as server:
        settings = _settings(db_url, tmp_path, server.url("/listings?page=1"))
        transformed = _scrape_and_transform(engine, settings)
    payload = transformed.result.next_jobs[0].payload
    _rewrite_normalised(tmp_path, lambda lines: [*lines[:2], line, *lines[3:]], engine)
    with engine.connect() as conn:
        url = conn.execute(sa.select(files.c.url).where(files.c.id == payload["file_id"]))
        file_url = url.scalar_one()
    with pytest.raises(JobError) as raised:
        run_job(engine, settings, "ingest", payload, transformed.next_ids[0])
    assert str(raised.value).startswith(
        f"ingest of file {payload['file_id']} ({SOURCE}): {file_url} line 3 {problem}"
    )
