"""A paginated JSON feed on 127.0.0.1, crawled into staging on SQLite and PostgreSQL.

Crawl, re-crawl unchanged (no staging row written), change three listings (exactly three
updated), drop two (withdrawn), one bad record (one error row, the rest staged).
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from conftest import run_cli
from feeds import expected_rows, feed, write_mapping

from pipeline_core.db.tables import crawls, errors, staging
from pipeline_core.testing import FeedServer, paginate_json

COUNT = 520
SOURCE = "e2e-feed"


def last_crawl_stats(engine: sa.Engine) -> dict[str, Any]:
    with engine.connect() as conn:
        row = conn.execute(sa.select(crawls.c.stats).order_by(crawls.c.id.desc()).limit(1)).one()
    return dict(row.stats)


def table_counts(engine: sa.Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {
            name: conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
            for name, table in staging.items()
        }


def row_versions(engine: sa.Engine) -> dict[str, set[tuple[Any, ...]]]:
    """PostgreSQL's xmin of every staging row: any UPDATE or re-INSERT changes it."""
    out = {}
    with engine.connect() as conn:
        for name in staging:
            rows = conn.exec_driver_sql(f"SELECT id, xmin::text FROM staging.{name}").all()
            out[name] = {tuple(r) for r in rows}
    return out


def crawl(env: dict[str, str]) -> None:
    result = run_cli("crawl", SOURCE, "--no-progress", env=env)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture
def feed_env(pipeline_env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    return pipeline_env


def test_crawl_recrawl_change_withdraw(
    feed_env: dict[str, str], engine: sa.Engine, tmp_path: Path
) -> None:
    records = feed(COUNT)
    bad = records[99]  # L00100
    bad["lat"] = 123.5  # latitude out of range: invalid, not staged
    with FeedServer(paginate_json(records, per_page=50)) as server:
        write_mapping(tmp_path / "mappings", SOURCE, server.url("/listings?page=1"))
        env = dict(feed_env, PIPELINE_SOURCES_PATH=str(tmp_path / "mappings"))

        # 1. first crawl: everything but the bad record is staged, in every table
        crawl(env)
        stats = last_crawl_stats(engine)
        good = [r for r in records if r is not bad]
        assert stats["scraped"] == COUNT
        assert stats["inserted"] == COUNT - 1
        assert stats["invalid"] == 1
        assert stats["updated"] == 0
        assert stats["duplicates"] == 1  # L00007 repeats L00006
        assert table_counts(engine) == expected_rows(good)
        with engine.connect() as conn:
            error_rows = conn.execute(sa.select(errors)).mappings().all()
            listings = staging["listings"]
            dup = conn.execute(
                sa.select(listings.c.external_id, listings.c.duplicate_of).where(
                    listings.c.duplicate_of.is_not(None)
                )
            ).all()
            original_id = conn.execute(
                sa.select(listings.c.id).where(listings.c.external_id == "L00006")
            ).scalar_one()
            l3 = conn.execute(
                sa.select(listings.c.record).where(listings.c.external_id == "L00003")
            ).scalar_one()
        assert len(error_rows) == 1
        assert error_rows[0]["source"] == SOURCE
        assert error_rows[0]["external_id"] == "L00100"
        assert error_rows[0]["field"] == "location.latitude"
        assert "123.5" in error_rows[0]["message"]
        assert dup == [("L00007", original_id)]
        assert l3["name"] == {"en": "Listing 3", "de": "Eintrag 3"}
        assert l3["location"]["latitude"] == 47.003
        assert l3["location"]["country"] == "AT"
        assert l3["contact"]["website"] == "https://www.example.org/l/3"
        assert l3["description"] == {"en": "Description of listing 3 & more."}

        # 2. unchanged re-crawl: no staging row is written
        before = table_counts(engine)
        versions = row_versions(engine) if engine.dialect.name == "postgresql" else None
        crawl(env)
        stats = last_crawl_stats(engine)
        assert stats["unchanged"] == COUNT - 1
        assert (stats["inserted"], stats["updated"], stats["withdrawn"]) == (0, 0, 0)
        assert stats["rows_written"] == 0
        assert stats["invalid"] == 1
        assert table_counts(engine) == before
        if versions is not None:
            assert row_versions(engine) == versions

        # 3. three listings change: exactly those three are updated
        changed = copy.deepcopy(records)
        for index in (9, 209, 409):
            changed[index]["names"]["en"] += " (renamed)"
        server.set_pages(paginate_json(changed, per_page=50))
        versions = row_versions(engine) if engine.dialect.name == "postgresql" else None
        crawl(env)
        stats = last_crawl_stats(engine)
        assert (stats["updated"], stats["inserted"], stats["unchanged"]) == (3, 0, COUNT - 4)
        with engine.connect() as conn:
            renamed = (
                conn.execute(
                    sa.select(staging["listing_info"].c.name)
                    .where(staging["listing_info"].c.name.like("%(renamed)"))
                    .order_by(staging["listing_info"].c.name)
                )
                .scalars()
                .all()
            )
        assert renamed == ["Listing 10 (renamed)", "Listing 210 (renamed)", "Listing 410 (renamed)"]
        assert table_counts(engine) == before
        if versions is not None:
            after = row_versions(engine)
            listing_ids = {row_id for row_id, _ in versions["listings"] ^ after["listings"]}
            assert len(listing_ids) == 3

        # 4. two listings leave the feed: withdrawn, not deleted
        shorter = [r for r in changed if r["id"] not in ("L00001", "L00002")]
        server.set_pages(paginate_json(shorter, per_page=50))
        crawl(env)
        stats = last_crawl_stats(engine)
        assert stats["withdrawn"] == 2
        assert stats["complete"] is True
        with engine.connect() as conn:
            statuses = dict(
                conn.execute(
                    sa.select(listings.c.external_id, listings.c.status).where(
                        listings.c.external_id.in_(["L00001", "L00002", "L00003"])
                    )
                ).all()
            )
        assert statuses == {"L00001": "withdrawn", "L00002": "withdrawn", "L00003": "active"}
        assert table_counts(engine)["listings"] == COUNT - 1


def test_a_mapping_change_maps_every_record_again(
    pipeline_env: dict[str, str], engine: sa.Engine, tmp_path: Path
) -> None:
    records = feed(30)
    with FeedServer(paginate_json(records, per_page=10)) as server:
        path = write_mapping(tmp_path / "mappings", SOURCE, server.url("/listings?page=1"))
        env = dict(pipeline_env, PIPELINE_SOURCES_PATH=str(tmp_path / "mappings"))
        crawl(env)
        crawl(env)
        assert last_crawl_stats(engine)["unchanged"] == 30
        path.write_text(path.read_text() + "  attributes.region: {const: Tyrol}\n")
        crawl(env)
        stats = last_crawl_stats(engine)
        assert (stats["updated"], stats["unchanged"]) == (30, 0)
        crawl(env)
        assert last_crawl_stats(engine)["unchanged"] == 30
    with engine.connect() as conn:
        regions = conn.execute(
            sa.select(sa.func.count()).where(staging["attributes"].c.name == "region")
        ).scalar_one()
    assert regions == 30


def test_a_feed_that_shrinks_too_much_withdraws_nothing(
    pipeline_env: dict[str, str], engine: sa.Engine, tmp_path: Path
) -> None:
    records = feed(30)
    with FeedServer(paginate_json(records, per_page=10)) as server:
        write_mapping(tmp_path / "mappings", SOURCE, server.url("/listings?page=1"))
        env = dict(pipeline_env, PIPELINE_SOURCES_PATH=str(tmp_path / "mappings"))
        crawl(env)
        server.set_pages(paginate_json(records[:10], per_page=10))  # 20 of 30 gone
        result = run_cli("crawl", SOURCE, "--no-progress", env=env)
        assert result.returncode == 1
        stats = last_crawl_stats(engine)
        assert (stats["withdrawn"], stats["complete"], stats["unchanged"]) == (0, False, 10)
        with engine.connect() as conn:
            error = conn.execute(
                sa.select(errors.c.stage, errors.c.message).where(errors.c.stage == "withdraw")
            ).one()
        assert error.message == (
            "this crawl would withdraw 20 of 30 active listings, more than "
            "PIPELINE_WITHDRAW_LIMIT=0.5 allows; nothing was withdrawn"
        )
        crawl(dict(env, PIPELINE_WITHDRAW_LIMIT="1"))
        assert last_crawl_stats(engine)["withdrawn"] == 20
