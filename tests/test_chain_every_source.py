"""Every bundled source and every fetcher through the real worker: ``queue add scrape`` for
each, ``dmo-pipeline worker --once`` runs scrape → transform → ingest with the archive in S3
(moto's server), and staging is exactly what ``dmo-pipeline crawl`` stages for them.

The bundled sources (``mappings/``: ``json_api``, ``jsonld``, ``csv_feed`` and an in-repo
spider, and the example plugin's source) read their samples with ``file:`` URLs; the
``xml_feed`` and ``html`` fetchers, which no bundled source uses, get a small source each,
served on 127.0.0.1.
"""

from __future__ import annotations

import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import boto3
import pytest
import sqlalchemy as sa
from conftest import run_cli
from moto_server import moto_endpoint  # noqa: F401  (a fixture)

from pipeline_core.config import load_settings
from pipeline_core.db.tables import crawls, errors, files, queue, sources, staging
from pipeline_core.plugins import get_plugin_manager
from pipeline_core.queue.enqueue import add_job
from pipeline_core.testing import FeedServer

BUNDLED = (
    "datatourisme-poi",
    "example-city",
    "example-harbour",
    "example-lakeside",
    "failte-ireland-attractions",
    "odh-events",
)
#: Listings each source stages.
STAGED = {
    "chain-html": 2,
    "chain-xml": 3,
    "datatourisme-poi": 1,
    "example-city": 7,
    "example-harbour": 3,
    "example-lakeside": 8,
    "failte-ireland-attractions": 3265,
    "odh-events": 100,
}

XML = """\
source: chain-xml
dmo: test-dmo
fetcher: xml_feed
url: {url}
records: feed/items/item
id: "@id"
defaults: {{language: en, country: AT}}
fields:
  category: {{const: attraction}}
  name: title
  location.locality: town
  location.latitude: {{from: lat, transform: float}}
"""
HTML = """\
source: chain-html
dmo: test-dmo
fetcher: html
url: {url}
id: code
options: {{record: "tr.ev", extract: {{code: "td.id", what: ".//td[@class='what']"}}}}
defaults: {{language: en}}
fields:
  name: what
  category: {{const: event}}
"""
PAGES = {
    "/feed.xml": (  # content types from the extensions
        b'<?xml version="1.0"?><feed><items>'
        + b"".join(
            f'<item id="X{n}"><title>Sight {n}</title><town>Innsbruck</town>'
            f"<lat>47.2{n}</lat></item>".encode()
            for n in range(1, 4)
        )
        + b"</items></feed>"
    ),
    "/events.html": (
        b"<html><body><table>"
        b"<tr class='ev'><td class='id'>E1</td><td class='what'>Concert</td></tr>"
        b"<tr class='ev'><td class='id'>E2</td><td class='what'>Market</td></tr>"
        b"</table></body></html>"
    ),
}


def snapshot(engine: sa.Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every staging row by table, sorted, with ids, times and crawl ids left out and a
    child row's listing named by (source, external id)."""
    listings = staging["listings"]
    out: dict[str, list[tuple[Any, ...]]] = {}
    with engine.connect() as conn:
        for name, table in staging.items():
            keep = [
                c
                for c in table.columns
                if c.name not in ("id", "listing_id", "crawl_id", "duplicate_of")
                and not c.name.endswith("_at")
            ]
            query = sa.select(*keep)
            if name != "listings":
                query = sa.select(listings.c.source, listings.c.external_id, *keep).join(
                    listings, listings.c.id == table.c.listing_id
                )
            rows = conn.execute(query).all()
            out[name] = sorted((tuple(repr(v) for v in row) for row in rows), key=str)
    return out


def clear(engine: sa.Engine) -> None:
    """Forget what the crawl did: staging, crawls, sources, errors."""
    tables = [*staging.values(), errors, files, crawls, sources]
    names = ", ".join(f"{t.schema}.{t.name}" for t in tables)
    with engine.begin() as conn:
        conn.exec_driver_sql(f"TRUNCATE {names} CASCADE")


@pytest.mark.postgres
@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
def test_every_source_through_the_chain_stages_what_crawl_stages(
    pipeline_env: dict[str, str],
    engine: sa.Engine,
    tmp_path: Path,
    moto_endpoint: str,  # noqa: F811
) -> None:
    bucket = f"chain-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=moto_endpoint).create_bucket(Bucket=bucket)
    folder = tmp_path / "extra"
    folder.mkdir()
    with FeedServer(PAGES) as server:
        (folder / "chain-xml.yaml").write_text(XML.format(url=server.url("/feed.xml")))
        (folder / "chain-html.yaml").write_text(HTML.format(url=server.url("/events.html")))
        env = dict(
            pipeline_env,
            PIPELINE_SOURCES_PATH=str(folder),
            PIPELINE_STORAGE_URL=f"s3://{bucket}/dmo",
            PIPELINE_S3_ENDPOINT_URL=moto_endpoint,
        )
        settings = load_settings(env)
        pm = get_plugin_manager(settings)
        every = sorted(pm.sources())
        assert every == sorted(STAGED)
        fetchers = {pm.sources()[name].fetcher for name in every}
        assert fetchers == {"json_api", "jsonld", "csv_feed", "xml_feed", "html", "spider"}

        crawled = run_cli("crawl", *every, "--no-progress", env=env)
        assert crawled.returncode in (0, 1), crawled.stderr  # odh-events is not complete
        by_crawl = snapshot(engine)
        per_source = Counter(row[0] for row in by_crawl["listings"])
        assert per_source == {repr(name): count for name, count in STAGED.items()}, per_source
        clear(engine)

        with engine.begin() as conn:  # as `queue add scrape` queues them
            for name in every:
                add_job(conn, pm.job_types(), "scrape", {"source": name}, settings=settings)
        ran = run_cli("worker", "--once", "-c", "2", env=env)
        assert ran.returncode == 0, ran.stdout + ran.stderr
    with engine.connect() as conn:
        jobs = conn.execute(
            sa.select(queue.c.type, queue.c.status, queue.c.attempts).order_by(queue.c.id)
        ).all()
    n = len(every)
    assert sorted(tuple(j) for j in jobs) == sorted(
        [("scrape", "completed", 1)] * n
        + [("transform", "completed", 1)] * n
        + [("ingest", "completed", 1)] * n
    )
    assert snapshot(engine) == by_crawl
