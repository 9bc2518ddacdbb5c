"""json_api additions: cursor pagination, headers whose secrets come from the environment
(sent, never logged), and a truncated page that loses only itself."""

from __future__ import annotations

import http.server
import threading
from pathlib import Path
from typing import Any

import orjson
import sqlalchemy as sa
from fetch_helpers import crawl, crawl_state, error_rows, staged

from pipeline_core.testing import FeedServer
from pipeline_core.testing.server import LoopbackHTTPServer

TOKEN = "s3cr3t-token-0123456789"


def items(first: int, count: int) -> list[dict[str, Any]]:
    return [{"id": f"c{n}", "title": f"Item {n}"} for n in range(first, first + count)]


PAGES = {
    # cursors: the first page has none; the last has a null cursor
    "/c": orjson.dumps({"data": items(1, 2), "meta": {"next": "b2"}}),
    "/c?cursor=b2": orjson.dumps({"data": items(3, 2), "meta": {"next": 77}}),
    "/c?cursor=77": orjson.dumps({"data": items(5, 1), "meta": {"next": None}}),
    # page numbers, the second page truncated: pages 1 and 3 are staged
    "/t?page=1": orjson.dumps({"data": items(10, 2), "pages": 3}),
    "/t?page=2": b'{"data": [{"id": "c12", "title": "Item',
    "/t?page=3": orjson.dumps({"data": items(14, 2), "pages": 3}),
}

MAPPING = """\
source: {name}
dmo: test-dmo
fetcher: json_api
url: {url}
records: data
id: id
pagination: {pagination}
headers: {{Authorization: "Bearer ${{DMO_SECRET_TEST_DMO__FEED_TOKEN}}", Accept: application/json}}
fields:
  name: title
  category: {{const: attraction}}
"""


def test_cursor_pagination_secret_headers_and_a_truncated_page(
    pipeline_env: dict[str, str], engine: sa.Engine, tmp_path: Path
) -> None:
    env = dict(pipeline_env, DMO_SECRET_TEST_DMO__FEED_TOKEN=TOKEN, LOG_LEVEL="DEBUG")
    with FeedServer(PAGES) as server:
        result = crawl(
            env,
            tmp_path / "mappings",
            {
                "cursor": MAPPING.format(
                    name="cursor",
                    url=server.url("/c"),
                    pagination="{type: cursor, path: meta.next, param: cursor}",
                ),
                "truncated": MAPPING.format(
                    name="truncated",
                    url=server.url("/t"),
                    pagination="{type: page, total_pages_path: pages}",
                ),
            },
        )
        requests = list(zip(server.requests, server.request_headers, strict=True))
    assert result.returncode == 1, result.stderr  # truncated is not complete
    assert sorted(path for path, _ in requests) == sorted(PAGES)
    for path, headers in requests:
        assert headers["Authorization"] == f"Bearer {TOKEN}", path
        assert headers["Accept"] == "application/json"
    assert TOKEN not in result.stdout + result.stderr  # not even at DEBUG

    assert sorted(staged(engine, "cursor")) == ["c1", "c2", "c3", "c4", "c5"]
    assert crawl_state(engine, "cursor")[0] is True

    assert sorted(staged(engine, "truncated")) == ["c10", "c11", "c14", "c15"]
    (error,) = error_rows(engine, "truncated")
    assert (error["stage"], error["url"].removeprefix(server.url(""))) == ("fetch", "/t?page=2")
    assert error["message"].startswith("not valid JSON: ")
    complete, stats = crawl_state(engine, "truncated")
    assert complete is False
    assert stats["inserted"] == 4


def test_a_header_naming_a_pipeline_setting_is_refused_and_nothing_is_sent(
    pipeline_env: dict[str, str], tmp_path: Path
) -> None:
    with FeedServer(PAGES) as server:
        leak = MAPPING.format(name="leak", url=server.url("/c"), pagination="{type: none}")
        leak = leak.replace("DMO_SECRET_TEST_DMO__FEED_TOKEN", "PIPELINE_DATABASE_URL")
        result = crawl(pipeline_env, tmp_path / "mappings", {"leak": leak})
        sent = list(server.requests)
    assert result.returncode != 0
    assert sent == []
    path = tmp_path / "mappings" / "leak.yaml"
    assert (
        f"{path}:8: at headers.Authorization: header Authorization references "
        "${PIPELINE_DATABASE_URL}; a mapping of DMO test-dmo may only use environment "
        "variables named DMO_SECRET_TEST_DMO__NAME"
    ) in result.stderr
    assert pipeline_env["PIPELINE_DATABASE_URL"] not in result.stderr + result.stdout


class _Oversized(http.server.BaseHTTPRequestHandler):
    """Page 1 is a normal page; page 2 announces a body of 300 MiB (and sends none)."""

    def do_GET(self) -> None:
        if self.path.endswith("page=1"):
            body = orjson.dumps({"data": items(1, 2), "pages": 2})
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(300 * 1024 * 1024))
        self.end_headers()
        self.wfile.flush()

    def log_message(self, *args: Any) -> None:
        pass


def test_a_response_over_256_mib_is_a_page_error(
    pipeline_env: dict[str, str], engine: sa.Engine, tmp_path: Path
) -> None:
    server = LoopbackHTTPServer(("127.0.0.1", 0), _Oversized)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}/big?page=1"
    try:
        mapping = MAPPING.format(
            name="big", url=url, pagination="{type: page, total_pages_path: pages}"
        ).replace('Authorization: "Bearer ${DMO_SECRET_TEST_DMO__FEED_TOKEN}", ', "")
        result = crawl(pipeline_env, tmp_path / "mappings", {"big": mapping})
    finally:
        server.shutdown()
        server.server_close()
    assert result.returncode == 1, result.stderr  # not complete
    assert sorted(staged(engine, "big")) == ["c1", "c2"]
    [error] = error_rows(engine, "big")
    assert error["stage"] == "fetch"
    assert error["url"] == url.replace("page=1", "page=2")
    assert "larger than download max size (268435456)" in result.stdout + result.stderr
