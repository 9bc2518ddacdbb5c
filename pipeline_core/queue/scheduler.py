"""The scheduler: enqueue a ``scrape`` job for every source whose slot is due.

Each source's ``scrape_frequency`` defines its slots (:mod:`pipeline_core.frequency`). A
source is due when its latest slot at or before now is later than the latest slot already
recorded in ``pipeline.schedule_slots`` (a source never scheduled is due at once). A tick
records the slot and enqueues the scrape in one transaction; the slot table's primary key
(source, slot) makes a second scheduler's insert of the same slot a no-op, so each slot is
enqueued once however many schedulers run. Slots missed while no scheduler ran are not
replayed: only the latest one is enqueued.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa

from pipeline_core.config import Settings
from pipeline_core.db.tables import configs, schedule_slots
from pipeline_core.exceptions import PipelineError
from pipeline_core.frequency import as_utc, parse_frequency
from pipeline_core.queue.enqueue import enqueue
from pipeline_core.queue.slots import claim_slot as _claim_slot
from pipeline_core.queue.slots import utc_now
from pipeline_core.sources import Source

logger = logging.getLogger(__name__)

#: The job type the scheduler enqueues; its payload is ``{"source": NAME}``.
SCRAPE_JOB = "scrape"

Clock = Callable[[], datetime]


def scrape_dedup_key(source: str) -> str:
    """The queue's dedup key of a source's scrape: at most one is queued at a time."""
    return f"scrape:{source}"


@dataclass(frozen=True)
class SourceSchedule:
    """Where one source stands at ``now``."""

    source: str
    dmo: str
    frequency: str
    #: The latest slot at or before now (None if the frequency has none, or is broken).
    slot_at: datetime | None
    #: The latest slot already recorded in ``pipeline.schedule_slots``.
    last_slot_at: datetime | None
    #: The first slot after now.
    next_slot_at: datetime | None
    #: ``pipeline.configs.last_scrape_at`` of a stored configuration, for display.
    last_scrape_at: datetime | None = None
    #: Why the frequency could not be read, naming the source and key.
    error: str | None = None

    @property
    def due(self) -> bool:
        """True when the latest slot has not been enqueued yet."""
        if self.slot_at is None:
            return False
        return self.last_slot_at is None or self.slot_at > self.last_slot_at


@dataclass(frozen=True)
class Enqueued:
    """One slot a tick took: the scrape job's id, or None when a scrape of the source was
    already queued (the slot is recorded all the same)."""

    source: str
    slot_at: datetime
    job_id: int | None


@dataclass
class TickResult:
    """What one tick did."""

    #: Where every source stood when the tick began.
    entries: list[SourceSchedule] = field(default_factory=list)
    enqueued: list[Enqueued] = field(default_factory=list)
    #: Sources whose slot another scheduler recorded first.
    taken: list[str] = field(default_factory=list)
    #: Errors naming the source: a bad frequency, or a database error for its slot.
    errors: list[str] = field(default_factory=list)


def _last_slots(conn: sa.Connection) -> dict[str, datetime]:
    rows = conn.execute(
        sa.select(schedule_slots.c.source, sa.func.max(schedule_slots.c.slot_at)).group_by(
            schedule_slots.c.source
        )
    ).all()
    return {source: as_utc(slot_at) for source, slot_at in rows}


def _last_scrapes(conn: sa.Connection) -> dict[str, datetime]:
    rows = conn.execute(
        sa.select(configs.c.name, configs.c.last_scrape_at).where(
            configs.c.last_scrape_at.is_not(None)
        )
    ).all()
    return {name: as_utc(at) for name, at in rows}


def schedule(
    engine: sa.Engine, sources: Mapping[str, Source], now: datetime
) -> list[SourceSchedule]:
    """Where every source stands at ``now``, in name order; reads, writes nothing."""
    now = as_utc(now)
    with engine.connect() as conn:
        last_slots = _last_slots(conn)
        last_scrapes = _last_scrapes(conn)
    found = []
    for name in sorted(sources):
        source = sources[name]
        text = source.scrape_frequency
        slot_at = next_slot_at = None
        error = None
        try:
            frequency = parse_frequency(text, now)
        except ValueError as exc:
            error = f"source {name} ({source.origin}): at scrape_frequency: {exc}"
        else:
            slot_at = frequency.latest_slot(now)
            next_slot_at = frequency.next_slot(now)
        found.append(
            SourceSchedule(
                source=name,
                dmo=source.dmo,
                frequency=text,
                slot_at=slot_at,
                last_slot_at=last_slots.get(name),
                next_slot_at=next_slot_at,
                last_scrape_at=last_scrapes.get(name),
                error=error,
            )
        )
    return found


def enqueue_slot(
    engine: sa.Engine,
    entry: SourceSchedule,
    settings: Settings,
    max_attempts: int | None = None,
) -> Enqueued | None:
    """Record ``entry``'s slot and enqueue its scrape in one transaction (``max_attempts``:
    the scrape type's, else ``PIPELINE_MAX_RETRIES``); None when another scheduler
    recorded the slot first."""
    assert entry.slot_at is not None
    with engine.begin() as conn:
        if not _claim_slot(conn, entry.source, entry.slot_at):
            return None
        job_id = enqueue(
            conn,
            SCRAPE_JOB,
            {"source": entry.source},
            settings=settings,
            dmo=entry.dmo,
            dedup_key=scrape_dedup_key(entry.source),
            max_attempts=max_attempts,
        )
        conn.execute(
            sa.update(schedule_slots)
            .where(
                schedule_slots.c.source == entry.source,
                schedule_slots.c.slot_at == entry.slot_at,
            )
            .values(queue_id=job_id)
        )
    return Enqueued(entry.source, entry.slot_at, job_id)


def tick(
    engine: sa.Engine,
    sources: Mapping[str, Source],
    *,
    settings: Settings,
    now: datetime | None = None,
    max_attempts: int | None = None,
) -> TickResult:
    """Enqueue a scrape for every due source (one transaction each) and say what was done.
    ``max_attempts`` is the attempts each scrape gets (the registered scrape type's).

    A source whose frequency cannot be read, or whose slot hits a database error, is
    reported in ``errors`` and logged; the other sources are scheduled all the same, and a
    slot whose transaction failed is tried again at the next tick.
    """
    now = as_utc(now or utc_now())
    result = TickResult(entries=schedule(engine, sources, now))
    for entry in result.entries:
        if entry.error:
            logger.error("%s", entry.error)
            result.errors.append(entry.error)
            continue
        if not entry.due or entry.slot_at is None:
            continue
        slot = entry.slot_at.isoformat()
        try:
            done = enqueue_slot(engine, entry, settings, max_attempts)
        except sa.exc.SQLAlchemyError as exc:
            message = f"source {entry.source}: slot {slot} not enqueued: {type(exc).__name__}"
            logger.error("%s: %s", message, str(exc).splitlines()[0])
            result.errors.append(message)
            continue
        if done is None:
            logger.debug("%s: slot %s was taken by another scheduler", entry.source, slot)
            result.taken.append(entry.source)
        elif done.job_id is None:
            logger.info(
                "%s: slot %s: a scrape is already queued (dedup key %s); none added",
                entry.source,
                slot,
                scrape_dedup_key(entry.source),
            )
            result.enqueued.append(done)
        else:
            logger.info(
                "%s: slot %s: enqueued scrape job %s (dmo %s)",
                entry.source,
                slot,
                done.job_id,
                entry.dmo,
            )
            result.enqueued.append(done)
    return result


def seconds_until_next_slot(entries: list[SourceSchedule], now: datetime) -> float | None:
    """Seconds from ``now`` to the earliest next slot of any source, or None."""
    upcoming = [e.next_slot_at for e in entries if e.next_slot_at is not None]
    if not upcoming:
        return None
    return max(0.0, (min(upcoming) - as_utc(now)).total_seconds())


def run(
    engine: sa.Engine,
    load_sources: Callable[[], Mapping[str, Source]],
    *,
    settings: Settings,
    interval: float,
    stop: threading.Event,
    clock: Clock = utc_now,
    max_attempts: int | None = None,
) -> int:
    """Tick until ``stop`` is set; return how many ticks ran.

    Sources are loaded again before every tick, so stored configurations edited meanwhile
    are seen. Between ticks it sleeps ``interval`` seconds, or less when a slot falls
    sooner. An error loading the sources, or a database that cannot be reached, is logged
    and the tick skipped: the scheduler keeps running and tries again.
    """
    ticks = 0
    while not stop.is_set():
        wait = interval
        try:
            result = tick(
                engine, load_sources(), settings=settings, now=clock(), max_attempts=max_attempts
            )
        except PipelineError as exc:
            logger.error("sources could not be loaded; nothing enqueued this tick: %s", exc)
        except sa.exc.SQLAlchemyError as exc:
            logger.error("database error; nothing enqueued this tick: %s", str(exc).splitlines()[0])
        else:
            ticks += 1
            until = seconds_until_next_slot(result.entries, clock())
            if until is not None:
                wait = min(interval, until + 0.5)
            logger.info(
                "tick %d: %d source(s), %d slot(s) enqueued, %d taken by another scheduler, "
                "%d error(s); next look in %.3g s",
                ticks,
                len(result.entries),
                len(result.enqueued),
                len(result.taken),
                len(result.errors),
                wait,
            )
        stop.wait(wait)
    return ticks
