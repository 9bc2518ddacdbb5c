"""Per-language text (Open Data Hub events, DATAtourisme labels), the taxonomy, address
parts and dates."""

from __future__ import annotations

import json
from typing import Any

import pytest
from conftest import ROOT

from pipeline_core.builtin.address import country, postal_code
from pipeline_core.builtin.dates import any_date, to_datetime
from pipeline_core.builtin.language import languages, pick_language
from pipeline_core.builtin.taxonomy import to_category, to_taxonomy
from pipeline_core.exceptions import PartialTransformError

SAMPLES = ROOT / "mappings" / "samples"


def test_odh_titles_per_language() -> None:
    event = json.loads((SAMPLES / "odh-events" / "events-100.json").read_text("utf-8"))["Items"][0]
    assert languages(event["Detail"], key="Title") == {
        "de": "100. Giro d'Italia: Start der 19. Etappe Innichen - Piancavallo",
        "it": "100° Giro d'Italia: partenza della 19° tappa San Candido - Piancavallo",
        "en": "100th Giro d'Italia: start of the 19th stage San Candido - Piancavallo",
    }
    contacts = event["ContactInfos"]
    assert pick_language(contacts, ["en"], key="Email") == "info@sancandido.info"
    assert pick_language(contacts, ["fr", "de"], key="Email") == "info@innichen.it"
    assert languages(event["Detail"], key="Title", only=["en"]) == {
        "en": "100th Giro d'Italia: start of the 19th stage San Candido - Piancavallo"
    }


def test_datatourisme_labels_and_types() -> None:
    doc = json.loads(
        (SAMPLES / "datatourisme-poi" / "30-0075b425-3bee-3e37-ae93-5f5a5535d1b2.json").read_text(
            "utf-8"
        )
    )
    assert languages(doc["rdfs:label"]) == {
        "en": "Abbaye Sainte-Trinité de La Lucerne",
        "fr": "Abbaye Sainte-Trinité de La Lucerne",
    }
    generic = ["PlaceOfInterest", "PointOfInterest"]
    with pytest.raises(PartialTransformError) as raised:
        to_taxonomy(doc["@type"], ignore=generic)
    assert str(raised.value) == "not in the taxonomy: 'Aqueduct', 'PigeonLoft'"
    assert raised.value.kept == ["religious_site", "Aqueduct", "heritage_site", "PigeonLoft"]
    table = {"Aqueduct": "heritage_site", "PigeonLoft": "heritage_site"}
    assert to_taxonomy(doc["@type"], table=table, ignore=generic) == [
        "religious_site",
        "heritage_site",
    ]
    assert to_category(doc["@type"], ignore=generic) == "attraction"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"DE": ["", "Hallo"], "pt_br": " Olá ", "en": None}, {"de": "Hallo", "pt-BR": "Olá"}),
        ({"en": "  Café\n Lúnasa "}, {"en": "Café Lúnasa"}),
        ({"en": ""}, None),
    ],
)
def test_languages(value: dict[str, Any], expected: Any) -> None:
    assert languages(value) == expected


def test_language_errors_and_picking() -> None:
    with pytest.raises(ValueError, match=r"^not a language tag: 'english'$"):
        languages({"english": "x"})
    assert pick_language({"de": "Hallo", "en": " "}, ["en", "de"]) == "Hallo"
    assert pick_language({"it": "Ciao"}, ["en"]) == "Ciao"
    assert pick_language({"it": "Ciao"}, ["en"], fallback=False) is None


def test_odh_topics_and_unknown_categories() -> None:
    assert to_taxonomy([{"TopicInfo": "Musik/Tanz"}, {"TopicInfo": "Sport"}]) == [
        "music_dance",
        "sport_event",
    ]
    assert to_category("Sport") == "event"
    assert to_category("lodging") == "lodging"
    with pytest.raises(PartialTransformError) as raised:
        to_category("Spaceport")
    assert (str(raised.value), raised.value.kept) == ("not in the taxonomy: 'Spaceport'", "other")
    with pytest.raises(ValueError, match=r"^table maps 'Kart' to 'karting', not a taxonomy term$"):
        to_taxonomy("Kart", table={"Kart": "karting"})


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Republic of Ireland", "IE"),
        ("Northern Ireland", "GB"),
        ("France", "FR"),
        ("FRA", "FR"),
        ("de", "DE"),
        ("Österreich", "AT"),
    ],
)
def test_country(value: str, expected: str) -> None:
    assert country(value) == expected


@pytest.mark.parametrize(
    ("value", "code", "expected"),
    [
        ("d02af30", "IE", "D02 AF30"),
        ("sw1a1aa", "GB", "SW1A 1AA"),
        ("1234ab", "NL", "1234 AB"),
        ("1000001", "PT", "1000-001"),
        (39038, "IT", "39038"),
        ("k1a 0b1", "CA", "K1A 0B1"),
    ],
)
def test_postal_code(value: Any, code: str, expected: str) -> None:
    assert postal_code(value, country=code) == expected


def test_address_errors() -> None:
    with pytest.raises(ValueError, match=r"^not a country: 'Narnia'$"):
        country("Narnia")
    with pytest.raises(ValueError, match=r"^not a postal code of FR: 'ABC'$"):
        postal_code("ABC", country="FR")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("16/07/2027", "2027-07-16"),
        ("16.07.2027", "2027-07-16"),
        ("July 16, 2027", "2027-07-16"),
        ("16 July 2027", "2027-07-16"),
        ("2027-07-16T10:00:00Z", "2027-07-16"),
    ],
)
def test_any_date(value: str, expected: str) -> None:
    assert any_date(value) == expected


def test_datetime_and_date_errors() -> None:
    assert to_datetime("16/07/2027 8:30 PM") == "2027-07-16T20:30:00"
    assert to_datetime("2027-07-16T10:00:00Z") == "2027-07-16T10:00:00+00:00"
    assert any_date("07/08/2027", dayfirst=False) == "2027-07-08"
    with pytest.raises(ValueError, match=r"^not a date: 'soon'$"):
        any_date("soon")


@pytest.mark.parametrize(
    ("value", "missing"),
    [
        ("July 2027", "day"),
        ("07/2027", "day"),
        ("2027-07", "day"),
        ("16 July", "year"),
        ("2027", "month and day"),
        ("Monday", "year, month and day"),
        ("10:30", "year, month and day"),
    ],
)
def test_a_date_without_its_year_month_or_day_is_refused(value: str, missing: str) -> None:
    # dateutil fills a missing part from today: the value was wrong and changed every day
    # (and with it the record hash, so every crawl rewrote the listing)
    message = rf"^not a date: '{value}' \(no {missing}\)$"
    with pytest.raises(ValueError, match=message):
        any_date(value)
    with pytest.raises(ValueError, match=message):
        to_datetime(value)
    assert to_datetime("Tue 16 July 2027, 10:30") == "2027-07-16T10:30:00"
    assert any_date("29 February 2028") == "2028-02-29"
