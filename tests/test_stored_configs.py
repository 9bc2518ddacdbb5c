"""A source stored as a ``pipeline.configs`` row is the same document and crawls the same way."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from conftest import run_cli, run_scrapy
from feeds import feed, write_mapping

from pipeline_core.db.tables import configs, staging
from pipeline_core.mapping import load_mapping_file
from pipeline_core.testing import FeedServer, paginate_json


def test_stored_config_crawls_like_a_mapping_file(
    pipeline_env: dict[str, str], engine: sa.Engine, tmp_path: Path
) -> None:
    records = feed(30)
    with FeedServer(paginate_json(records, per_page=10)) as server:
        path = write_mapping(tmp_path / "drafts", "stored-feed", server.url("/listings?page=1"))
        row = load_mapping_file(path).to_config_row()
        with engine.begin() as conn:
            conn.execute(sa.insert(configs).values(**(row | {"scrape_frequency": "hourly"})))

        listed = run_cli("sources", env=pipeline_env)
        assert listed.returncode == 0, listed.stderr
        assert "stored-feed" in listed.stdout
        assert "pipeline.configs[stored-feed]" in listed.stdout
        assert "stored-feed" in run_scrapy("list", env=pipeline_env).stdout.split()

        result = run_cli("crawl", "stored-feed", "--no-progress", env=pipeline_env)
        assert result.returncode == 0, result.stderr
    assert "stored-feed: scraped 30, inserted 30, updated 0, unchanged 0" in result.stdout
    listings = staging["listings"]
    with engine.connect() as conn:
        count = conn.execute(
            sa.select(sa.func.count()).where(listings.c.source == "stored-feed")
        ).scalar_one()
    assert count == 30


def test_a_broken_stored_config_names_its_row(
    pipeline_env: dict[str, str], engine: sa.Engine
) -> None:
    with engine.begin() as conn:
        conn.execute(
            sa.insert(configs).values(
                name="broken",
                dmo="d",
                source_type="json_api",
                base_url="https://example.org/api",
                scrape_config={"id": "id", "pagination": {"type": "sideways"}},
                field_mappings={"name": "n"},
            )
        )
    result = run_cli("sources", env=pipeline_env)
    assert result.returncode == 1
    assert result.stderr.startswith("Error: pipeline.configs[broken]: at pagination.type: ")
