"""The child rows of a rich record, hard-coded and read back from each backend.

``test_stages.test_each_backend_stages_the_same_child_rows`` compares the backends with
what ``child_rows()`` builds, so a mistake in ``child_rows()`` itself (``opening_dates.opens``
taking the value of ``closes``) passed every test; here every value is written out.
"""

from __future__ import annotations

from datetime import date, time
from typing import Any

import sqlalchemy as sa
from test_stages import child_table_rows, rich_record

from pipeline_core.db.tables import CHILD_TABLES
from pipeline_core.items import ListingItem
from pipeline_core.model import record_hash
from pipeline_core.stages.writer import StageWriter

R1 = {
    "listing_info": [
        ("R1", "de", "Museum 1 (de)", None, None),
        ("R1", "en", "Museum 1", 'Line one\nline "two" \\ three', None),
        ("R1", "fr", None, "Musée — été", None),
        ("R1", "it", None, None, "Breve"),
    ],
    "locations": [("R1", "1 Quay St", "H91", "Galway", None, "IE", 53.2708, -9.0568)],
    "contact_info": [("R1", "email", "info@example.org"), ("R1", "phone", "+35391000000")],
    "listing_images": [
        # url, caption, credit, licence; status pending and nothing processed yet (the
        # image job fills width, height, bytes, content hash, keys, variants and error)
        ("R1", 0, "https://img.example.org/1.jpg", "Front", None, "CC0", "pending") + (None,) * 7,
        ("R1", 1, "https://img.example.org/1b.jpg", None, "A. Photographer", None, "pending")
        + (None,) * 7,
    ],
    "attributes": [
        ("R1", "dogs", "false"),
        ("R1", "price", "€€"),
        ("R1", "rating", "4.5"),
        ("R1", "stars", "4"),
        ("R1", "tags", "3"),
        ("R1", "tags", "family"),
        ("R1", "tags", "indoor"),
        ("R1", "wheelchair", "true"),
    ],
    "opening_hours": [
        ("R1", 1, "09:00", "17:30", False, date(2026, 4, 1), date(2026, 9, 30)),
        ("R1", 7, None, None, True, None, None),
    ],
    "opening_dates": [
        ("R1", date(2026, 12, 25), None, None, None, True, "Christmas"),
        ("R1", date(2026, 12, 31), date(2027, 1, 1), "10:00", "14:00", False, None),
    ],
}


def _plain(value: Any) -> Any:
    """A time column as ``HH:MM`` text, whichever type the backend returns."""
    return value.strftime("%H:%M") if isinstance(value, time) else value


def test_a_rich_records_child_rows_hold_exactly_its_values(engine: sa.Engine) -> None:
    record = rich_record(1)
    writer = StageWriter(engine.dialect.name)
    with engine.begin() as conn:
        writer.write(conn, [ListingItem("plain", "R1", record, record_hash=record_hash(record))])
    staged = {
        name: [tuple(_plain(v) for v in row) for row in rows]
        for name, rows in child_table_rows(engine).items()
    }
    assert set(R1) == set(CHILD_TABLES)  # a new child table needs its rows written out here
    assert staged == R1
