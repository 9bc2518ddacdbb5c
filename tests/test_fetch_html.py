"""The html fetcher: list pages to detail pages, pagination by a next link, records and
values by CSS and XPath selectors, and a page that fails."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from fetch_helpers import crawl, crawl_state, error_rows, staged

from pipeline_core.testing import FeedServer


def page(body: str) -> bytes:
    return f"<html><body>{body}</body></html>".encode()


def detail(name: str, town: str, lat: str, tags: list[str]) -> bytes:
    tag_items = "".join(f"<li>{t}</li>" for t in tags)
    return page(
        f'<article><h1 class="title"> {name} </h1><p class="intro">A <b>fine</b> place.</p>'
        f'<span class="town">{town}</span><span data-lat="{lat}" class="geo">map</span>'
        f'<ul class="tags">{tag_items}</ul><img src="/img/{name.lower()}.jpg"></article>'
    )


PAGES = {
    "/list?page=1": page(
        '<ul><li><a class="item" href="/d/ruin">Ruin</a></li>'
        '<li><a class="item" href="/d/falls">Falls</a></li></ul>'
        '<a class="next" href="/list?page=2">more</a>'
    ),
    "/list?page=2": page(
        '<ul><li><a class="item" href="/d/peak">Peak</a></li>'
        '<li><a class="item" href="/d/gone">Gone</a></li></ul>'
    ),
    "/d/ruin": detail("Ruin", "Glendalough", "53.01", ["history", "walks"]),
    "/d/falls": detail("Falls", "Powerscourt", "93.5", ["water"]),
    "/d/peak": detail("Peak", "Lugnaquilla", "52.97", []),
    # a table of events: one record per row, on the first list page only
    "/events": page(
        "<table>"
        '<tr class="ev"><td class="id">E1</td><td class="what">Trad session</td></tr>'
        '<tr class="ev"><td class="id">E2</td><td class="what">Ceili</td></tr>'
        "</table>"
    ),
}

DETAILS = """\
source: html-details
dmo: test-dmo
fetcher: html
url: {url}
id: "@url"
options:
  links: "a.item"
  next_page: "a.next::attr(href)"
  extract:
    name: "h1.title"
    intro: "//p[@class='intro']"
    town: ".town::text"
    lat: "span.geo::attr(data-lat)"
    tags: {{select: "ul.tags li", all: true}}
    photo: {{select: "img::attr(src)", absolute: true}}
defaults: {{language: en, country: IE}}
fields:
  name: name
  category: {{const: attraction}}
  description: intro
  location.locality: town
  location.latitude: {{from: lat, transform: float}}
  attributes.tags: tags
  images: {{each: photo, fields: {{url: $}}}}
"""

EVENTS = """\
source: html-events
dmo: test-dmo
fetcher: html
url: {url}
id: code
options: {{record: "tr.ev", extract: {{code: "td.id", what: ".//td[@class='what']"}}}}
fields:
  name: what
  category: {{const: event}}
"""


def test_html_pages_crawl(pipeline_env: dict[str, str], engine: sa.Engine, tmp_path: Path) -> None:
    with FeedServer(PAGES) as server:
        result = crawl(
            pipeline_env,
            tmp_path / "mappings",
            {
                "html-details": DETAILS.format(url=server.url("/list?page=1")),
                "html-events": EVENTS.format(url=server.url("/events")),
            },
        )
        requested = sorted(server.requests)
        base = server.url("")
    assert result.returncode == 1, result.stderr  # /d/gone is missing: html-details incomplete
    assert requested == sorted([*PAGES, "/d/gone"])

    listings = staged(engine, "html-details")
    assert sorted(listings) == [base + "/d/peak", base + "/d/ruin"]
    ruin = listings[base + "/d/ruin"]
    assert ruin["name"] == {"en": "Ruin"}
    assert ruin["description"] == {"en": "A fine place."}
    assert ruin["location"] == {"locality": "Glendalough", "latitude": 53.01, "country": "IE"}
    assert ruin["attributes"] == {"tags": ["history", "walks"]}
    assert ruin["images"] == [{"url": base + "/img/ruin.jpg"}]
    assert "attributes" not in listings[base + "/d/peak"]  # no tags: the field is left out
    found = [
        (e["external_id"], e["stage"], e["field"], e["message"], e["url"].removeprefix(base))
        for e in error_rows(engine, "html-details")
    ]
    assert sorted(found, key=str) == sorted(
        [
            (
                base + "/d/falls",
                "validate",
                "location.latitude",
                "93.5 is greater than the maximum of 90",
                "/d/falls",
            ),
            (None, "fetch", None, "HTTP 404 from " + base + "/d/gone", "/d/gone"),
        ],
        key=str,
    )
    assert crawl_state(engine, "html-details")[0] is False

    events = staged(engine, "html-events")
    assert {ext: r["name"] for ext, r in events.items()} == {
        "E1": {"en": "Trad session"},
        "E2": {"en": "Ceili"},
    }
    assert crawl_state(engine, "html-events")[0] is True
