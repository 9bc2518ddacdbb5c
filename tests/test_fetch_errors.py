"""Exceptions nobody caught: a spider callback that raises is a page error, an item pipeline
that raises is a record error; either way the crawl is not complete and nothing is
withdrawn, whether the crawl stages its records or archives them (a ``scrape`` job)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import sqlalchemy as sa
from conftest import run_cli
from fetch_helpers import crawl_state, error_rows, staged

from pipeline_core.stages.archive import summary_path
from pipeline_core.testing import FeedServer

SPIDER = '''\
import orjson
import scrapy

from pipeline_core.scrapy import settings
from pipeline_core.scrapy.fetcher import FetcherSpider


class ExplodingPipeline:
    """An item pipeline with a bug: it fails on a record named "explode" (a raw record in
    archive mode, a mapped one when the crawl stages)."""

    def process_item(self, item):
        if hasattr(item, "payload"):
            name = item.payload["name"]
        else:
            name = item.record["name"]["en"]
        if name == "explode":
            raise KeyError("no such field")
        return item


class RaisingSpider(FetcherSpider):
    """Reads one JSON page; a record with "boom" makes its callback raise."""

    name = "raising-feed"
    custom_settings = {
        "ITEM_PIPELINES": settings.ITEM_PIPELINES | {ExplodingPipeline: 150},
    }

    async def start(self):
        yield scrapy.Request(self.start_url, callback=self.parse, errback=self.on_request_error)

    def parse(self, response):
        for payload in orjson.loads(response.body)["data"]:
            if payload.get("boom"):
                raise ValueError(f"cannot read record {payload['id']}")
            item = self.record(payload, response.url)
            if item is not None:
                yield item
'''

MAPPING = """\
source: raising-feed
dmo: test-dmo
fetcher: spider
url: {url}
id: id
defaults: {{language: en}}
fields:
  name: name
  category: {{const: attraction}}
"""


def records(*, boom: int | None = None, explode: int | None = None) -> bytes:
    """Six records; record ``boom`` makes the spider raise, ``explode`` the pipeline."""
    data: list[dict[str, Any]] = []
    for n in range(1, 7):
        record: dict[str, Any] = {"id": str(n), "name": f"Listing {n}"}
        if n == explode:
            record["name"] = "explode"
        if n == boom:
            record["boom"] = True
        data.append(record)
    return orjson.dumps({"data": data})


def project(tmp_path: Path, env: dict[str, str], url: str) -> dict[str, str]:
    """A project folder with the raising spider and its source; the crawl's environment."""
    folder = tmp_path / "project"
    (folder / "spiders").mkdir(parents=True)
    (folder / "mappings").mkdir()
    (folder / "scrapy.cfg").write_text("[settings]\ndefault = pipeline_core.scrapy.settings\n")
    (folder / "spiders" / "__init__.py").write_text("")
    (folder / "spiders" / "raising_feed.py").write_text(SPIDER)
    (folder / "mappings" / "raising-feed.yaml").write_text(MAPPING.format(url=url))
    return dict(env, PIPELINE_PROJECT_DIR=str(folder))


def test_a_callback_or_item_pipeline_that_raises_withdraws_nothing(
    pipeline_env: dict[str, str], engine: sa.Engine, tmp_path: Path
) -> None:
    with FeedServer({"/feed.json": records()}) as server:
        url = server.url("/feed.json")
        env = project(tmp_path, pipeline_env, url)
        first = run_cli("crawl", "raising-feed", "--no-progress", env=env, cwd=tmp_path)
        assert first.returncode == 0, first.stderr
        assert sorted(staged(engine, "raising-feed")) == ["1", "2", "3", "4", "5", "6"]
        # Record 2 breaks the pipeline; record 5 the spider, which never reads record 6.
        server.set_pages({"/feed.json": records(explode=2, boom=5)})
        second = run_cli("crawl", "raising-feed", "--no-progress", env=env, cwd=tmp_path)
    assert second.returncode == 1, second.stderr
    assert second.stdout.startswith(
        "raising-feed: scraped 4, inserted 0, updated 0, unchanged 3, invalid 1, duplicates 0, "
        "withdrawn 0 (finished, INCOMPLETE, 2 errors in pipeline.errors)"
    )
    assert sorted(staged(engine, "raising-feed")) == ["1", "2", "3", "4", "5", "6"]
    complete, stats = crawl_state(engine, "raising-feed")
    assert complete is False
    assert stats["withdrawn"] == 0
    found = [
        (e["stage"], e["external_id"], e["url"], e["message"])
        for e in error_rows(engine, "raising-feed")
    ]
    assert sorted(found) == [
        (
            "fetch",
            None,
            url,
            "the spider raised ValueError: cannot read record 5; the rest of the page is not read",
        ),
        ("pipeline", "2", url, "an item pipeline raised KeyError: 'no such field'"),
    ]


def test_an_archive_crawl_records_both_and_is_not_complete(
    pipeline_env: dict[str, str], engine: sa.Engine, tmp_path: Path
) -> None:
    archive = tmp_path / "raw.jsonl"
    with FeedServer({"/feed.json": records(explode=2, boom=5)}) as server:
        env = project(tmp_path, pipeline_env, server.url("/feed.json"))
        result = run_cli(
            "crawl",
            "raising-feed",
            "--no-progress",
            "-s",
            f"PIPELINE_ARCHIVE_PATH={archive}",
            env=env,
            cwd=tmp_path,
        )
    assert result.returncode == 1, result.stderr
    # records 1 to 4: the archive pipeline (50) wrote record 2 before the broken one (150)
    assert archive.read_bytes().count(b"\n") == 4
    summary = orjson.loads(summary_path(archive).read_bytes())
    assert summary["complete"] is False
    assert (summary["page_errors"], summary["invalid"], summary["errors"]) == (1, 1, 2)
    found = sorted((e["stage"], e["external_id"]) for e in error_rows(engine, "raising-feed"))
    assert found == [("fetch", None), ("pipeline", "2")]
