"""The jsonld fetcher: the real DATAtourisme JSON-LD document and schema.org in HTML pages
(JSON-LD and microdata, list pages to detail pages), mapped by the default mapping, with a
mapping that adds and replaces fields."""

from __future__ import annotations

import json
from pathlib import Path

import sqlalchemy as sa
from conftest import ROOT
from fetch_helpers import crawl, crawl_state, error_rows, staged

from pipeline_core.builtin.schema_org import (
    normalise,
    schema_category,
    schema_hours,
    schema_special_hours,
    schema_text,
)
from pipeline_core.testing import FeedServer

POI = ROOT / "mappings/samples/datatourisme-poi/30-0075b425-3bee-3e37-ae93-5f5a5535d1b2.json"
ABBEY = "https://data.datatourisme.fr/30/0075b425-3bee-3e37-ae93-5f5a5535d1b2"


def page(body: str, head: str = "") -> bytes:
    return f"<html><head>{head}</head><body>{body}</body></html>".encode()


def script(data: object) -> str:
    return f'<script type="application/ld+json">{json.dumps(data)}</script>'


HOTEL = {
    "@context": "https://schema.org",
    "@graph": [
        {"@type": "WebSite", "name": "Visit Harbourtown", "url": "https://visit.example/"},
        {
            "@type": "Hotel",
            "@id": "https://visit.example/stay/bay-hotel",
            "name": [
                {"@value": "Bay Hotel", "@language": "en"},
                {"@value": "Hotel an der Bucht", "@language": "de"},
            ],
            "description": "Rooms with a view.",
            "starRating": {"@type": "Rating", "ratingValue": "4"},
            "address": {
                "@type": "PostalAddress",
                "streetAddress": "1 Quay Street",
                "postalCode": "H91",
                "addressLocality": "Harbourtown",
            },
            "geo": {"@type": "GeoCoordinates", "latitude": "53.27", "longitude": "-9.05"},
            "telephone": "+353 91 555 0100",
            "url": "https://bayhotel.example/",
            "image": ["https://visit.example/img/bay.jpg"],
            "openingHoursSpecification": {
                "@type": "OpeningHoursSpecification",
                "dayOfWeek": ["https://schema.org/Monday", "https://schema.org/Tuesday"],
                "opens": "07:00:00",
                "closes": "23:00:00",
            },
            "specialOpeningHoursSpecification": [
                {
                    "@type": "OpeningHoursSpecification",
                    "opens": "00:00",
                    "closes": "00:00",
                    "validFrom": "2024-12-24",
                    "validThrough": "2024-12-26",
                },
                {
                    "@type": "OpeningHoursSpecification",
                    "opens": "10:00:00",
                    "closes": "14:00:00",
                    "validFrom": "2024-12-31",
                    "validThrough": "2024-12-31",
                },
            ],
        },
    ],
}
MICRODATA = """
<div itemscope itemtype="https://schema.org/Restaurant">
  <h1 itemprop="name">Harbour Grill</h1>
  <p itemprop="description">Fish and chips.</p>
  <a itemprop="url" href="/eat/harbour-grill">Website</a>
  <div itemprop="geo" itemscope itemtype="https://schema.org/GeoCoordinates">
    <meta itemprop="latitude" content="53.26"><meta itemprop="longitude" content="-9.06">
  </div>
  <span itemprop="telephone">+353 91 555 0200</span>
  <meta itemprop="openingHours" content="Mo-Su 12:00-22:00">
</div>
"""
OUT_OF_RANGE = {
    "@context": "https://schema.org",
    "@type": "TouristAttraction",
    "@id": "https://visit.example/see/sky-light",
    "name": "Sky Light",
    "geo": {"@type": "GeoCoordinates", "latitude": 153.2, "longitude": -9.0},
}
LIGHTHOUSE = {
    "@context": "https://schema.org",
    "@type": ["TouristAttraction", "LandmarksOrHistoricalBuildings"],
    "name": "Harbour Lighthouse",
    "url": "https://visit.example/see/lighthouse",
}
TOWER = {  # a day that is not in the calendar: an invalid record, its batch still staged
    "@context": "https://schema.org",
    "@type": "TouristAttraction",
    "@id": "https://visit.example/see/tower",
    "name": "Clock Tower",
    "specialOpeningHoursSpecification": {"validFrom": "2024-02-30", "opens": "10:00"},
}


def pages() -> dict[str, bytes]:
    return {
        "/poi.jsonld": POI.read_bytes(),
        "/list-1.html": page(
            '<a class="card" href="/stay/bay-hotel.html">Bay Hotel</a>'
            '<a class="card" href="/eat/harbour-grill.html">Harbour Grill</a>'
            '<a class="card" href="/see/sky-light.html">Sky Light</a>'
            '<a class="card" href="/see/broken.html">Broken</a>'
            '<a rel="next" href="/list-2.html">next</a>'
        ),
        "/list-2.html": page(
            '<a class="card" href="/see/lighthouse.html">Lighthouse</a>'
            '<a class="card" href="/see/tower.html">Tower</a>'
        ),
        "/stay/bay-hotel.html": page("<h1>Bay Hotel</h1>", head=script(HOTEL)),
        "/eat/harbour-grill.html": page(MICRODATA),
        "/see/sky-light.html": page("<h1>Sky Light</h1>", head=script(OUT_OF_RANGE)),
        "/see/broken.html": page(
            "<h1>Broken</h1>", head='<script type="application/ld+json">{"@type": "Museum",'
        ),
        "/see/lighthouse.html": page("", head=script(LIGHTHOUSE)),
        "/see/tower.html": page("", head=script(TOWER)),
    }


POI_MAPPING = """\
source: jsonld-poi
dmo: normandie-tourisme
fetcher: jsonld
url: {url}
defaults: {{language: fr, country: FR}}
licence: {{name: Licence Ouverte 2.0, attribution: "DATAtourisme, Licence Ouverte 2.0"}}
"""
PAGES_MAPPING = """\
source: jsonld-pages
dmo: visit-harbourtown
fetcher: jsonld
url: {url}
options: {{links: "a.card", next_page: "//a[@rel='next']/@href"}}
defaults: {{language: en, country: IE}}
fields:
  attributes.stars: {{from: starRating.ratingValue, transform: float}}
  contact.website: {{const: null}}
"""


def test_schema_text_category_and_hours() -> None:
    assert schema_text(["Bay Hotel", "Other"]) == "Bay Hotel"
    assert schema_text({"en": ["Abbey"], "fr": ["Abbaye"]}) == {"en": "Abbey", "fr": "Abbaye"}
    assert schema_text([{"@value": "Bucht", "@language": "de"}]) == {"de": "Bucht"}
    assert schema_category(["Abbey", "CulturalSite", "PointOfInterest"]) == "attraction"
    assert schema_category(["Hotel", "Restaurant"]) == "lodging"
    assert schema_category("schema:FestivalX") == "other"
    assert schema_hours(
        [
            {"dayOfWeek": {"@id": "schema:Sunday"}, "opens": "00:00", "closes": "00:00"},
            {"opens": "09:00", "closes": "10:00", "validFrom": "2024-12-25"},
        ]
    ) == [{"weekday": 6, "closed": True}]
    assert schema_special_hours(
        [
            {"validFrom": "2025-01-01T00:00:00", "validThrough": "2024-12-01"},  # ends earlier
            {"opens": "09:00", "closes": "12:00"},  # no date: left out
            "not a specification",
        ]
    ) == [{"date": "2025-01-01", "closed": True}]
    assert schema_special_hours({"validFrom": "Christmas"}) is None
    assert normalise({"schema:geo": {"@type": "schema:GeoCoordinates"}}) == {
        "geo": {"@type": "GeoCoordinates"}
    }


def test_jsonld_sources_crawl(
    pipeline_env: dict[str, str], engine: sa.Engine, tmp_path: Path
) -> None:
    with FeedServer(pages()) as server:
        result = crawl(
            pipeline_env,
            tmp_path / "mappings",
            {
                "jsonld-poi": POI_MAPPING.format(url=server.url("/poi.jsonld")),
                "jsonld-pages": PAGES_MAPPING.format(url=server.url("/list-1.html")),
            },
        )
        requested = sorted(server.requests)
        base = server.url("")
    assert result.returncode == 1, result.stderr  # the broken page: jsonld-pages incomplete
    assert requested == sorted(pages())
    check_the_datatourisme_document_maps_without_a_field_mapping(engine)
    check_pages_list_to_detail_with_json_ld_and_microdata(engine, base)


def check_the_datatourisme_document_maps_without_a_field_mapping(engine: sa.Engine) -> None:
    (abbey,) = staged(engine, "jsonld-poi").values()
    assert abbey["external_id"] == ABBEY
    assert abbey["name"] == {
        "en": "Abbaye Sainte-Trinité de La Lucerne",
        "fr": "Abbaye Sainte-Trinité de La Lucerne",
    }
    assert sorted(abbey["description"]) == ["de", "en", "es", "fr", "it", "nl"]
    assert abbey["category"] == "attraction"
    assert abbey["location"] == {
        "postal_code": "50320",
        "locality": "La Lucerne-d'Outremer",
        "latitude": 48.7916655,
        "longitude": -1.4673076,
        "country": "FR",
    }
    assert abbey["contact"] == {
        "phone": "+33 2 33 60 58 98",
        "email": "accueil@abbaye-lucerne.fr",
        "website": "https://www.abbaye-lucerne.fr/",
    }
    hours = abbey["opening_hours"]
    assert len(hours) == 43
    assert len({(h["valid_from"], h["valid_to"]) for h in hours}) == 8
    assert hours[0] == {
        "weekday": 5,
        "opens": "10:00",
        "closes": "18:00",
        "valid_from": "2024-01-01",
        "valid_to": "2024-12-31",
    }
    assert abbey["licence"]["attribution"] == "DATAtourisme, Licence Ouverte 2.0"
    assert abbey["images"] == [  # hasRepresentation, through the default mapping
        {
            "url": "https://upload.wikimedia.org/wikipedia/commons/c/c9/"
            "France_Manche_abbaye_lucerne_de_loin.jpg",
            "caption": "France Manche abbaye lucerne de loin",
            "credit": "Pinpin (https://commons.wikimedia.org/wiki/User:Pinpin)",
            "licence": "CC BY 2.5",
        }
    ]
    assert error_rows(engine, "jsonld-poi") == []
    assert crawl_state(engine, "jsonld-poi")[0] is True


def check_pages_list_to_detail_with_json_ld_and_microdata(engine: sa.Engine, base: str) -> None:
    listings = staged(engine, "jsonld-pages")
    grill_url = base + "/eat/harbour-grill"  # microdata's relative url, made absolute
    assert sorted(listings) == sorted(
        [
            "https://visit.example/stay/bay-hotel",
            "https://visit.example/see/lighthouse",
            grill_url,
        ]
    )
    hotel = listings["https://visit.example/stay/bay-hotel"]
    assert hotel["name"] == {"en": "Bay Hotel", "de": "Hotel an der Bucht"}
    assert hotel["category"] == "lodging"
    assert hotel["description"] == {"en": "Rooms with a view."}
    assert hotel["location"] == {
        "street": "1 Quay Street",
        "postal_code": "H91",
        "locality": "Harbourtown",
        "latitude": 53.27,
        "longitude": -9.05,
        "country": "IE",
    }
    assert hotel["contact"] == {"phone": "+353 91 555 0100"}  # website replaced by null
    assert hotel["attributes"] == {"stars": 4.0}  # a field the mapping adds
    assert hotel["images"] == [{"url": "https://visit.example/img/bay.jpg"}]
    assert hotel["opening_hours"] == [
        {"weekday": 0, "opens": "07:00", "closes": "23:00"},
        {"weekday": 1, "opens": "07:00", "closes": "23:00"},
    ]
    # special dates: closed over Christmas, short hours on New Year's Eve
    assert hotel["opening_dates"] == [
        {"date": "2024-12-24", "end_date": "2024-12-26", "closed": True},
        {"date": "2024-12-31", "opens": "10:00", "closes": "14:00"},
    ]
    grill = listings[grill_url]
    assert grill["name"] == {"en": "Harbour Grill"}
    assert grill["category"] == "restaurant"
    assert grill["location"]["latitude"] == 53.26
    assert grill["opening_hours_text"] == "Mo-Su 12:00-22:00"
    lighthouse = listings["https://visit.example/see/lighthouse"]
    assert lighthouse["category"] == "attraction"

    found = {
        (e["external_id"], e["stage"], e["field"], e["url"].rsplit("/", 1)[-1]): e["message"]
        for e in error_rows(engine, "jsonld-pages")
    }
    assert set(found) == {
        ("https://visit.example/see/sky-light", "validate", "location.latitude", "sky-light.html"),
        ("https://visit.example/see/tower", "validate", "opening_dates.0.date", "tower.html"),
        (None, "fetch", None, "broken.html"),
    }
    assert found[
        ("https://visit.example/see/sky-light", "validate", "location.latitude", "sky-light.html")
    ] == ("153.2 is greater than the maximum of 90")
    assert found[(None, "fetch", None, "broken.html")].startswith(
        "no readable JSON-LD or microdata: "
    )
    assert crawl_state(engine, "jsonld-pages")[0] is False
