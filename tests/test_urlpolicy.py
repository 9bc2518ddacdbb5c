"""URLs are checked before any request: private addresses refused unless allowed."""

from __future__ import annotations

import re
import socket
from pathlib import Path

import orjson
import pytest
import sqlalchemy as sa
from conftest import run_scrapy
from fetch_helpers import crawl_state, error_rows, staged

from pipeline_core.exceptions import URLPolicyError
from pipeline_core.testing import FeedServer
from pipeline_core.urlpolicy import check_url, connect_checked


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://127.0.0.1:8000/feed", "non-public address 127.0.0.1"),
        ("http://10.1.2.3/feed", "non-public address 10.1.2.3"),
        ("http://192.168.0.10/feed", "non-public address 192.168.0.10"),
        ("http://169.254.169.254/latest/meta-data", "non-public address 169.254.169.254"),
        ("http://[::1]/feed", "non-public address ::1"),
        ("http://localhost/feed", "non-public address"),
        ("http://[::ffff:127.0.0.1]/", "non-public address ::ffff:7f00:1 (it carries 127.0.0.1)"),
        ("http://[::ffff:10.0.0.1]/", "non-public address ::ffff:a00:1 (it carries 10.0.0.1)"),
        (
            "http://[64:ff9b::a9fe:a9fe]/latest/meta-data",
            "non-public address 64:ff9b::a9fe:a9fe (it carries 169.254.169.254)",
        ),
        ("http://[64:ff9b:1::c0a8:1]/", "non-public address 64:ff9b:1::c0a8:1 (it carries"),
        ("http://[2002:a9fe:a9fe::]/", "non-public address 2002:a9fe:a9fe:: (it carries 169."),
        ("http://[2002:7f00:1::1]/", "non-public address 2002:7f00:1::1 (it carries 127.0.0.1)"),
        ("http://[::127.0.0.1]/", "non-public address ::7f00:1 (it carries 127.0.0.1)"),
        ("http://[::ffff:0:7f00:1]/", "non-public address ::ffff:0:7f00:1 (it carries 127.0.0.1)"),
        ("http://[fec0::1]/", "non-public address fec0::1"),
        ("ftp://example.org/feed", "scheme 'ftp' is not fetched"),
        ("file:///etc/passwd", "file: URLs are allowed only"),
    ],
)
def test_refused(url: str, reason: str) -> None:
    with pytest.raises(URLPolicyError, match=re.escape(reason)):
        check_url(url)


def test_allowed_hosts_and_file_sources() -> None:
    check_url("http://127.0.0.1:8000/feed", allowed_hosts=["127.0.0.1"])
    check_url("file:///srv/samples/page-1.json", file_roots=[Path("/srv/samples")])
    check_url("https://93.184.215.14/feed")  # a public literal address needs no lookup
    # IPv6 forms that carry a public IPv4 are public
    for url in (
        "http://[::ffff:93.184.215.14]/",
        "http://[64:ff9b::5db8:d70e]/",
        "http://[2002:5db8:d70e::1]/",
        "http://[2606:4700::1111]/",
    ):
        check_url(url)


def test_each_address_is_checked_again_at_connection(
    pipeline_env: dict[str, str], engine: sa.Engine, tmp_path: Path
) -> None:
    """DNS rebinding: the name's answer when the connection is made is what counts.

    The URL policy middleware is switched off here, as if the name had resolved to a public
    address when the URL was checked; the crawler's resolver then gets 127.0.0.1 for
    ``localhost``, which only the literal ``127.0.0.1`` is allowed to reach, so the page
    fails without a request. Naming ``localhost`` itself lets the same crawl through.
    """
    mapping = (
        "source: {name}\ndmo: test-dmo\nfetcher: json_api\nurl: {url}\nrecords: data\n"
        "id: id\nfields:\n  name: title\n  category: {{const: attraction}}\n"
    )
    no_policy = '{"pipeline_core.scrapy.middlewares.URLPolicyMiddleware": null}'
    with FeedServer() as server:
        server.set_pages({"/feed": orjson.dumps({"data": [{"id": "x1", "title": "Hut"}]})})
        folder = tmp_path / "mappings"
        folder.mkdir()
        url = f"http://localhost:{server.port}/feed"
        for name in ("rebound", "named"):
            (folder / f"{name}.yaml").write_text(mapping.format(name=name, url=url), "utf-8")
        env = dict(pipeline_env, PIPELINE_SOURCES_PATH=str(folder))
        refused = run_scrapy(
            "crawl",
            "rebound",
            "-s",
            f"DOWNLOADER_MIDDLEWARES={no_policy}",
            env=dict(env, PIPELINE_ALLOWED_HOSTS="127.0.0.1"),
        )
        requested_after_refused = list(server.requests)
        allowed = run_scrapy(
            "crawl",
            "named",
            "-s",
            f"DOWNLOADER_MIDDLEWARES={no_policy}",
            env=dict(env, PIPELINE_ALLOWED_HOSTS="localhost"),
        )
        requested = list(server.requests)
    assert refused.returncode == 0, refused.stderr
    assert allowed.returncode == 0, allowed.stderr
    assert requested_after_refused == []
    assert requested == ["/feed"]
    assert staged(engine, "rebound") == {}
    assert sorted(staged(engine, "named")) == ["x1"]
    messages = [row["message"] for row in error_rows(engine, "rebound")]
    assert len(messages) == 1
    assert messages[0] == (
        "refused by the URL policy when connecting: host localhost resolves to non-public "
        "address 127.0.0.1; add it to PIPELINE_ALLOWED_HOSTS to allow it"
    )
    assert crawl_state(engine, "rebound")[0] is False
    assert crawl_state(engine, "named")[0] is True


def test_a_checked_connection_goes_only_to_an_allowed_address() -> None:
    """``connect_checked`` (the webhook's connections): the address it connects to is the
    address it checked; a name needs its own entry in the allowed hosts."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        with pytest.raises(URLPolicyError) as refused:
            connect_checked("localhost", port, 2.0, ["127.0.0.1"])
        assert str(refused.value) == (
            "host localhost resolves to non-public address 127.0.0.1; "
            "add it to PIPELINE_ALLOWED_HOSTS to allow it"
        )
        with connect_checked("localhost", port, 2.0, ["localhost"]) as client:
            accepted, _ = server.accept()
            with accepted:
                client.sendall(b"ping")
                assert accepted.recv(4) == b"ping"
                assert client.getpeername() == ("127.0.0.1", port)
