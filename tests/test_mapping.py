"""The mapping language: loading, schema errors with file and line, compiling, applying."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pipeline_core.config import load_settings
from pipeline_core.exceptions import MappingError, RecordError
from pipeline_core.mapping import (
    CompiledMapping,
    document_from_config_row,
    load_mapping_file,
    load_mapping_text,
)
from pipeline_core.plugins import get_plugin_manager

BASE = """\
source: demo
dmo: demo-dmo
fetcher: json_api
url: https://example.org/api
id: id
defaults: {language: en, country: IE}
licence: {name: CC-BY-4.0, attribution: Demo}
"""


@pytest.fixture(scope="module")
def transforms() -> dict[str, Any]:
    return get_plugin_manager(load_settings({})).transforms()


def compiled(fields: str, transforms: dict[str, Any], base: str = BASE) -> CompiledMapping:
    return CompiledMapping(load_mapping_text(base + "fields:\n" + fields, "demo.yaml"), transforms)


def test_a_full_record(transforms: dict[str, Any]) -> None:
    mapping = compiled(
        """\
  category: {from: type, map: {Sight: attraction}, map_default: other}
  name: title
  name.de: titles.de
  description: {from: [body_html, summary], transform: html_text}
  location.latitude: {from: geo.0, transform: float}
  location.longitude: {from: geo.1, transform: float}
  contact.phone: {from: tel, default: "+353 1 000"}
  attributes.wheelchair: {from: access, transform: bool}
  images: {each: media, fields: {url: src, caption: alt}}
  opening_hours:
    each: hours
    fields:
      weekday: {from: d, transform: weekday}
      opens: {from: o, transform: time}
      closes: {from: c, transform: time}
""",
        transforms,
    )
    payload = {
        "id": 42,
        "type": "Sight",
        "title": "Cliffs",
        "titles": {"de": "Klippen"},
        "body_html": "",
        "summary": "<p>Tall &amp; steep</p>",
        "geo": ["52,97", -9.43],
        "access": "yes",
        "media": [{"src": "https://img.example.org/1.jpg", "alt": "View"}, {"alt": "no url"}],
        "hours": [{"d": "Sat", "o": "9am", "c": "5:30 PM"}],
    }
    assert mapping.external_id(payload) == "42"
    assert mapping.apply(payload) == {
        "source": "demo",
        "external_id": "42",
        "dmo": "demo-dmo",
        "language": "en",
        "category": "attraction",
        "name": {"en": "Cliffs", "de": "Klippen"},
        "description": {"en": "Tall & steep"},
        "location": {"latitude": 52.97, "longitude": -9.43, "country": "IE"},
        "contact": {"phone": "+353 1 000"},
        "attributes": {"wheelchair": True},
        "images": [
            {"url": "https://img.example.org/1.jpg", "caption": "View"},
            {"caption": "no url"},
        ],
        "opening_hours": [{"weekday": 5, "opens": "09:00", "closes": "17:30"}],
        "licence": {"name": "CC-BY-4.0", "attribution": "Demo"},
    }


def test_derived_key_for_sources_without_ids(transforms: dict[str, Any]) -> None:
    base = BASE.replace("id: id\n", "key: [Name, Town]\n")
    mapping = compiled("  name: Name\n  category: {const: attraction}\n", transforms, base)
    assert mapping.external_id({"Name": "  Blarney   Castle ", "Town": "Cork"}) == (
        "Blarney Castle|Cork"
    )
    assert mapping.external_id({"Name": "Blarney Castle"}) == "Blarney Castle|"
    with pytest.raises(RecordError) as info:
        mapping.apply({"Other": 1})
    assert str(info.value) == "demo record ?: key(Name, Town): the record has no id"


def test_a_failing_transform_names_source_record_and_field(transforms: dict[str, Any]) -> None:
    mapping = compiled(
        "  name: n\n  category: {const: attraction}\n"
        "  location.latitude: {from: lat, transform: float}\n",
        transforms,
    )
    with pytest.raises(RecordError) as info:
        mapping.apply({"id": "x1", "n": "A", "lat": "north"})
    error = info.value
    assert (error.source, error.external_id, error.field) == ("demo", "x1", "location.latitude")
    assert error.message == "float: not a number (value 'north' from lat)"


def test_an_error_inside_a_list_names_the_item(transforms: dict[str, Any]) -> None:
    mapping = compiled(
        "  name: n\n  category: {const: attraction}\n"
        "  opening_hours: {each: h, fields: {weekday: {from: d, transform: weekday}}}\n",
        transforms,
    )
    with pytest.raises(RecordError) as info:
        mapping.apply({"id": "x", "n": "A", "h": [{"d": "Mon"}, {"d": "Someday"}]})
    assert info.value.field == "opening_hours.1.weekday"


def test_a_value_missing_from_the_map_is_an_error(transforms: dict[str, Any]) -> None:
    mapping = compiled("  name: n\n  category: {from: t, map: {Sight: attraction}}\n", transforms)
    with pytest.raises(RecordError) as info:
        mapping.apply({"id": "1", "n": "A", "t": "Spa"})
    assert info.value.field == "category"
    assert info.value.message == "value 'Spa' from t is not in the field's map"


def test_required_field(transforms: dict[str, Any]) -> None:
    mapping = compiled(
        "  name: {from: n, required: true}\n  category: {const: event}\n", transforms
    )
    with pytest.raises(RecordError, match="name: required, but n is empty"):
        mapping.apply({"id": "1", "n": "   "})


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        (
            "  name: n\n  category: {from: t, transform: nosuch}\n",
            "demo.yaml: at category.transform: unknown transform 'nosuch'",
        ),
    ],
)
def test_unknown_transform_fails_at_compile(
    fields: str, expected: str, transforms: dict[str, Any]
) -> None:
    with pytest.raises(MappingError) as info:
        compiled(fields, transforms)
    assert str(info.value).startswith(expected)


def test_schema_errors_name_file_line_and_key(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(BASE + "fields:\n  name: n\n  category: {from: t, trasform: int}\n")
    with pytest.raises(MappingError) as info:
        load_mapping_file(path)
    message = str(info.value)
    assert message.startswith(f"{path}:10: at fields.category")
    assert "trasform" in message


def test_a_mapping_needs_id_or_key(tmp_path: Path) -> None:
    path = tmp_path / "noid.yaml"
    path.write_text(BASE.replace("id: id\n", "") + "fields:\n  name: n\n")
    with pytest.raises(MappingError) as info:
        load_mapping_file(path)
    assert str(info.value) == (
        f"{path}:1: at (top level): a mapping needs 'id' (path of the record's id) "
        "or 'key' (derived id)"
    )


@pytest.mark.parametrize(
    ("line", "name", "length", "where"),
    [
        ("source: ", "demo", 100, "1: at source"),
        ("dmo: ", "demo-dmo", 100, "2: at dmo"),
        ("{name: ", "CC-BY-4.0", 200, "7: at licence.name"),
    ],
)
def test_names_longer_than_their_columns_fail_at_load(
    line: str, name: str, length: int, where: str
) -> None:
    # copied into every record: each record would be invalid (on PostgreSQL every batch
    # failed), so the mapping is refused when it is loaded
    text = BASE + "fields:\n  name: n\n"
    assert load_mapping_text(text.replace(line + name, line + "x" * length), "m")
    with pytest.raises(MappingError, match=f"^m:{where}: '{'x' * (length + 1)}' is too long"):
        load_mapping_text(text.replace(line + name, line + "x" * (length + 1)), "m")


def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("source: x\nfields: [unclosed\n")
    with pytest.raises(MappingError, match=r"broken.yaml:\d+: not valid YAML"):
        load_mapping_file(path)


def test_yes_no_on_off_stay_text() -> None:
    doc = load_mapping_text(BASE + "fields:\n  name: on\n  category: {const: 'no'}\n", "m")
    assert doc.doc["fields"] == {"name": "on", "category": {"const": "no"}}


def test_relative_urls_resolve_to_the_mapping_folder(tmp_path: Path) -> None:
    path = tmp_path / "local.yaml"
    path.write_text(
        BASE.replace("https://example.org/api", "feed/page-1.json") + "fields: {name: n}\n"
    )
    assert load_mapping_file(path).resolved_url() == (tmp_path / "feed/page-1.json").as_uri()


def test_stored_config_is_the_same_document() -> None:
    doc = load_mapping_text(
        BASE + "pagination: {type: next_link, path: next}\nfields: {name: n}\n", "m"
    )
    row = doc.to_config_row()
    assert row["source_type"] == "json_api"
    assert row["base_url"] == "https://example.org/api"
    assert row["field_mappings"] == {"name": "n"}
    assert row["scrape_config"]["pagination"] == {"type": "next_link", "path": "next"}
    again = document_from_config_row(row)
    assert again.doc == doc.doc | {"scrape_frequency": "daily"}
    assert again.origin == "pipeline.configs[demo]"


@pytest.mark.parametrize(
    ("fields", "where", "message"),
    [
        ("  name: n\n  locaton.street: s\n", "locaton.street", "'locaton' is not a field"),
        ("  name: n\n  location.town: t\n", "location.town", "'town' is not a field"),
        ("  name: n\n  images: {each: m, fields: {src: s}}\n", "images.src", "'src' is not a"),
        ("  name: n\n  location: {fields: {street: s}}\n", "location", "'fields' goes with"),
        ("  name: {const: x, from: y}\n", "name", "'const' cannot be combined with 'from'"),
        ("  name: {each: x}\n", "name", "'each' builds a list"),
        ("  images: {each: x, transform: str}\n", "images", "'each' cannot be combined"),
        ("  name: n\n  $: {from: h, transform: nope}\n", "$.transform", "unknown transform"),
        ("  name: {from: n, transform: {date: {fmt: x}}}\n", "name.transform", "no argument 'fmt'"),
        ("  name: {from: n, map_default: x}\n", "name", "'map_default' goes with 'map'"),
    ],
)
def test_mistakes_fail_at_compile_time(
    fields: str, where: str, message: str, transforms: dict[str, Any]
) -> None:
    with pytest.raises(MappingError) as info:
        compiled(fields, transforms)
    assert str(info.value).startswith(f"demo.yaml: at {where}: ")
    assert message in str(info.value)


def test_scalar_transform_argument_is_the_first_argument(transforms: dict[str, Any]) -> None:
    mapping = compiled(
        "  name: n\n  category: {const: event}\n"
        "  opening_dates: {each: d, fields: {date: {from: on, transform: {date: '%d/%m/%Y'}}}}\n",
        transforms,
    )
    record = mapping.apply({"id": "1", "n": "A", "d": [{"on": "24/12/2026"}]})
    assert record["opening_dates"] == [{"date": "2026-12-24"}]


def test_map_keys_may_be_numbers_or_booleans(transforms: dict[str, Any]) -> None:
    mapping = compiled(
        "  name: n\n  category: {from: c, map: {1: attraction, 2: restaurant}}\n"
        "  attributes.open: {from: o, map: {true: open, false: closed}}\n",
        transforms,
    )
    record = mapping.apply({"id": "1", "n": "A", "c": 2, "o": False})
    assert (record["category"], record["attributes"]) == ("restaurant", {"open": "closed"})


def test_cached_transforms_keep_equal_values_of_other_types_apart(
    transforms: dict[str, Any],
) -> None:
    mapping = compiled(
        "  name: {from: n, transform: text}\n  category: {const: event}\n", transforms
    )
    names = [mapping.apply({"id": "1", "n": n})["name"]["en"] for n in (1, 1.0, True, "1", 1.5)]
    assert names == ["1", "1", "True", "1", "1.5"]


def test_a_cache_that_steps_aside_still_maps_right(transforms: dict[str, Any]) -> None:
    # URLs rarely repeat: after 4096 values with few hits, the url cache steps aside and the
    # generated code calls the transform directly
    mapping = compiled(
        "  name: n\n  category: {const: event}\n  url: {from: u, transform: url}\n", transforms
    )
    for n in range(6000):
        record = mapping.apply({"id": str(n), "n": "A", "u": f"WWW.Example.org/{n % 5000}"})
        assert record["url"] == f"https://www.example.org/{n % 5000}"
    with pytest.raises(RecordError, match=r"url: not an http\(s\) URL \(scheme mailto:\)"):
        mapping.apply({"id": "x", "n": "A", "u": "mailto:a@example.org"})


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("personal_data: contact.phone", "at personal_data: 'contact.phone' is not of type"),
        ("personal_data: [Contact.Phone]", "at personal_data.0: 'Contact.Phone' does not match"),
        (
            "personal_data: [contact.email, contact.mobile]",
            "at personal_data.1: 'contact.mobile' is not a field of the canonical listing: ",
        ),
        ("personal_data: [phone]", "at personal_data.0: 'phone' is not a field of the canonical"),
        ("quality_minimum: 101", "at quality_minimum: 101 is greater than the maximum of 100"),
        ("quality_minimum: -1", "at quality_minimum: -1 is less than the minimum of 0"),
        ("quality_minimum: 50.5", "at quality_minimum: 50.5 is not of type 'integer'"),
        ("quality_minimum: high", "at quality_minimum: 'high' is not of type 'integer'"),
        ("on_repeat: newest", "at on_repeat: 'newest' is not one of ['merge', 'first', 'last', "),
        ("on_repeat: [first]", "at on_repeat: ['first'] is not one of ['merge', 'first', "),
    ],
)
def test_bad_source_keys_name_file_line_and_key(
    line: str, message: str, tmp_path: Path, transforms: dict[str, Any]
) -> None:
    """``personal_data``, ``quality_minimum`` and ``on_repeat``: checked when the mapping is
    loaded (or, for a ``personal_data`` path that is no canonical field, compiled, as
    ``sources --check`` and every crawl compile it), the error naming file, line and key."""
    path = tmp_path / "keys.yaml"
    path.write_text(BASE + "fields:\n  name: n\n  category: {const: attraction}\n" + line + "\n")
    with pytest.raises(MappingError) as info:
        CompiledMapping(load_mapping_file(path), transforms)
    assert str(info.value).startswith(f"{path}:11: {message}")
    assert info.value.line == 11


def test_good_source_keys_compile(tmp_path: Path, transforms: dict[str, Any]) -> None:
    path = tmp_path / "keys.yaml"
    path.write_text(
        BASE
        + "fields:\n  name: n\n  category: {const: attraction}\n"
        + "personal_data: [contact.phone, attributes.host, name]\n"
        + "quality_minimum: 0\non_repeat: last\n"
    )
    mapping = CompiledMapping(load_mapping_file(path), transforms)
    assert mapping.on_repeat == "last"
