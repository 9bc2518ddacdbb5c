"""The mapping syntax the transforms need: ``from`` objects, the ``$`` target, objects
mapped whole and by parts, and values kept as published (inlined and not)."""

from __future__ import annotations

from typing import Any

import pytest

from pipeline_core.config import load_settings
from pipeline_core.exceptions import MappingError, RecordError
from pipeline_core.mapping import CompiledMapping, load_mapping_text
from pipeline_core.plugins import get_plugin_manager

BASE = """\
source: demo
dmo: demo-dmo
fetcher: json_api
url: https://example.org/api
id: id
defaults: {language: en, country: IE}
fields:
  name: n
"""


@pytest.fixture(scope="module")
def transforms() -> dict[str, Any]:
    return get_plugin_manager(load_settings({})).transforms()


def compiled(fields: str, transforms: dict[str, Any]) -> CompiledMapping:
    return CompiledMapping(load_mapping_text(BASE + fields, "demo.yaml"), transforms)


@pytest.mark.parametrize(
    "spec",
    [
        "{from: t, transform: [category, upper]}",  # written out inline
        "{from: [t, kind], transform: [category, upper]}",  # a closure
    ],
)
def test_a_kept_value_ends_the_transform_chain(spec: str, transforms: dict[str, Any]) -> None:
    mapping = compiled(f"  category: {spec}\n", transforms)
    assert mapping.apply({"id": "1", "n": "A", "t": "Sport"})["category"] == "EVENT"
    kept: list[RecordError] = []
    record = mapping.apply({"id": "2", "n": "A", "t": "Spaceport"}, kept=kept)
    assert record["category"] == "other"
    (reason,) = kept
    assert (reason.external_id, reason.field) == ("2", "category")
    assert reason.message.startswith("category: not in the taxonomy: 'Spaceport' (value ")
    assert reason.message.endswith("; kept as published")


def test_without_a_list_kept_reasons_are_dropped_not_raised(transforms: dict[str, Any]) -> None:
    mapping = compiled("  category: {from: t, transform: category}\n", transforms)
    assert mapping.apply({"id": "1", "n": "A", "t": "Spaceport"})["category"] == "other"


def test_from_an_object_gives_the_named_values(transforms: dict[str, Any]) -> None:
    mapping = compiled(
        "  location: {from: {latitude: geo.lat, longitude: geo.lon}, transform: coordinates}\n"
        "  location.locality: town\n",
        transforms,
    )
    record = mapping.apply(
        {"id": "1", "n": "A", "geo": {"lat": "53,1", "lon": "-9,2"}, "town": "X"}
    )
    assert record["location"] == {
        "latitude": 53.1,
        "longitude": -9.2,
        "locality": "X",
        "country": "IE",
    }
    # all values empty: the field is empty, the parts stay
    record = mapping.apply({"id": "2", "n": "A", "geo": {"lat": " "}, "town": "X"})
    assert record["location"] == {"locality": "X", "country": "IE"}
    with pytest.raises(RecordError) as raised:
        mapping.apply({"id": "3", "n": "A", "geo": {"lat": "53.1"}})
    assert raised.value.field == "location"
    assert raised.value.message == (
        "coordinates: needs both latitude and longitude "
        "(value {'latitude': '53.1'} from geo.lat, geo.lon)"
    )


def test_the_dollar_target_merges_under_fields_mapped_by_name(transforms: dict[str, Any]) -> None:
    mapping = compiled(
        "  category: {const: attraction}\n"
        "  $: {from: h, transform: opening_hours}\n"
        "  opening_hours_osm: {const: Mo 10:00-12:00}\n",
        transforms,
    )
    record = mapping.apply({"id": "1", "n": "A", "h": "Tu 09:00-17:00"})
    assert record["opening_hours"] == [{"weekday": 1, "opens": "09:00", "closes": "17:00"}]
    assert record["opening_hours_osm"] == "Mo 10:00-12:00"  # mapped by name: it wins


def test_the_dollar_target_needs_an_object(transforms: dict[str, Any]) -> None:
    mapping = compiled("  $: {from: h, transform: text}\n", transforms)
    with pytest.raises(RecordError) as raised:
        mapping.apply({"id": "1", "n": "A", "h": "x"})
    assert (raised.value.field, raised.value.message) == (
        "$",
        "expected an object of fields, got str",
    )


def test_an_object_mapped_whole_must_be_an_object(transforms: dict[str, Any]) -> None:
    mapping = compiled(
        "  location: {from: l, transform: text}\n  location.locality: t\n", transforms
    )
    with pytest.raises(RecordError) as raised:
        mapping.apply({"id": "1", "n": "A", "l": "x", "t": "Y"})
    assert (raised.value.field, raised.value.message) == ("location", "expected an object, got str")


@pytest.mark.parametrize("target", ["external_id", "source", "dmo"])
def test_identity_fields_cannot_be_mapped(target: str, transforms: dict[str, Any]) -> None:
    # Mapped, the id the crawl saw and the id staged would differ, and the listing would be
    # withdrawn by every other crawl.
    with pytest.raises(MappingError) as raised:
        compiled(f"  {target}: {{from: id, transform: lower}}\n", transforms)
    assert f"{target!r} is set by dmo-pipeline" in str(raised.value)
    assert "demo.yaml" in str(raised.value)


def test_a_dollar_object_cannot_change_the_records_identity(transforms: dict[str, Any]) -> None:
    mapping = compiled("  $: extra\n", transforms)
    record = mapping.apply(
        {"id": "A1", "n": "A", "extra": {"external_id": "a1", "dmo": "x", "category": "museum"}},
        "A1",
    )
    assert (record["source"], record["external_id"], record["dmo"]) == ("demo", "A1", "demo-dmo")
    assert record["category"] == "museum"
