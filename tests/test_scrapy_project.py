"""`scrapy list` / `scrapy crawl` in the checkout: in-repo mappings and in-repo spiders."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import orjson
import pytest
import sqlalchemy as sa
from conftest import run_scrapy
from scrapy.settings import Settings
from scrapy.utils.misc import build_from_crawler, load_object
from scrapy.utils.test import get_crawler

from pipeline_core.db.tables import staging


def test_scrapy_list_shows_in_repo_sources(pipeline_env: dict[str, str]) -> None:
    result = run_scrapy("list", env=pipeline_env)
    assert result.returncode == 0, result.stderr
    names = result.stdout.split()
    assert {"example-city", "example-harbour"} <= set(names)
    assert names == sorted(names)


def test_remote_control_endpoints_are_off(pipeline_env: dict[str, str]) -> None:
    for name in ("REMOTE_CONTROL_ENABLED", "TELNETCONSOLE_ENABLED"):
        result = run_scrapy("settings", "--get", name, env=pipeline_env)
        assert result.stdout.strip() == "False", name


def test_scrapy_crawl_in_repo_spider_with_feed_export(
    pipeline_env: dict[str, str], engine: sa.Engine, tmp_path: Path
) -> None:
    out = tmp_path / "items.jsonl"
    result = run_scrapy("crawl", "example-harbour", "-O", str(out), env=pipeline_env)
    assert result.returncode == 0, result.stderr
    assert "'dmo/inserted': 3" in result.stderr
    assert "Remote control" not in result.stderr
    assert "Telnet" not in result.stderr
    assert "Scraped from" not in result.stderr  # LOG_LEVEL INFO: no per-item record
    exported = sorted(
        (orjson.loads(line) for line in out.read_text().splitlines()),
        key=lambda item: item["external_id"],
    )
    assert [item["external_id"] for item in exported] == ["ferry-1", "tour-2", "tour-3"]
    assert exported[0]["record"]["category"] == "tour"
    assert exported[0]["record"]["location"] == {
        "latitude": 52.14,
        "longitude": -10.27,
        "country": "IE",
    }
    listings = staging["listings"]
    with engine.connect() as conn:
        staged = conn.execute(
            sa.select(listings.c.external_id, listings.c.category)
            .where(listings.c.source == "example-harbour")
            .order_by(listings.c.external_id)
        ).all()
    assert staged == [("ferry-1", "tour"), ("tour-2", "tour"), ("tour-3", "tour")]


@pytest.mark.parametrize(
    ("settings", "logged"),
    [
        ({"LOG_LEVEL": "DEBUG"}, True),
        ({"LOG_LEVEL": "INFO"}, False),
        ({"LOG_LEVEL": logging.WARNING}, False),
        ({"LOG_LEVEL": "DEBUG", "LOG_ENABLED": False}, False),
    ],
)
def test_scraped_line_is_built_only_when_debug_is_logged(
    settings: dict[str, Any], logged: bool
) -> None:
    crawler = get_crawler(settings_dict={**project_settings(), **settings})
    formatter = build_from_crawler(load_object(crawler.settings["LOG_FORMATTER"]), crawler)
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.NOTSET)  # as Scrapy's log set-up leaves it: handlers filter
    try:
        line = formatter.scraped({"a": 1}, None, None)
    finally:
        root.setLevel(level)
    assert (line is not None) is logged
    if logged:
        assert line is not None and line["level"] == logging.DEBUG


def project_settings() -> dict[str, Any]:
    settings = Settings()
    settings.setmodule("pipeline_core.scrapy.settings")
    return {key: settings[key] for key in ("LOG_FORMATTER",)}


def test_unchanged_records_are_not_even_yielded(
    pipeline_env: dict[str, str], engine: sa.Engine, tmp_path: Path
) -> None:
    first = run_scrapy("crawl", "example-harbour", env=pipeline_env)
    assert "'item_scraped_count': 3" in first.stderr
    second = run_scrapy("crawl", "example-harbour", env=pipeline_env)
    assert second.returncode == 0, second.stderr
    assert "'dmo/unchanged': 3" in second.stderr
    assert "item_scraped_count" not in second.stderr  # skipped before Scrapy saw an item
    # with a feed export every record is mapped and exported, unchanged or not
    out = tmp_path / "all.jsonl"
    third = run_scrapy("crawl", "example-harbour", "-O", str(out), env=pipeline_env)
    assert "'dmo/unchanged': 3" in third.stderr
    assert len(out.read_text().splitlines()) == 3
