"""The canonical model: validation issues and the record hash."""

from __future__ import annotations

import copy
from typing import Any

import jsonschema
import pytest
import sqlalchemy as sa

from pipeline_core.db.tables import staging
from pipeline_core.model import listing_schema, record_hash, validate_record

RECORD = {
    "source": "s",
    "external_id": "1",
    "dmo": "d",
    "category": "attraction",
    "name": {"en": "Cliffs"},
    "location": {"latitude": 52.9, "longitude": -9.4, "country": "IE"},
}


def test_the_schema_is_valid_draft_2020_12() -> None:
    jsonschema.Draft202012Validator.check_schema(listing_schema())
    assert listing_schema()["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_valid_record_has_no_issues() -> None:
    assert validate_record(RECORD) == []


def test_issues_name_the_field() -> None:
    bad = dict(RECORD, category="castle", location={"latitude": 95, "country": "Ireland"})
    issues = [(i.field, i.message) for i in validate_record(bad)]
    assert issues == [
        ("category", '"castle" is not one of "attraction", "restaurant" or 8 other candidates'),
        ("location.country", '"Ireland" does not match "^[A-Z]{2}$"'),
        ("location.latitude", "95 is greater than the maximum of 90"),
    ]


def test_a_nul_in_any_text_value_or_key_is_an_issue() -> None:
    bad = dict(
        RECORD,
        name={"en": "Cli\x00ffs"},
        subcategories=["sea", "cl\x00iff"],
        location={**RECORD["location"], "street": "\x00"},
    )
    message = (
        "text holds a NUL character (\\x00), which the database cannot store; "
        "the record is left out"
    )
    assert [(i.field, i.message) for i in validate_record(bad)] == [
        ("location.street", message),
        ("name.en", message),
        ("subcategories.1", message),
    ]
    assert validate_record(dict(RECORD, name={"en": "a \\u0000 stays text"})) == []


@pytest.mark.parametrize(
    ("field", "rows"),
    [
        ("opening_dates.0.date", [{"date": "2024-02-30"}]),
        ("opening_dates.0.date", [{"date": "2023-02-29"}]),
        ("opening_dates.0.date", [{"date": "0000-01-01"}]),
        ("opening_dates.0.date", [{"date": "2024-2-28"}]),
        ("opening_dates.0.end_date", [{"date": "2024-02-29", "end_date": "2024-02-30"}]),
        ("opening_hours.0.valid_to", [{"weekday": 0, "valid_to": "2026-04-31"}]),
        ("opening_hours.0.valid_from", [{"weekday": 0, "valid_from": "2026-00-10"}]),
    ],
)
def test_a_date_that_is_no_day_of_the_calendar_is_an_issue(
    field: str, rows: list[dict[str, Any]]
) -> None:
    # the writer reads each date as a date: one impossible date failed its whole batch
    record = dict(RECORD, **{field.split(".")[0]: rows})
    assert field in [issue.field for issue in validate_record(record)]
    assert validate_record(dict(RECORD, opening_dates=[{"date": "2024-02-29"}])) == []


def _put(record: dict[str, Any], field: str, value: Any) -> dict[str, Any]:
    """A copy of ``record`` with ``value`` at the dotted ``field``."""
    record = copy.deepcopy(record)
    *parents, last = field.split(".")
    target = record
    for part in parents:
        target = target.setdefault(part, {})
    target[last] = value
    return record


_LISTINGS, _LOCATIONS = staging["listings"].c, staging["locations"].c
#: Canonical text fields stored in a column of limited length (PostgreSQL refuses longer
#: text, and the whole batch with it; SQLite stores it).
_LIMITED = [
    ("source", _LISTINGS.source),
    ("external_id", _LISTINGS.external_id),
    ("dmo", _LISTINGS.dmo),
    ("location.postal_code", _LOCATIONS.postal_code),
    ("location.locality", _LOCATIONS.locality),
    ("location.region", _LOCATIONS.region),
    ("licence.name", _LISTINGS.licence),
]
#: Limited columns whose values the schema bounds otherwise (an enum, a pattern, the code).
_BOUNDED_OTHERWISE = {
    "listings.status",
    "listings.record_hash",
    "listings.raw_hash",
    "listings.category",
    "locations.country",
    "contact_info.kind",
    "opening_hours.opens",
    "opening_hours.closes",
    "opening_dates.opens",
    "opening_dates.closes",
    # written by the image job, not from the record
    "listing_images.status",
    "listing_images.content_hash",
}


@pytest.mark.parametrize(("field", "column"), _LIMITED, ids=[field for field, _ in _LIMITED])
def test_text_longer_than_its_column_is_an_issue(field: str, column: sa.Column[Any]) -> None:
    length = column.type.length  # type: ignore[attr-defined]  # a String(n) column
    assert validate_record(_put(RECORD, field, "x" * length)) == []
    issues = validate_record(_put(RECORD, field, "x" * (length + 1)))
    assert [(i.field, i.message) for i in issues] == [
        (field, f'"{"x" * (length + 1)}" is longer than {length} characters')
    ]


def test_keys_longer_than_their_column_are_an_issue() -> None:
    tag = "en-abcdefgh-abcdefgh"  # as long as staging.listing_info.language
    assert len(tag) == staging["listing_info"].c.language.type.length
    name = "a" * staging["attributes"].c.name.type.length
    assert validate_record(_put(_put(RECORD, f"name.{tag}", "N"), f"attributes.{name}", 1)) == []
    longer = _put(_put(RECORD, f"name.{tag}-x1", "N"), f"attributes.{name}b", 1)
    assert [issue.field for issue in validate_record(longer)] == ["attributes", "name"]


def test_every_column_of_limited_length_is_bounded_by_the_schema() -> None:
    limited = {
        f"{table.name}.{column.name}"
        for table in staging.values()
        for column in table.columns
        if isinstance(column.type, sa.String) and column.type.length
    }
    keys = {"listing_info.language", "attributes.name"}  # propertyNames of name, attributes
    covered = {f"{column.table.name}.{column.name}" for _, column in _LIMITED}
    assert limited == covered | keys | _BOUNDED_OTHERWISE


def test_hash_ignores_identity_and_key_order() -> None:
    other = {
        "location": {"country": "IE", "longitude": -9.4, "latitude": 52.9},
        "name": {"en": "Cliffs"},
        "category": "attraction",
        "source": "elsewhere",
        "external_id": "99",
        "dmo": "other",
        "scraped_at": "2026-01-01T00:00:00Z",
    }
    assert record_hash(other) == record_hash(RECORD)
    assert len(record_hash(RECORD)) == 64


def test_hash_changes_with_content() -> None:
    changed = dict(RECORD, name={"en": "Cliffs of Moher"})
    assert record_hash(changed) != record_hash(RECORD)
