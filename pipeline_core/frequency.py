"""Scrape frequencies: ``hourly``, ``daily``, ``weekly`` or a 5-field cron expression.

A frequency defines *slots*: the aligned UTC times at which a source is due. ``hourly`` is
every hour at :00, ``daily`` every day at 00:00, ``weekly`` every Monday at 00:00; a cron
expression (``minute hour day-of-month month day-of-week``, evaluated in UTC) has a slot
at every time it matches. Cron expressions are parsed and evaluated by cronsim, which
follows Debian cron's semantics (day-of-month and day-of-week are OR-ed when both are
restricted; ``L``, ``#`` and month/day names are accepted).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cronsim import CronSim, CronSimError

#: The named frequencies and the cron expression each stands for.
NAMED_FREQUENCIES: dict[str, str] = {
    "hourly": "0 * * * *",
    "daily": "0 0 * * *",
    "weekly": "0 0 * * 1",
}

#: The frequency of a source whose mapping names none.
DEFAULT_FREQUENCY = "daily"

_ACCEPTED = "use hourly, daily, weekly or a 5-field cron expression such as '30 2 * * *'"
_FIELDS = "minute hour day-of-month month day-of-week"


def as_utc(moment: datetime) -> datetime:
    """``moment`` in UTC; a naive time (as SQLite returns them) is taken to be UTC."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


@dataclass(frozen=True)
class Frequency:
    """A checked scrape frequency: the text as written and the cron expression it means."""

    text: str
    cron: str

    def latest_slot(self, now: datetime) -> datetime | None:
        """The latest slot at or before ``now`` (UTC), or None when there is none in the
        50 years before it."""
        # cronsim's reverse iteration yields times strictly before its start, and slots
        # fall on whole minutes: start just after ``now`` so a slot equal to it counts.
        start = as_utc(now).replace(microsecond=0) + timedelta(seconds=1)
        try:
            return as_utc(next(CronSim(self.cron, start, reverse=True)))
        except StopIteration:
            return None

    def next_slot(self, now: datetime) -> datetime | None:
        """The first slot strictly after ``now`` (UTC), or None when there is none in the
        next 50 years."""
        try:
            return as_utc(next(CronSim(self.cron, as_utc(now))))
        except StopIteration:
            return None


def parse_frequency(text: str, now: datetime | None = None) -> Frequency:
    """Check a scrape frequency; raise :class:`ValueError` saying what is wrong and what is
    accepted. A cron expression that matches no time in the 50 years after ``now`` is
    refused too."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"{text!r} is not a scrape frequency; {_ACCEPTED}")
    value = text.strip()
    if value in NAMED_FREQUENCIES:
        return Frequency(value, NAMED_FREQUENCIES[value])
    fields = value.split()
    if len(fields) != 5:
        raise ValueError(
            f"{value!r} is not a scrape frequency: a cron expression has 5 fields ({_FIELDS}), "
            f"got {len(fields)}; {_ACCEPTED}"
        )
    cron = " ".join(fields)
    try:
        CronSim(cron, as_utc(now or datetime.now(UTC)))
    except CronSimError as exc:
        detail = str(exc)[:1].lower() + str(exc)[1:]
        raise ValueError(
            f"{value!r} is not a valid cron expression: {detail}; {_ACCEPTED}"
        ) from None
    frequency = Frequency(value, cron)
    if frequency.next_slot(now or datetime.now(UTC)) is None:
        raise ValueError(f"the cron expression {value!r} matches no time in the next 50 years")
    return frequency
