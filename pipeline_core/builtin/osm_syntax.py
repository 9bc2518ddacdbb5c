"""The names of OSM ``opening_hours`` syntax, and its weekday lists: shared by the
``opening_hours`` transform (:mod:`pipeline_core.builtin.hours`) and the free-text reader
(:mod:`pipeline_core.builtin.hours_text`). Imports nothing heavy."""

from __future__ import annotations

from collections.abc import Iterable

OSM_DAYS = ("Mo", "Tu", "We", "Th", "Fr", "Sa", "Su")
OSM_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def osm_days(days: Iterable[int]) -> str:
    """Weekdays (0 = Monday) as OSM writes them: [0, 1, 2, 4] → ``Mo-We,Fr``; runs of three
    or more days as a range, shorter runs listed."""
    parts: list[str] = []
    run: list[int] = []
    for day in [*sorted(set(days)), None]:
        if day is not None and run and day == run[-1] + 1:
            run.append(day)
            continue
        if run:
            if len(run) > 2:
                parts.append(f"{OSM_DAYS[run[0]]}-{OSM_DAYS[run[-1]]}")
            else:
                parts.extend(OSM_DAYS[d] for d in run)
        run = [day] if day is not None else []
    return ",".join(parts)
