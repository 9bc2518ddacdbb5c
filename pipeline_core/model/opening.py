"""What the canonical opening rows mean: :func:`is_open` answers "open at this moment?".

The rules (also in ``docs/reference/mapping.md``, "The canonical listing"):

- an ``opening_dates`` row covering the day decides it: ``closed``, or open from
  ``opens`` to ``closes`` (all day when it has neither);
- else, of the ``opening_hours`` rows whose ``valid_from``/``valid_to`` period covers the
  day, only those of the narrowest such period count (a seasonal period overrides the
  year it lies in, for every weekday); of two periods as long, the later-starting one;
- else the rows without a period count;
- a day with no row is closed; a row's ``closes`` at or before its ``opens`` runs past
  midnight (the part after midnight is not carried into the next day).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any


def _day(text: str | None) -> date | None:
    return date.fromisoformat(text) if text else None


def _within(opens: str | None, closes: str | None, clock: str) -> bool:
    if opens is None and closes is None:
        return True
    start, end = opens or "00:00", closes or "24:00"
    if end <= start:  # past midnight
        return clock >= start
    return start <= clock < end


def period_rows(record: dict[str, Any], day: date) -> list[dict[str, Any]]:
    """The ``opening_hours`` rows that apply on ``day`` (see the module's rules)."""
    rows = record.get("opening_hours") or []
    periods: dict[tuple[date, date], list[dict[str, Any]]] = {}
    plain = []
    for row in rows:
        start, end = _day(row.get("valid_from")), _day(row.get("valid_to"))
        if start is None and end is None:
            plain.append(row)
            continue
        start, end = start or date.min, end or date.max
        if start <= day <= end:
            periods.setdefault((start, end), []).append(row)
    if not periods:
        return plain
    chosen = max(periods, key=lambda p: (-(p[1] - p[0]).days, p[0]))
    return periods[chosen]


def is_open(record: dict[str, Any], when: datetime) -> bool:
    """Whether a canonical record's opening rows say it is open at ``when`` (local time)."""
    day, clock = when.date(), when.strftime("%H:%M")
    for special in record.get("opening_dates") or []:
        start = _day(special["date"])
        end = _day(special.get("end_date")) or start
        if start is not None and end is not None and start <= day <= end:
            if special.get("closed"):
                return False
            return _within(special.get("opens"), special.get("closes"), clock)
    for row in period_rows(record, day):
        if row["weekday"] == day.weekday() and not row.get("closed"):
            if _within(row.get("opens"), row.get("closes"), clock):
                return True
    return False
