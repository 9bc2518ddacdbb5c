"""A scrape queued by hand counts for the schedule slot it falls in (issue 18, item 7): the
scheduler's next tick does not scrape the same source again in that slot."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from pipeline_core.config import load_settings
from pipeline_core.db.tables import queue, schedule_slots
from pipeline_core.frequency import parse_frequency
from pipeline_core.plugins import get_plugin_manager
from pipeline_core.queue.enqueue import add_job
from pipeline_core.queue.scheduler import tick, utc_now

MAPPING = """\
source: {name}
dmo: dmo-a
fetcher: json_api
url: https://example.org/{name}.json
id: id
scrape_frequency: daily
fields:
  name: title
"""


def test_a_manual_scrape_takes_its_slot(db_url: str, engine: sa.Engine, tmp_path: Path) -> None:
    folder = tmp_path / "mappings"
    folder.mkdir()
    for name in ("by-hand", "by-schedule"):
        (folder / f"{name}.yaml").write_text(MAPPING.format(name=name), "utf-8")
    settings = load_settings(
        {"PIPELINE_DATABASE_URL": db_url, "PIPELINE_SOURCES_PATH": str(folder)}
    )
    pm = get_plugin_manager(settings)
    now = utc_now()
    slot = parse_frequency("daily", now).latest_slot(now)
    assert slot is not None
    with engine.begin() as conn:
        manual = add_job(conn, pm.job_types(), "scrape", {"source": "by-hand"}, settings=settings)
    mine = {name: pm.sources()[name] for name in ("by-hand", "by-schedule")}
    result = tick(engine, mine, settings=settings, now=now)
    assert [(e.source, e.slot_at) for e in result.enqueued] == [("by-schedule", slot)]
    with engine.connect() as conn:
        slots = conn.execute(
            sa.select(schedule_slots.c.source, schedule_slots.c.slot_at, schedule_slots.c.queue_id)
            .where(schedule_slots.c.source.in_(["by-hand", "by-schedule"]))
            .order_by(schedule_slots.c.source)
        ).all()
        jobs = conn.execute(sa.select(queue.c.id, queue.c.payload).order_by(queue.c.id)).all()
    naive = slot.replace(tzinfo=None)
    assert [(s, at.replace(tzinfo=None), q) for s, at, q in slots] == [
        ("by-hand", naive, manual),
        ("by-schedule", naive, manual + 1),
    ]
    assert [tuple(j) for j in jobs] == [
        (manual, {"source": "by-hand"}),
        (manual + 1, {"source": "by-schedule"}),
    ]
