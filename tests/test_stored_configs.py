"""A source stored as a ``pipeline.configs`` row is the same document and crawls the same way."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from conftest import run_cli, run_scrapy
from feeds import expected_rows, feed, write_mapping

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
        staged = dict(
            conn.execute(
                sa.select(listings.c.external_id, listings.c.record).where(
                    listings.c.source == "stored-feed"
                )
            ).all()
        )
        counts = {
            name: conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
            for name, table in staging.items()
        }
    assert sorted(staged) == sorted(r["id"] for r in records)
    assert counts == expected_rows(records)  # every child table, counted from the feed
    first = staged["L00001"]
    assert (first["source"], first["dmo"], first["category"]) == (
        "stored-feed",
        "test-dmo",
        "restaurant",
    )
    assert first["name"] == {"en": "Listing 1"}
    assert first["location"] == {
        "street": "1 Main Street",
        "locality": "Innsbruck",
        "postal_code": "6021",
        "latitude": 47.001,
        "longitude": 11.401,
        "country": "AT",
    }


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
    assert result.returncode == 0  # the other sources are still listed
    assert "example-city" in result.stdout
    assert "broken" not in result.stdout
    assert result.stderr.startswith(
        "stored configuration left out: pipeline.configs[broken]: at pagination.type: "
    )


def test_a_stored_config_cannot_read_local_files(
    pipeline_env: dict[str, str], engine: sa.Engine, tmp_path: Path
) -> None:
    secret = tmp_path / "secret.json"
    secret.write_text('{"data": [{"id": "1", "names": {"en": "leak"}}], "next": null}')
    with engine.begin() as conn:
        conn.execute(
            sa.insert(configs).values(
                name="sneaky",
                dmo="d",
                source_type="json_api",
                base_url=secret.as_uri(),
                scrape_config={"id": "id", "records": "data"},
                field_mappings={"name": "names.en", "category": {"const": "other"}},
            )
        )
    result = run_cli("crawl", "sneaky", env=pipeline_env)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "stored configuration left out: pipeline.configs[sneaky]: at base_url: a stored "
        f"configuration needs an absolute http(s) URL, got {secret.as_uri()!r}",
        "Error: pipeline.configs[sneaky]: at base_url: a stored configuration needs an "
        f"absolute http(s) URL, got {secret.as_uri()!r}",
    ]
