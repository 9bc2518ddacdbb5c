"""Dates and times in the common published formats, read by ``python-dateutil``:
``any_date`` (``16/07/2027``, ``16.07.2027``, ``July 16, 2027``) and ``datetime``."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from dateutil import parser

from pipeline_core.hookspecs import hookimpl
from pipeline_core.transforms import Transform


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
        return parser.parse(text, dayfirst=dayfirst)
    except (ValueError, OverflowError, parser.ParserError):
        raise ValueError(f"not a date: {text!r}") from None


def any_date(value: Any, dayfirst: bool = True) -> str:
    """ISO date ``YYYY-MM-DD`` from ISO text or a common format (``16/07/2027``,
    ``16.07.2027``, ``16 July 2027``, ``July 16, 2027``); numeric dates are read day
    first unless ``dayfirst: false`` (``07/16/2027``)."""
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
