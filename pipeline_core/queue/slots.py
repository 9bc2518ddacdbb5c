"""Schedule slots (``pipeline.schedule_slots``): the one place a slot is recorded, by the
scheduler when a source is due and by :func:`~pipeline_core.queue.enqueue.add_job` when a
scrape is queued by hand. Below both, so neither imports the other."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from pipeline_core.db.tables import schedule_slots
from pipeline_core.frequency import as_utc, parse_frequency
from pipeline_core.sources import Source

logger = logging.getLogger("pipeline_core.queue.scheduler")


def utc_now() -> datetime:
    """The current time in UTC (the scheduler's default clock)."""
    return datetime.now(UTC)


def claim_slot(conn: sa.Connection, source: str, slot_at: datetime) -> bool:
    """Record the slot; False when it already is (another scheduler took it)."""
    insert_of = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    stmt = (
        insert_of(schedule_slots)
        .values(source=source, slot_at=slot_at, created_at=utc_now())
        .on_conflict_do_nothing(index_elements=[schedule_slots.c.source, schedule_slots.c.slot_at])
        .returning(schedule_slots.c.source)
    )
    return conn.execute(stmt).first() is not None


def record_manual_slot(
    conn: sa.Connection, source: Source, job_id: int, now: datetime | None = None
) -> datetime | None:
    """A scrape queued by hand (``queue add scrape``, the API) counts for the slot it falls
    in: that slot is recorded with the job's id, so the scheduler does not scrape the source
    again until its next slot. Returns the slot (None when the source has no slot now, or
    its frequency cannot be read; a slot recorded already is left as it is)."""
    now = as_utc(now or utc_now())
    try:
        slot_at = parse_frequency(source.scrape_frequency, now).latest_slot(now)
    except ValueError:
        return None
    if slot_at is None:
        return None
    if claim_slot(conn, source.name, slot_at):
        conn.execute(
            sa.update(schedule_slots)
            .where(schedule_slots.c.source == source.name, schedule_slots.c.slot_at == slot_at)
            .values(queue_id=job_id)
        )
        logger.info(
            "%s: slot %s: taken by scrape job %s, queued by hand",
            source.name,
            slot_at.isoformat(),
            job_id,
        )
    return slot_at
