"""The canonical model: validation issues and the record hash."""

from __future__ import annotations

import jsonschema

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
        ("category", issues[0][1]),
        ("location.country", issues[1][1]),
        ("location.latitude", "95 is greater than the maximum of 90"),
    ]
    assert "castle" in issues[0][1]


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
