"""The json_api fetcher: every pagination style, broken pages, hosts outside the source,
next pages that cannot be followed (a page count that is not a number, a URL too long)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import sqlalchemy as sa
from conftest import run_cli

from pipeline_core.builtin.json_api import next_from_link_header
from pipeline_core.db.tables import crawls, errors, staging
from pipeline_core.testing import FeedServer

MAPPING = """\
source: {name}
dmo: test-dmo
fetcher: json_api
url: {url}
records: {records}
id: id
pagination: {pagination}
fields:
  name: title
  category: {{const: attraction}}
"""


def items(first: int, count: int) -> list[dict[str, Any]]:
    return [{"id": f"x{n}", "title": f"Item {n}"} for n in range(first, first + count)]


def body(data: Any) -> bytes:
    return orjson.dumps(data)


#: A next page's path that makes its URL longer than Scrapy's URLLENGTH_LIMIT.
LONG_PATH = "/u2?q=" + "x" * 2100


def pages() -> tuple[dict[str, bytes], dict[str, dict[str, str | list[str]]]]:
    served = {
        # page numbers with a total: 3 pages of 2
        "/p?page=1&per_page=2": body({"items": items(1, 2), "pages": 3}),
        "/p?page=2&per_page=2": body({"items": items(3, 2), "pages": 3}),
        "/p?page=3&per_page=2": body({"items": items(5, 1), "pages": 3}),
        # page numbers until an empty page, counted from 0
        "/e?n=0": body(items(1, 2)),
        "/e?n=1": body(items(3, 2)),
        "/e?n=2": body([]),
        # offsets until an empty page
        "/o?offset=0&limit=3": body({"rows": items(1, 3)}),
        "/o?offset=3&limit=3": body({"rows": items(4, 3)}),
        "/o?offset=6&limit=3": body({"rows": items(7, 1)}),
        "/o?offset=7&limit=3": body({"rows": []}),
        # a server that caps the page size at 2 whatever the limit asked: offsets move by
        # the records each page held, and nothing is skipped
        "/c?offset=0&limit=3": body({"rows": items(1, 2)}),
        "/c?offset=2&limit=3": body({"rows": items(3, 2)}),
        "/c?offset=4&limit=3": body({"rows": items(5, 1)}),
        "/c?offset=5&limit=3": body({"rows": []}),
        # Link headers
        "/l1": body({"data": items(1, 2)}),
        "/l2": body({"data": items(3, 2)}),
        # next links: the second page is truncated JSON, its successor never reached
        "/n1": body({"data": items(1, 2), "next": "/n2"}),
        "/n2": b'{"data": [{"id": "x3", "title": "Item',
        # a next link to another host is never followed
        "/h1": body({"data": items(1, 2), "next": "http://127.0.0.2:9/h2"}),
        # a page count that is not a number: the page is read, the next one not fetched
        "/t?page=1": body({"data": items(1, 2), "pages": "n/a"}),
        # a next link longer than URLLENGTH_LIMIT (2083) is not followed
        "/u1": body({"data": items(1, 2), "next": LONG_PATH}),
    }
    # two Link headers: rel="next" in the first, rel="first" in the second
    headers = {"/l1": {"Link": ['</l2>; rel="next"', '</l1>; rel="first"']}}
    return served, headers


SOURCES = {
    "pg-page": ("/p", "items", "{type: page, size: 2, total_pages_path: pages}"),
    "pg-empty": ("/e", "$", "{type: page, param: n, start: 0}"),
    "pg-offset": ("/o", "rows", "{type: offset, size: 3}"),
    "pg-offset-capped": ("/c", "rows", "{type: offset, size: 3}"),
    "pg-link": ("/l1", "data", "{type: link_header}"),
    "pg-broken": ("/n1", "data", "{type: next_link, path: next}"),
    "pg-offsite": ("/h1", "data", "{type: next_link, path: next}"),
    "pg-capped": ("/p", "items", "{type: page, size: 2, total_pages_path: pages, max_pages: 2}"),
    "pg-total": ("/t", "data", "{type: page, total_pages_path: pages}"),
    "pg-long": ("/u1", "data", "{type: next_link, path: next}"),
}


def test_link_header_parsing() -> None:
    header = '<https://a.example/x?page=2>; rel="next", <https://a.example/x?page=9>; rel="last"'
    assert next_from_link_header(header) == "https://a.example/x?page=2"
    assert next_from_link_header('<https://a.example/x>; rel="prev"') is None


def test_pagination_styles(pipeline_env: dict[str, str], engine: sa.Engine, tmp_path: Path) -> None:
    served, headers = pages()
    folder = tmp_path / "mappings"
    folder.mkdir()
    with FeedServer(served, headers=headers) as server:
        for name, (path, records, pagination) in SOURCES.items():
            (folder / f"{name}.yaml").write_text(
                MAPPING.format(
                    name=name, url=server.url(path), records=records, pagination=pagination
                )
            )
        env = dict(pipeline_env, PIPELINE_SOURCES_PATH=str(folder))
        result = run_cli("crawl", *SOURCES, "--no-progress", env=env)
        requested = sorted(set(server.requests))
    assert result.returncode == 1  # five crawls are not complete
    assert result.stderr.splitlines()[-1] == (
        "not complete (a page failed or the crawl was cut short; nothing was withdrawn): "
        "pg-broken, pg-offsite, pg-capped, pg-total, pg-long"
    )
    assert requested == sorted(served)  # nothing past the broken page, nothing offsite
    assert "/p?page=3&per_page=2" in requested  # by pg-page; pg-capped stops after page 2
    listings = staging["listings"]
    with engine.connect() as conn:
        staged = dict(
            conn.execute(
                sa.select(listings.c.source, sa.func.count()).group_by(listings.c.source)
            ).all()
        )
        stats = {
            row.source: row
            for row in conn.execute(sa.select(crawls.c.source, crawls.c.stats, crawls.c.complete))
        }
        error_rows = conn.execute(
            sa.select(errors.c.source, errors.c.stage, errors.c.url, errors.c.message)
        ).all()
    assert staged == {
        "pg-page": 5,
        "pg-empty": 4,
        "pg-offset": 7,
        "pg-offset-capped": 5,
        "pg-link": 4,
        "pg-broken": 2,
        "pg-offsite": 2,
        "pg-capped": 4,
        "pg-total": 2,
        "pg-long": 2,
    }
    assert stats["pg-broken"].complete is False
    assert stats["pg-capped"].complete is False
    assert stats["pg-offsite"].complete is False  # its next page was not fetched
    assert stats["pg-page"].complete is True
    assert stats["pg-link"].complete is True
    assert stats["pg-total"].complete is False  # the pages after page 1 were not fetched
    assert stats["pg-long"].complete is False
    assert sorted((e.source, e.stage, e.url.rsplit("/", 1)[1]) for e in error_rows) == [
        ("pg-broken", "fetch", "n2"),
        ("pg-long", "fetch", LONG_PATH[1:]),
        ("pg-offsite", "fetch", "h2"),
        ("pg-total", "fetch", "t?page=1"),
    ]
    messages = {e.source: e.message for e in error_rows}
    assert messages["pg-total"] == (
        "total_pages_path 'pages' holds 'n/a', not a number of pages; "
        "the pages after this one are not fetched"
    )
    assert messages["pg-long"] == (
        f"not followed: the URL is {len(server.url(LONG_PATH))} characters long, more than "
        "URLLENGTH_LIMIT (2083); raise the setting to follow it"
    )
