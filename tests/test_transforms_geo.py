"""Coordinates: text, decimal commas, DMS, ranges, swapped pairs; the Fáilte Ireland
file (longitude first) through a mapping with ``from`` as an object."""

from __future__ import annotations

import csv
from typing import Any

import pytest
from conftest import ROOT

from pipeline_core.builtin.geo import coordinates, latitude, longitude
from pipeline_core.config import load_settings
from pipeline_core.exceptions import RecordError
from pipeline_core.mapping import CompiledMapping, load_mapping_text
from pipeline_core.model import validate_record
from pipeline_core.plugins import get_plugin_manager

FAILTE = ROOT / "mappings/samples/failte-ireland-attractions/attractions.csv"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("53,27", 53.27),
        ("53°16'19.6\"N", 53.2721111),
        ("53°16\u203219.6\u2033N", 53.2721111),
        ("N 53 16 19.6", 53.2721111),
        ("53° 16.33' N", 53.2721667),
        ("-9.0568", -9.0568),
        (53, 53.0),
    ],
)
def test_latitude(value: Any, expected: float) -> None:
    assert latitude(value) == expected


def test_longitude_west_is_negative() -> None:
    assert longitude("9°3'24\"W") == -9.0566667


@pytest.mark.parametrize(
    ("value", "message"),
    [("95", "latitude 95.0 is out of range (-90 to 90)"), ("abc", "not a coordinate")],
)
def test_latitude_errors(value: str, message: str) -> None:
    with pytest.raises(ValueError) as raised:
        latitude(value)
    assert str(raised.value) == message


@pytest.mark.parametrize(
    ("value", "args", "expected"),
    [
        ({"latitude": "53.13", "longitude": "-8.93"}, {"country": "IE"}, (53.13, -8.93)),
        (
            {"latitude": "-8.93", "longitude": "53.13"},
            {"country": "IE", "swapped": "fix"},
            (53.13, -8.93),
        ),
        ("53.27, -9.05", {}, (53.27, -9.05)),
        ("53,27;-9,05", {}, (53.27, -9.05)),
        ("-9.05,53.27", {"order": "lonlat"}, (53.27, -9.05)),
        ([48.85, 2.35], {"bbox": [41.0, -5.6, 51.6, 10.0]}, (48.85, 2.35)),
    ],
)
def test_coordinates(value: Any, args: dict[str, Any], expected: tuple[float, float]) -> None:
    assert coordinates(value, **args) == {"latitude": expected[0], "longitude": expected[1]}


@pytest.mark.parametrize(
    ("value", "args", "message"),
    [
        (
            {"latitude": "-8.93", "longitude": "53.13"},
            {"country": "IE"},
            "latitude and longitude look swapped (-8.93, 53.13)",
        ),
        ("48.85 2.35", {"country": "IE"}, "48.85, 2.35 is outside IE"),
        ([0, 0], {}, "0, 0 is not a place"),
        ("95, 10", {}, "latitude 95.0 is out of range (-90 to 90)"),
        ({"latitude": "53.1"}, {}, "needs both latitude and longitude"),
        ("1, 2", {"country": "XX"}, "no bounding box for country XX; give a bbox"),
    ],
)
def test_coordinate_errors(value: Any, args: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError) as raised:
        coordinates(value, **args)
    assert str(raised.value) == message


MAPPING = """\
source: failte-ireland
dmo: failte-ireland
fetcher: json_api
url: https://example.org/api
key: [Name, Latitude, Longitude]
defaults: {language: en, country: IE}
fields:
  name: Name
  category: {const: attraction}
  location:
    from: {latitude: Latitude, longitude: Longitude}
    transform: {coordinates: {country: IE}}
  location.locality: AddressLocality
  location.region: AddressRegion
  contact.phone: {from: Telephone, transform: {phone: {invalid: keep}}}
"""


def test_failte_ireland_through_a_mapping() -> None:
    transforms = get_plugin_manager(load_settings({})).transforms()
    mapping = CompiledMapping(load_mapping_text(MAPPING, "failte.yaml"), transforms)
    with FAILTE.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    kept: list[RecordError] = []
    records = [mapping.apply(row, kept=kept) for row in rows]
    assert len(records) == 3324
    assert sum(1 for record in records if validate_record(record)) == 0
    kinvara = next(r for r in records if r["name"] == {"en": "Kinvara Visitor Information Point"})
    assert kinvara["location"] == {
        "latitude": 53.1388910775191,
        "longitude": -8.93591557246077,
        "locality": "Kinvara",
        "region": "Galway",
        "country": "IE",
    }
    assert kinvara["contact"] == {"phone": "+35391658108"}
    assert len(kept) == 24  # phones kept as published, each an error row
    assert {e.field for e in kept} == {"contact.phone"}
    no_place = [r for r in records if "latitude" not in r.get("location", {})]
    assert [r["name"]["en"] for r in no_place] == ["Western Shuttle Bus Service"]
