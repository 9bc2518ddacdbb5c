"""A source requests only its hosts: its ``url``'s and ``allowed_hosts`` (subdomains too);
a ``file:`` source only its ``allowed_hosts``. Listed hosts are followed; others are page
errors (see also tests/test_real_sources.py and tests/test_json_api.py)."""

from __future__ import annotations

from pathlib import Path

import orjson
import sqlalchemy as sa
from fetch_helpers import crawl, crawl_state, error_rows, staged

from pipeline_core.testing import FeedServer

MAPPING = """\
source: {name}
dmo: test-dmo
fetcher: json_api
url: {url}
records: data
id: id
pagination: {{type: next_link, path: next}}
{hosts}
fields:
  name: title
  category: {{const: attraction}}
"""


def page(ids: list[str], next_url: str | None) -> bytes:
    return orjson.dumps({"data": [{"id": i, "title": f"Item {i}"} for i in ids], "next": next_url})


def test_listed_hosts_are_followed_others_are_page_errors(
    pipeline_env: dict[str, str], engine: sa.Engine, tmp_path: Path
) -> None:
    with FeedServer() as server:
        on_localhost = f"http://localhost:{server.port}"
        server.set_pages(
            {
                "/a1": page(["a1"], f"{on_localhost}/a2"),
                "/a2": page(["a2"], None),
                "/b2": page(["b2"], None),
            }
        )
        files = tmp_path / "mappings" / "samples"  # file: URLs read only the mapping's folder
        files.mkdir(parents=True)
        (files / "page-1.json").write_bytes(page(["f1"], "page-2.json"))  # a file: next link
        (files / "page-2.json").write_bytes(page(["f2"], f"{on_localhost}/b2"))
        result = crawl(
            dict(pipeline_env, PIPELINE_ALLOWED_HOSTS="127.0.0.1,localhost"),
            tmp_path / "mappings",
            {
                "listed": MAPPING.format(
                    name="listed", url=server.url("/a1"), hosts="allowed_hosts: [localhost]"
                ),
                "unlisted": MAPPING.format(name="unlisted", url=server.url("/a1"), hosts=""),
                "file-listed": MAPPING.format(
                    name="file-listed",
                    url=(files / "page-1.json").as_uri(),
                    hosts="allowed_hosts: [localhost]",
                ),
                "file-unlisted": MAPPING.format(
                    name="file-unlisted", url=(files / "page-1.json").as_uri(), hosts=""
                ),
            },
        )
        requested = sorted(server.requests)
    assert result.returncode == 1, result.stderr
    assert result.stderr.splitlines()[-1].endswith(": unlisted, file-unlisted")
    assert requested == ["/a1", "/a1", "/a2", "/b2"]  # nothing else was asked for
    assert sorted(staged(engine, "listed")) == ["a1", "a2"]
    assert sorted(staged(engine, "file-listed")) == ["b2", "f1", "f2"]
    assert crawl_state(engine, "listed")[0] is True
    assert crawl_state(engine, "file-listed")[0] is True
    assert sorted(staged(engine, "unlisted")) == ["a1"]
    assert sorted(staged(engine, "file-unlisted")) == ["f1", "f2"]
    ((unlisted_url, unlisted),) = [(e["url"], e["message"]) for e in error_rows(engine, "unlisted")]
    assert unlisted_url == f"{on_localhost}/a2"
    assert unlisted == (
        "not followed: host localhost is not one of the source's hosts (127.0.0.1); "
        "add it to allowed_hosts to follow it"
    )
    ((file_url, file_message),) = [
        (e["url"], e["message"]) for e in error_rows(engine, "file-unlisted")
    ]
    assert file_url == f"{on_localhost}/b2"
    assert file_message == (
        "not followed: host localhost is not one of the source's hosts (none); "
        "add it to allowed_hosts to follow it"
    )
