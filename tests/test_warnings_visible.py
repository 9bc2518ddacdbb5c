"""Warnings stay visible: ``preview`` shows them beside their fields, error and warning rows
carry the value (bounded, secrets masked), and each staged listing keeps its current
warnings until it is mapped again, through re-crawls that skip unchanged records."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from conftest import ROOT, run_cli
from fetch_helpers import crawl_state, error_rows

from pipeline_core.db.tables import staging
from pipeline_core.stages.error_value import MAX_VALUE, shown_value

MESSY = ROOT / "docs" / "examples" / "messy"


def _folder(tmp_path: Path) -> Path:
    folder = tmp_path / "messy"
    shutil.copytree(MESSY, folder)
    return folder


def _warnings(engine: sa.Engine, source: str) -> dict[str, Any]:
    listings = staging["listings"]
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(listings.c.external_id, listings.c.warnings).where(
                listings.c.source == source
            )
        ).all()
    return dict(rows)


def test_preview_shows_every_warning_beside_its_field(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    env = {
        "PIPELINE_SOURCES_PATH": str(folder),
        "PIPELINE_DATABASE_URL": f"sqlite:///{tmp_path / 'no.db'}",
    }
    result = run_cli("preview", "servicios-madrid", "--json", env=env)
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout)
    records = {r["external_id"]: r for r in shown["records"]}
    fields = {f["field"]: f for f in records["1187"]["fields"]}
    assert records["1187"]["valid"] is True
    assert fields["location.postal_code"]["warnings"] == [
        "postal_code: not a postal code of ES: '-' (value '-' from cp); left out"
    ]
    assert fields["contact.email"]["mapped"] == "reservas@palaciosalamanca"
    assert fields["contact.email"]["warnings"] == [
        "email: not an e-mail address (The part after the @-sign is not valid. It should "
        "have a period) (value 'reservas@palaciosalamanca' from email); kept as published"
    ]
    assert fields["name"]["warnings"] == []
    assert [f["field"] for f in records["3002"]["fields"] if f["warnings"]] == [
        "location.postal_code"
    ]

    text = run_cli("preview", "servicios-madrid", env=env)
    assert text.returncode == 0, text.stderr
    lines = text.stdout.splitlines()
    assert "record 1187  ok (2 warnings)  " + (folder / "servicios.xml").as_uri() in lines
    (postal,) = [
        line for line in lines if line.lstrip().startswith("location.postal_code") and '"-"' in line
    ]
    assert postal.endswith(
        "~  postal_code: not a postal code of ES: '-' (value '-' from cp); left out"
    )
    assert lines[-1] == (
        "servicios-madrid: 4 records previewed, 4 valid, 0 invalid, 3 warnings, "
        "0 page errors; nothing was written"
    )


def test_error_and_warning_rows_carry_the_value_and_listings_keep_their_warnings(
    pipeline_env: dict[str, str], engine: sa.Engine, tmp_path: Path
) -> None:
    folder = _folder(tmp_path)
    env = dict(pipeline_env, PIPELINE_SOURCES_PATH=str(folder))
    first = run_cli("crawl", "servicios-madrid", "--no-progress", env=env)
    assert first.returncode == 0, first.stderr
    rows = [
        (e["external_id"], e["stage"], e["field"], e["value"])
        for e in error_rows(engine, "servicios-madrid")
    ]
    assert rows == [
        ("1187", "map", "location.postal_code", "'-'"),
        ("1187", "map", "contact.email", "'reservas@palaciosalamanca'"),
        ("3002", "map", "location.postal_code", "'2880'"),
    ]
    warnings = _warnings(engine, "servicios-madrid")
    assert warnings["1043"] is None and warnings["2210"] is None
    assert [(w["field"], w["value"]) for w in warnings["1187"]] == [
        ("location.postal_code", "'-'"),
        ("contact.email", "'reservas@palaciosalamanca'"),
    ]
    assert warnings["1187"][0]["message"] == (
        "postal_code: not a postal code of ES: '-' (value '-' from cp); left out"
    )

    # an unchanged feed: every record skipped before mapping, no new warning row, and the
    # listings keep their warnings
    second = run_cli("crawl", "servicios-madrid", "--no-progress", env=env)
    assert second.returncode == 0, second.stderr
    assert crawl_state(engine, "servicios-madrid")[1]["unchanged"] == 4
    assert len(error_rows(engine, "servicios-madrid")) == 3
    assert _warnings(engine, "servicios-madrid") == warnings

    # 1187's postal code is fixed: mapped again, its warnings are replaced (the e-mail's
    # stays); 3002 is unchanged and keeps its own
    feed = folder / "servicios.xml"
    feed.write_text(feed.read_text("utf-8").replace("<cp>-</cp>", "<cp>28001</cp>"), "utf-8")
    third = run_cli("crawl", "servicios-madrid", "--no-progress", env=env)
    assert third.returncode == 0, third.stderr
    after = _warnings(engine, "servicios-madrid")
    assert [w["field"] for w in after["1187"]] == ["contact.email"]
    assert after["3002"] == warnings["3002"]


def test_a_value_in_an_error_row_is_bounded_and_masked() -> None:
    assert shown_value(None) is None
    assert shown_value("n/a") == "'n/a'"
    assert shown_value(95.5) == "95.5"
    long = shown_value("x" * 5000)
    assert long == "'" + "x" * (MAX_VALUE - 1) + "… (5002 characters)"
    assert shown_value("https://user:hunter2@example.org/a?token=abc&page=2") == (
        "'https://***@example.org/a?token=***&page=2'"
    )
    assert shown_value("login: admin password=hunter2 ok") == "'login: admin password=*** ok'"
