"""Exports of production listings: JSON Lines and CSV, and anonymisation checked by value."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from conftest import run_cli
from promotion_kit import crawl, listings

from pipeline_core.db.tables import production
from pipeline_core.exports import CSV_COLUMNS, export_lines
from pipeline_core.exports.anonymize import MASK, anonymize
from pipeline_core.promotion import promote

#: A B&B source whose mapping flags its host's name, phone and e-mail as personal data.
BNB = """\
  attributes.host: host
personal_data: [contact.phone, contact.email, attributes.host]
"""
HOSTS = ("Mary Murphy", "Seán Ó Briain", "Anne Walsh")


def _bnb_records() -> list[dict[str, Any]]:
    records = listings(3)
    for record, host in zip(records, HOSTS, strict=True):
        record["host"] = host
        record["body"] = f"<p>{host} welcomes you; call {record['phone']}.</p>"
    return records


def _flagged_values(engine: sa.Engine) -> list[str]:
    with engine.connect() as conn:
        records = conn.execute(sa.select(production["listings"].c.record)).scalars().all()
    values = []
    for record in records:
        values += [record["contact"]["phone"], record["contact"]["email"]]
        values.append(record["attributes"]["host"])
    return values


def test_anonymized_exports_hold_none_of_the_flagged_values(
    engine: sa.Engine, pipeline_env: dict[str, str], tmp_path: Path
) -> None:
    crawl(engine, tmp_path, _bnb_records(), name="bnb", extra=BNB)
    promote(engine, "test-dmo")
    flagged = _flagged_values(engine)
    assert len(flagged) == 9  # a phone, an e-mail and a host per listing
    env = pipeline_env | {"PIPELINE_SOURCES_PATH": str(tmp_path / "mappings")}

    for fmt in ("jsonl", "csv"):
        plain = run_cli("export", "--dmo", "test-dmo", "--format", fmt, env=env)
        assert plain.returncode == 0, plain.stderr
        assert all(value in plain.stdout for value in flagged), fmt  # the test can fail
        masked = run_cli("export", "--dmo", "test-dmo", "--format", fmt, "--anonymize", env=env)
        assert masked.returncode == 0, masked.stderr
        leaked = [value for value in flagged if value in masked.stdout]
        assert leaked == [], fmt
        assert "https://www.example.org/l/1" in masked.stdout  # not flagged: kept

    jsonl = run_cli("export", "--dmo", "test-dmo", "--anonymize", env=env).stdout
    first = json.loads(jsonl.splitlines()[0])
    assert first["record"]["contact"] == {
        "phone": MASK,
        "email": MASK,
        "website": "https://www.example.org/l/1",
    }
    assert first["record"]["description"] == {"en": f"{MASK} welcomes you; call {MASK}."}


def test_a_csv_export_has_a_header_and_a_row_per_active_listing(
    engine: sa.Engine, tmp_path: Path
) -> None:
    crawl(engine, tmp_path, listings(3))
    promote(engine, "test-dmo")
    crawl(engine, tmp_path, listings(2))  # listing 3 withdrawn
    promote(engine, "test-dmo")
    rows = list(csv.reader(io.StringIO("".join(export_lines(engine, "test-dmo", "csv")))))
    assert rows[0] == list(CSV_COLUMNS)
    assert [(r[2], r[5], r[7], r[16]) for r in rows[1:]] == [
        ("L00001", "active", "Listing 1", "+43 512 000001"),
        ("L00002", "active", "Listing 2", "+43 512 000002"),
    ]
    everything = list(export_lines(engine, "test-dmo", "jsonl", include_withdrawn=True))
    assert [json.loads(line)["status"] for line in everything] == ["active", "active", "withdrawn"]
    assert list(export_lines(engine, "other-dmo", "jsonl")) == []


def test_masking_goes_by_value_and_keeps_the_rest() -> None:
    record = {
        "name": {"en": "Murphy's B&B"},
        "description": {"en": "Ring Mary Murphy on 087 123 4567 or mary@murphy.ie"},
        "contact": {"phone": "087 123 4567", "email": "mary@murphy.ie"},
        "attributes": {"host": "Mary Murphy", "rooms": 3},
    }
    masked = anonymize(record, ["contact.phone", "contact.email", "attributes.host", "url"])
    assert masked == {
        "name": {"en": "Murphy's B&B"},
        "description": {"en": f"Ring {MASK} on {MASK} or {MASK}"},
        "contact": {"phone": MASK, "email": MASK},
        "attributes": {"host": MASK, "rooms": 3},
    }
    assert record["contact"]["phone"] == "087 123 4567"  # the original is left alone
