"""Opening hours: the DATAtourisme abbey's 43 schema.org rows over 8 seasonal periods,
weekday dictionaries, OSM strings, and text kept as published when it cannot be read."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import opening_hours
import pytest
from conftest import ROOT

from pipeline_core.builtin.hours import opening_hours_fields, osm_hours
from pipeline_core.config import load_settings
from pipeline_core.exceptions import PartialTransformError, RecordError
from pipeline_core.mapping import CompiledMapping, load_mapping_text
from pipeline_core.model import validate_record
from pipeline_core.model.opening import is_open
from pipeline_core.plugins import get_plugin_manager

ABBEY = ROOT / "mappings/samples/datatourisme-poi/30-0075b425-3bee-3e37-ae93-5f5a5535d1b2.json"


@pytest.fixture(scope="module")
def abbey() -> dict[str, Any]:
    doc = json.loads(ABBEY.read_text("utf-8"))
    specs = doc["isLocatedAt"][0]["schema:openingHoursSpecification"]
    return opening_hours_fields(specs)


def test_the_abbey_has_43_weekly_rows_over_8_periods(abbey: dict[str, Any]) -> None:
    rows = abbey["opening_hours"]
    assert len(rows) == 43
    assert len({(r["valid_from"], r["valid_to"]) for r in rows}) == 8
    assert {
        "weekday": 6,
        "opens": "14:00",
        "closes": "17:00",
        "valid_from": "2024-05-06",
        "valid_to": "2024-07-07",
    } in rows
    assert "opening_dates" not in abbey


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        # summer season (6 May - 7 July 2024): Monday to Saturday 10-17, Sunday 14-17
        ("2024-06-10 11:00", True),  # a Monday: the year's hours have no Monday
        ("2024-06-12 17:30", False),  # a Wednesday after 17:00 (the year says 18:00)
        ("2024-06-16 13:30", False),  # Sunday before 14:00
        ("2024-06-16 14:00", True),
        # high summer (8 July - 1 September): weekends only
        ("2024-08-14 11:00", False),
        ("2024-08-17 11:00", True),
        # autumn, only the year's hours (1 January - 31 December): Wednesday to Sunday
        ("2024-10-14 11:00", False),  # Monday
        ("2024-10-16 17:30", True),  # Wednesday until 18:00
        ("2024-10-16 18:00", False),
        # Christmas holidays (23 December 2023 - 7 January 2024): Monday too
        ("2024-01-01 10:00", True),
        ("2024-01-08 10:00", False),  # the Monday after: the year's hours again
    ],
)
def test_the_abbey_is_open_at(abbey: dict[str, Any], when: str, expected: bool) -> None:
    assert is_open(abbey, datetime.fromisoformat(when)) is expected


def test_the_osm_string_says_what_the_rows_say(abbey: dict[str, Any]) -> None:
    osm = abbey["opening_hours_osm"]
    assert osm.startswith(
        "2024 Jan 1-2024 Dec 31 We-Sa 10:00-18:00; 2024 Jan 1-2024 Dec 31 Su 14:00-18:00; "
        "2024 May 6-2024 Jul 7 closed; 2024 May 6-2024 Jul 7 Mo-Sa 10:00-17:00; "
    )
    parsed = opening_hours.OpeningHours(osm)
    when, differ = datetime(2023, 11, 1, 0, 15), []
    while when < datetime(2025, 1, 15):
        if parsed.is_open(when) != is_open(abbey, when):
            differ.append(when)
        when += timedelta(hours=2, minutes=37)
    assert differ == []


def test_weekday_dictionaries() -> None:
    got = opening_hours_fields(
        {
            "Monday": "9:00 AM - 5:00 PM",
            "Tue-Fri": "9-12, 14:00-18:00",
            "Sat": "10am to 4pm",
            "Sunday": "closed",
        }
    )
    assert got["opening_hours_osm"] == (
        "Mo 09:00-17:00; Tu-Fr 09:00-12:00,14:00-18:00; Sa 10:00-16:00"
    )
    assert got["opening_hours"][:3] == [
        {"weekday": 0, "opens": "09:00", "closes": "17:00"},
        {"weekday": 1, "opens": "09:00", "closes": "12:00"},
        {"weekday": 1, "opens": "14:00", "closes": "18:00"},
    ]
    assert got["opening_hours"][-1] == {"weekday": 6, "closed": True}
    assert len(got["opening_hours"]) == 11


def test_osm_strings_become_rows_and_special_dates() -> None:
    got = opening_hours_fields(
        "mo-fr 9:00-17:00; sa 10:00-12:00,13:00-15:00; PH off; 2024 Dec 24 off"
    )
    assert got["opening_hours_osm"] == (
        "Mo-Fr 09:00-17:00; Sa 10:00-12:00,13:00-15:00; PH closed; 2024 Dec 24 closed"
    )
    assert len(got["opening_hours"]) == 7
    assert got["opening_dates"] == [{"date": "2024-12-24", "closed": True}]
    assert is_open(got, datetime(2024, 12, 24, 10)) is False
    assert is_open(got, datetime(2024, 12, 23, 10)) is True
    assert osm_hours("mo-fr 9:00-17:00") == "Mo-Fr 09:00-17:00"


def test_schema_org_special_dates_and_closures() -> None:
    got = opening_hours_fields(
        [
            {"dayOfWeek": "https://schema.org/Monday", "opens": "09:00", "closes": "17:00"},
            {
                "validFrom": "2024-12-25",
                "validThrough": "2024-12-25",
                "opens": "00:00",
                "closes": "00:00",
            },
            {"validFrom": "2024-12-31", "opens": "10:00", "closes": "14:00"},
        ]
    )
    assert got == {
        "opening_hours": [{"weekday": 0, "opens": "09:00", "closes": "17:00"}],
        "opening_dates": [
            {"date": "2024-12-25", "closed": True},
            {"date": "2024-12-31", "opens": "10:00", "closes": "14:00"},
        ],
        "opening_hours_osm": "Mo 09:00-17:00; 2024 Dec 25 closed; 2024 Dec 31 10:00-14:00",
    }


@pytest.mark.parametrize(
    ("value", "reason", "kept"),
    [
        (
            "open most days, ring ahead",
            "not opening hours in OpenStreetMap syntax or in free text the reader knows",
            "open most days, ring ahead",
        ),
        ({"Monday": "after lunch"}, "not a time range: 'after lunch'", '{"Monday": "after lunch"}'),
        ({"Someday": "9-5"}, "not a weekday", '{"Someday": "9-5"}'),
        (
            [{"opens": "09:00"}],
            "item 0 has neither dayOfWeek nor validFrom",
            '[{"opens": "09:00"}]',
        ),
    ],
)
def test_what_cannot_be_read_is_kept_as_published(value: Any, reason: str, kept: str) -> None:
    with pytest.raises(PartialTransformError) as raised:
        opening_hours_fields(value)
    assert str(raised.value) == reason
    assert raised.value.kept == {"opening_hours_text": kept}


MAPPING = """\
source: abbeys
dmo: demo
fetcher: json_api
url: https://example.org/api
id: id
defaults: {language: en}
fields:
  name: n
  category: {const: attraction}
  $: {from: hours, transform: opening_hours}
"""


def test_a_mapped_record_keeps_unreadable_hours_and_reports_them() -> None:
    transforms = get_plugin_manager(load_settings({})).transforms()
    mapping = CompiledMapping(load_mapping_text(MAPPING, "abbeys.yaml"), transforms)
    kept: list[RecordError] = []
    record = mapping.apply({"id": "a1", "n": "Abbey", "hours": "ring ahead"}, kept=kept)
    assert record["opening_hours_text"] == "ring ahead"
    assert validate_record(record) == []
    assert [(e.source, e.external_id, e.field, e.message) for e in kept] == [
        (
            "abbeys",
            "a1",
            "$",
            "opening_hours: not opening hours in OpenStreetMap syntax or in free text the "
            "reader knows (en) (value 'ring ahead' from hours); kept as published",
        )
    ]
    kept.clear()
    record = mapping.apply({"id": "a2", "n": "Abbey", "hours": "Mo-Fr 09:00-17:00"}, kept=kept)
    assert kept == []
    assert record["opening_hours_osm"] == "Mo-Fr 09:00-17:00"
    assert len(record["opening_hours"]) == 5
    assert validate_record(record) == []
