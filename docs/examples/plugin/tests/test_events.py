"""The riverside-events spider, crawled from saved pages with the test kit."""

from __future__ import annotations

from pathlib import Path

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def test_event_pages_become_listings(dmo_crawl):
    result = dmo_crawl("riverside-events", feed=FIXTURES / "events", start="/index.html")

    assert result.errors == []
    assert result.stats["complete"] is True
    assert sorted(result.requests) == ["/boat-parade.html", "/bridge-night.html", "/index.html"]
    assert sorted(result.listings) == ["ev-301", "ev-302"]
    parade = result.listings["ev-301"].record
    assert parade["category"] == "event"
    assert parade["name"] == {"en": "Boat Parade"}
    assert parade["opening_dates"] == [{"date": "2027-06-12", "end_date": "2027-06-13"}]
    assert parade["location"] == {"street": "Quay 4", "locality": "Riverside", "country": "AT"}
    night = result.listings["ev-302"]
    assert night.record["description"] == {"en": "Music on all seven bridges & a market."}
    assert night.rows["opening_dates"][0]["end_date"] is None
