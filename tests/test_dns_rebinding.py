"""DNS rebinding, with a real name server on 127.0.0.1 whose second answer differs from
its first (``PIPELINE_NAME_SERVERS`` points the pipeline at it): the URL policy checks the
address the connection uses, not only the one the URL check saw."""

from __future__ import annotations

import re
from pathlib import Path

import orjson
import pytest
import sqlalchemy as sa
from conftest import run_scrapy
from dns_server import ScriptedDNS
from fetch_helpers import crawl_state, error_rows, staged

from pipeline_core.config import ConfigError, load_settings
from pipeline_core.exceptions import URLPolicyError
from pipeline_core.testing import FeedServer
from pipeline_core.urlpolicy import check_url, resolve

#: A public address (TEST-NET would not be public): the URL check must see one; no
#: connection ever goes to it, as the connection's own lookup answers 127.0.0.1.
PUBLIC = "93.184.215.14"

MAPPING = (
    "source: {name}\ndmo: test-dmo\nfetcher: json_api\nurl: {url}\nrecords: data\n"
    "id: id\nfields:\n  name: title\n  category: {{const: attraction}}\n"
)


def test_name_servers_are_read_and_asked() -> None:
    settings = load_settings({"PIPELINE_NAME_SERVERS": "127.0.0.1:5353, [::1]:53,10.0.0.2"})
    assert settings.name_servers == (("127.0.0.1", 5353), ("::1", 53), ("10.0.0.2", 53))
    assert load_settings({}).name_servers == ()
    with pytest.raises(ConfigError, match=re.escape("not 'dns.example.org'")):
        load_settings({"PIPELINE_NAME_SERVERS": "dns.example.org"})
    with pytest.raises(ConfigError, match=re.escape("a port from 1 to 65535; not '127.0.0.1:0'")):
        load_settings({"PIPELINE_NAME_SERVERS": "127.0.0.1:0"})
    with ScriptedDNS({"flip.test": [PUBLIC, "10.0.0.7"], "inside.test": ["10.1.2.3"]}) as dns:
        servers = (("127.0.0.1", dns.port),)
        check_url("http://flip.test/feed", name_servers=servers)  # first answer: public
        assert resolve("flip.test", servers) == ("10.0.0.7",)  # second: private
        with pytest.raises(URLPolicyError) as refused:
            check_url("http://inside.test/feed", name_servers=servers)
        with pytest.raises(URLPolicyError) as unknown:
            check_url("http://nowhere.test/feed", name_servers=servers)
        queries = list(dns.queries)
    assert str(refused.value) == (
        "http://inside.test/feed: host inside.test resolves to non-public address 10.1.2.3; "
        "add it to PIPELINE_ALLOWED_HOSTS to allow it"
    )
    assert str(unknown.value) == (
        f"host 'nowhere.test' does not resolve (name servers 127.0.0.1:{dns.port})"
    )
    assert queries == [
        ("flip.test", "A"),
        ("flip.test", "AAAA"),
        ("flip.test", "A"),
        ("inside.test", "A"),
        ("inside.test", "AAAA"),
        ("nowhere.test", "A"),
    ]


def test_a_name_that_answers_differently_the_second_time_is_refused_at_connection(
    pipeline_env: dict[str, str], engine: sa.Engine, tmp_path: Path
) -> None:
    """``rebind.test`` answers a public address to the URL check, then 127.0.0.1 to the
    connection: the page fails without a request. ``fixture.test`` (named in the allowed
    hosts) answers 127.0.0.1 and its crawl goes through the same name server."""
    answers = {"rebind.test": [PUBLIC, "127.0.0.1"], "fixture.test": ["127.0.0.1"]}
    with ScriptedDNS(answers) as dns, FeedServer() as server:
        server.set_pages({"/feed": orjson.dumps({"data": [{"id": "x1", "title": "Hut"}]})})
        folder = tmp_path / "mappings"
        folder.mkdir()
        for name, host in (("rebound", "rebind.test"), ("named", "fixture.test")):
            url = f"http://{host}:{server.port}/feed"
            (folder / f"{name}.yaml").write_text(MAPPING.format(name=name, url=url), "utf-8")
        env = dict(pipeline_env, PIPELINE_SOURCES_PATH=str(folder))
        env["PIPELINE_NAME_SERVERS"] = dns.address
        refused = run_scrapy("crawl", "rebound", env=dict(env, PIPELINE_ALLOWED_HOSTS="127.0.0.1"))
        requested_after_refused = list(server.requests)
        rebind_queries = list(dns.queries)
        allowed = run_scrapy(
            "crawl", "named", env=dict(env, PIPELINE_ALLOWED_HOSTS="127.0.0.1,fixture.test")
        )
        requested = list(server.requests)
        queries = list(dns.queries)
    assert refused.returncode == 0, refused.stderr
    assert allowed.returncode == 0, allowed.stderr
    # the URL check asked (A and AAAA: the public address); then the connection asked
    # again, once for the request and once for each of Scrapy's two retries
    assert (
        rebind_queries
        == [("rebind.test", "A"), ("rebind.test", "AAAA")] + [("rebind.test", "A")] * 3
    )
    assert requested_after_refused == []
    assert staged(engine, "rebound") == {}
    messages = [row["message"] for row in error_rows(engine, "rebound")]
    assert messages == [
        "refused by the URL policy when connecting: host rebind.test resolves to non-public "
        "address 127.0.0.1; add it to PIPELINE_ALLOWED_HOSTS to allow it"
    ]
    assert crawl_state(engine, "rebound")[0] is False
    # an allowed name is not looked up by the URL check; the connection asks the server
    assert queries[len(rebind_queries) :] == [("fixture.test", "A")]
    assert requested == ["/feed"]
    assert sorted(staged(engine, "named")) == ["x1"]
    assert crawl_state(engine, "named")[0] is True


def test_an_ip_address_url_is_crawled_without_asking_the_name_servers(
    pipeline_env: dict[str, str], engine: sa.Engine, tmp_path: Path
) -> None:
    """With ``PIPELINE_NAME_SERVERS`` set, a source at ``http://127.0.0.1:PORT`` is fetched:
    an address is its own answer, never sent to a name server as the name ``127.0.0.1.``."""
    with ScriptedDNS({}) as dns, FeedServer() as server:
        server.set_pages({"/feed": orjson.dumps({"data": [{"id": "x1", "title": "Hut"}]})})
        folder = tmp_path / "mappings"
        folder.mkdir()
        url = f"http://127.0.0.1:{server.port}/feed"
        (folder / "literal.yaml").write_text(MAPPING.format(name="literal", url=url), "utf-8")
        env = dict(
            pipeline_env,
            PIPELINE_SOURCES_PATH=str(folder),
            PIPELINE_NAME_SERVERS=dns.address,
            PIPELINE_ALLOWED_HOSTS="127.0.0.1",
        )
        done = run_scrapy("crawl", "literal", env=env)
        requested = list(server.requests)
        queries = list(dns.queries)
    assert done.returncode == 0, done.stderr
    assert requested == ["/feed"]
    assert queries == []
    assert error_rows(engine, "literal") == []
    assert sorted(staged(engine, "literal")) == ["x1"]
    assert crawl_state(engine, "literal")[0] is True
