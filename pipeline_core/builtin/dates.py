"""Dates and times in the common published formats, read by ``python-dateutil``:
``any_date`` (``16/07/2027``, ``16.07.2027``, ``July 16, 2027``) and ``datetime``.

A text without its year, month or day (``July 2027``, ``16 July``, ``Monday``, ``10:30``)
is refused: dateutil would take the missing parts from today, a value that is wrong and
changes every day (and the record hash with it).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from dateutil import parser

from pipeline_core.hookspecs import hookimpl
from pipeline_core.transforms import Transform

#: Two days that differ in year, month and day (and by more than a week, so a weekday
#: name moves them apart too): dateutil fills a part the text lacks from its default.
_DEFAULTS = (datetime(2000, 1, 1), datetime(2004, 3, 9))


def _parse(value: Any, dayfirst: bool) -> datetime:
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    text = " ".join(str(value).split())
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        pass
    try:
        first, second = (parser.parse(text, default=d, dayfirst=dayfirst) for d in _DEFAULTS)
    except (ValueError, OverflowError, parser.ParserError):
        raise ValueError(f"not a date: {text!r}") from None
    # Parsed against two defaults, a text without its year, month or day gives two dates:
    # refused, rather than completed from today (a value that would change every day)
    missing = [
        part for part in ("year", "month", "day") if getattr(first, part) != getattr(second, part)
    ]
    if missing:
        named = f"{', '.join(missing[:-1])} and {missing[-1]}" if len(missing) > 1 else missing[0]
        raise ValueError(f"not a date: {text!r} (no {named})")
    return first


def any_date(value: Any, dayfirst: bool = True) -> str:
    """ISO date ``YYYY-MM-DD`` from ISO text or a common format (``16/07/2027``,
    ``16.07.2027``, ``16 July 2027``, ``July 16, 2027``); numeric dates are read day
    first unless ``dayfirst: false`` (``07/16/2027``). A text without its year, month or
    day (``July 2027``) is not a date."""
    return _parse(value, dayfirst).date().isoformat()


def to_datetime(value: Any, dayfirst: bool = True) -> str:
    """ISO date and time (``2027-07-16T20:30:00``, with its offset when the text has one)
    from the formats of ``any_date`` with a time (``16/07/2027 8:30 PM``)."""
    return _parse(value, dayfirst).isoformat()


@hookimpl
def register_transforms() -> list[Transform]:
    """The date transforms."""
    return [
        Transform("any_date", any_date, any_date.__doc__ or "", cacheable=True),
        Transform("datetime", to_datetime, to_datetime.__doc__ or "", cacheable=True),
    ]
