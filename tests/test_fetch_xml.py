"""The xml_feed fetcher: records as dicts, namespaces, pagination, and hostile documents.

External entities (a local file, a URL on the test server) and nested entity expansion
are refused as page errors naming the source and URL: the file is not read, the URL not
requested, and the other pages and sources are staged.
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from fetch_helpers import crawl, crawl_state, error_rows, staged

from pipeline_core.records.xml_read import Namer, UnsafeXML, iter_records
from pipeline_core.testing import FeedServer

GEO = "http://www.w3.org/2003/01/geo/wgs84_pos#"


def item(n: int, lat: str = "47.26") -> str:
    return (
        f'<item id="X{n}" kind="sight"><title xml:lang="en">Sight {n}</title>'
        f"<title_de>Sehenswürdigkeit {n}</title_de>"
        f"<geo:point><geo:lat>{lat}</geo:lat><geo:long>11.39</geo:long></geo:point>"
        f"<tag>family</tag><tag>views</tag>"
        f"<address><street>{n} Main Street</street><town>Innsbruck</town></address></item>"
    )


def feed(items: str, next_url: str | None = None) -> bytes:
    nxt = f"<next>{next_url}</next>" if next_url else ""
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<feed xmlns:geo="{GEO}">'
        f"<meta>{nxt}</meta><items>{items}</items></feed>"
    ).encode()


MAPPING = """\
source: {name}
dmo: test-dmo
fetcher: xml_feed
url: {url}
records: {records}
id: "@id"
options: {{namespaces: {{geo: "{geo}"}}}}
pagination: {{type: next_link, path: feed/meta/next}}
defaults: {{language: en, country: AT}}
fields:
  category: {{from: "@kind", map: {{sight: attraction}}}}
  name: title.#text
  name.de: title_de
  location.street: address.street
  location.locality: address.town
  location.latitude: {{from: geo:point.geo:lat, transform: float}}
  location.longitude: {{from: geo:point.geo:long, transform: float}}
  attributes.tags: tag
"""

EXTERNAL_FILE = b"""<?xml version="1.0"?>
<!DOCTYPE feed [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<feed><items><item id="E1" kind="sight"><title>&secret;</title></item></items></feed>
"""
NESTED = b"""<?xml version="1.0"?>
<!DOCTYPE feed [
 <!ENTITY a "lollollollollollollollollollol">
 <!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">
 <!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">
 <!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">
]>
<feed><items><item id="L1" kind="sight"><title>&d;</title></item></items></feed>
"""


def external_http(url: str) -> bytes:
    return (
        f'<?xml version="1.0"?>\n<!DOCTYPE feed [<!ENTITY leak SYSTEM "{url}">]>\n'
        '<feed><items><item id="H1" kind="sight"><title>&leak;</title></item></items></feed>'
    ).encode()


def test_records_are_dicts_with_attributes_children_lists_and_namespaces() -> None:
    found: dict[str, object] = {}
    body = feed(item(1) + item(2), "/page-2.xml")
    records = list(
        iter_records(body, ["item"], Namer({"geo": GEO}), ["feed", "meta", "next"], found)
    )
    assert records[0] == {
        "@id": "X1",
        "@kind": "sight",
        "title": {"@lang": "en", "#text": "Sight 1"},
        "title_de": "Sehenswürdigkeit 1",
        "geo:point": {"geo:lat": "47.26", "geo:long": "11.39"},
        "tag": ["family", "views"],
        "address": {"street": "1 Main Street", "town": "Innsbruck"},
    }
    assert [r["@id"] for r in records] == ["X1", "X2"]
    assert found == {"value": "/page-2.xml"}
    # without the namespace named, elements go by their local name; a path from the root
    (plain,) = list(iter_records(feed(item(3)), ["feed", "items", "item"], Namer()))
    assert plain["point"] == {"lat": "47.26", "long": "11.39"}


def test_mixed_content_keeps_the_text_between_and_after_child_elements() -> None:
    body = (
        b'<feed><item id="M1"><description lang="en">Open <b>daily</b> from 9,\n  '
        b"<i>closed</i> on <b>Mondays</b>.</description><note>Ask <a>us</a></note>"
        b"<plain>  text only </plain></item></feed>"
    )
    (record,) = list(iter_records(body, ["item"], Namer()))
    assert record == {
        "@id": "M1",
        "description": {
            "@lang": "en",
            "b": ["daily", "Mondays"],
            "i": "closed",
            "#text": "Open from 9, on .",
        },
        "note": {"a": "us", "#text": "Ask"},
        "plain": "text only",
    }


def test_entity_declarations_are_refused_before_any_record() -> None:
    for body in (EXTERNAL_FILE, NESTED, external_http("http://127.0.0.1:9/x")):
        records = iter_records(body, ["item"], Namer())
        try:
            next(records)
        except UnsafeXML as exc:
            assert "declares entities, which are never resolved" in str(exc)
        else:
            raise AssertionError("an entity declaration was accepted")


def test_xml_feeds_crawl_and_hostile_documents_are_page_errors(
    pipeline_env: dict[str, str], engine: sa.Engine, tmp_path: Path
) -> None:
    pages = {
        "/page-1.xml": feed(item(1) + item(2, lat="95.5"), "/page-2.xml"),
        "/page-2.xml": feed(item(3)),
        "/external-file.xml": EXTERNAL_FILE,
        "/nested.xml": NESTED,
        "/secret.txt": b"never to be read",
        "/truncated.xml": feed(item(7) + item(8))[:-40],
    }
    with FeedServer(pages) as server:
        pages["/external-http.xml"] = external_http(server.url("/secret.txt"))
        server.set_pages(pages)
        mappings = {
            name: MAPPING.format(name=name, url=server.url(path), records=records, geo=GEO)
            for name, path, records in (
                ("xml-good", "/page-1.xml", "item"),
                ("xml-file-entity", "/external-file.xml", "item"),
                ("xml-http-entity", "/external-http.xml", "item"),
                ("xml-nested", "/nested.xml", "feed/items/item"),
                ("xml-truncated", "/truncated.xml", "item"),
            )
        }
        result = crawl(pipeline_env, tmp_path / "mappings", mappings)
        requested = list(server.requests)
    assert result.returncode == 1, result.stderr
    assert "/secret.txt" not in requested
    assert sorted(requested) == sorted(
        [
            "/page-1.xml",
            "/page-2.xml",
            "/external-file.xml",
            "/external-http.xml",
            "/nested.xml",
            "/truncated.xml",
        ]
    )

    good = staged(engine, "xml-good")
    assert sorted(good) == ["X1", "X3"]  # X2's latitude is out of range
    assert good["X1"]["name"] == {"en": "Sight 1", "de": "Sehenswürdigkeit 1"}
    assert good["X1"]["location"] == {
        "street": "1 Main Street",
        "locality": "Innsbruck",
        "latitude": 47.26,
        "longitude": 11.39,
        "country": "AT",
    }
    assert good["X1"]["attributes"] == {"tags": ["family", "views"]}
    assert good["X3"]["category"] == "attraction"
    (invalid,) = error_rows(engine, "xml-good")
    assert (invalid["external_id"], invalid["stage"], invalid["field"], invalid["message"]) == (
        "X2",
        "validate",
        "location.latitude",
        "95.5 is greater than the maximum of 90",
    )
    assert crawl_state(engine, "xml-good")[0] is True

    for source, path, entity in (
        ("xml-file-entity", "/external-file.xml", "secret (external: file:///etc/passwd)"),
        ("xml-http-entity", "/external-http.xml", "leak (external: http://127.0.0.1:"),
        ("xml-nested", "/nested.xml", "a (internal: lollollol"),
    ):
        assert staged(engine, source) == {}
        (error,) = error_rows(engine, source)
        assert error["stage"] == "fetch"
        assert error["url"].endswith(path)
        assert error["message"].startswith(
            "refused: the document declares entities, which are never resolved: "
        )
        assert entity in error["message"]
        assert crawl_state(engine, source)[0] is False
        assert f"{source} record ?: fetch: refused: the document declares entities" in (
            result.stderr
        )
    assert "root:" not in result.stderr

    # a truncated document: the records before the fault are staged, the page is an error
    assert sorted(staged(engine, "xml-truncated")) == ["X7"]
    (truncated,) = error_rows(engine, "xml-truncated")
    assert truncated["message"].startswith("not well-formed XML after 1 records: ")
    assert crawl_state(engine, "xml-truncated")[0] is False
