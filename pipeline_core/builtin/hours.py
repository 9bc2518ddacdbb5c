"""The ``opening_hours`` transform: weekday dictionaries, OpenStreetMap ``opening_hours``
and schema.org ``OpeningHoursSpecification`` into canonical rows plus one OSM string.

OSM syntax is parsed, checked and normalised by ``opening-hours-py`` (Python bindings of
the Rust ``opening-hours`` crate); every string this module writes is checked by it too.
What the rows mean is :mod:`pipeline_core.model.opening`.
"""

from __future__ import annotations

import json
import re
from datetime import date, datetime
from typing import Any

import opening_hours

from pipeline_core.builtin.osm_syntax import OSM_DAYS, OSM_MONTHS, osm_days
from pipeline_core.builtin.transforms import to_time, weekday
from pipeline_core.exceptions import PartialTransformError
from pipeline_core.hookspecs import hookimpl
from pipeline_core.transforms import Transform, TransformContext

_CLOSED_WORDS = {
    "closed", "close", "off", "geschlossen", "ruhetag", "fermé", "ferme", "chiuso", "-", "",
}  # fmt: skip
_ALL_DAY = {"24h", "24 hours", "open 24 hours", "00:00-24:00", "0-24", "durchgehend geöffnet"}
_RANGE = re.compile(r"\s*(?:-|\u2013|\u2014)\s*|\s+(?:to|bis|à|a|till|until)\s+", re.IGNORECASE)
_SEVERAL = re.compile(r"\s*(?:,|;|\band\b|\bund\b|\bet\b|\be\b|&|/)\s*", re.IGNORECASE)

Rows = list[dict[str, Any]]
#: What the OSM parser raises (its type stubs do not name ``ParserError``).
_PARSE_ERRORS: tuple[type[Exception], ...] = (
    SyntaxError,
    getattr(opening_hours, "ParserError", SyntaxError),
)
_UNREADABLE: tuple[type[Exception], ...] = (ValueError, *_PARSE_ERRORS)


# ------------------------------------------------------------------ reading sources


def _times(text: str) -> list[tuple[str, str]] | None:
    """``"9:00 AM - 5:00 PM, 6pm-10pm"`` → [("09:00", "17:00"), ("18:00", "22:00")];
    None when closed."""
    folded = " ".join(text.split()).lower()
    if folded in _CLOSED_WORDS:
        return None
    if folded in _ALL_DAY:
        return [("00:00", "24:00")]
    out = []
    for part in _SEVERAL.split(folded):
        if not part:
            continue
        pieces = _RANGE.split(part)
        if len(pieces) != 2:
            raise ValueError(f"not a time range: {part!r}")
        out.append((to_time(pieces[0]), to_time(pieces[1])))
    return out


def _day_keys(key: Any) -> list[int]:
    """``"Monday"`` → [0]; ``"Mon-Fri"`` → [0..4]; ``"Sat, Sun"`` → [5, 6]."""
    text = str(key).strip()
    days: list[int] = []
    for part in re.split(r"\s*[,/&]\s*", text):
        ends = _RANGE.split(part) if not part.isdigit() else [part]
        if len(ends) == 2:
            first, last = weekday(ends[0]), weekday(ends[1])
            days.extend((first + step) % 7 for step in range((last - first) % 7 + 1))
        else:
            days.append(weekday(part))
    return days


def from_weekdays(value: dict[str, Any]) -> Rows:
    """Rows of a weekday dictionary: ``{"Monday": "9:00 AM - 5:00 PM", "Sun": "closed"}``."""
    rows: Rows = []
    for key, hours in value.items():
        for day in _day_keys(key):
            ranges = _times(", ".join(hours) if isinstance(hours, list) else str(hours or ""))
            if ranges is None:
                rows.append({"weekday": day, "closed": True})
            else:
                rows.extend({"weekday": day, "opens": a, "closes": b} for a, b in ranges)
    return sorted(rows, key=lambda r: (r["weekday"], r.get("opens", "")))


def _prop(spec: dict[str, Any], name: str) -> Any:
    for key in (name, f"schema:{name}", f"https://schema.org/{name}", f"http://schema.org/{name}"):
        if key in spec:
            value = spec[key]
            if isinstance(value, dict) and "@value" in value:
                return value["@value"]
            if isinstance(value, list) and len(value) == 1 and name != "dayOfWeek":
                return value[0]
            return value
    return None


def _schema_day(value: Any) -> int | None:
    """A schema.org DayOfWeek (``schema:Monday``, ``https://schema.org/Monday``, a node
    with ``@id``, ``Mo``); None for ``PublicHolidays``."""
    if isinstance(value, dict):
        value = value.get("@id", "")
    name = str(value).rsplit("/", 1)[-1].rsplit(":", 1)[-1].rsplit("#", 1)[-1]
    if name.lower() == "publicholidays":
        return None
    return weekday(name)


def _iso_date(value: Any) -> str | None:
    if value in (None, ""):
        return None
    text = str(value).strip()
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).date().isoformat()
    except ValueError:
        raise ValueError(f"not a date: {text!r}") from None


def from_schema_org(value: Any) -> tuple[Rows, Rows]:
    """Weekly rows and special dates of schema.org ``OpeningHoursSpecification`` nodes.

    A node with days gives a row per day (valid between ``validFrom`` and
    ``validThrough`` when given); one without days but with a single date
    (``validFrom`` = ``validThrough``) is a special date, closed when ``opens`` and
    ``closes`` are both ``00:00`` (schema.org's way to say closed) or missing.
    """
    specs = value if isinstance(value, list) else [value]
    weekly: Rows = []
    dates: Rows = []
    for index, spec in enumerate(specs):
        if not isinstance(spec, dict):
            raise ValueError(f"item {index} is not an OpeningHoursSpecification object")
        opens_raw, closes_raw = _prop(spec, "opens"), _prop(spec, "closes")
        opens = to_time(opens_raw) if opens_raw not in (None, "") else None
        closes = to_time(closes_raw) if closes_raw not in (None, "") else None
        if closes == "00:00" and opens not in (None, "00:00"):
            closes = "24:00"
        start, end = _iso_date(_prop(spec, "validFrom")), _iso_date(_prop(spec, "validThrough"))
        days_raw = _prop(spec, "dayOfWeek")
        days_list = days_raw if isinstance(days_raw, list) else [days_raw] if days_raw else []
        closed = (opens is None and closes is None) or (opens == closes == "00:00")
        if not days_list:
            if start is None:
                raise ValueError(f"item {index} has neither dayOfWeek nor validFrom")
            row: dict[str, Any] = {"date": start}
            if end and end != start:
                row["end_date"] = end
            if closed:
                row["closed"] = True
            else:
                row.update({"opens": opens or "00:00", "closes": closes or "24:00"})
            dates.append(row)
            continue
        for raw_day in days_list:
            day = _schema_day(raw_day)
            if day is None:
                continue
            weekly_row: dict[str, Any] = {"weekday": day}
            if closed:
                weekly_row["closed"] = True
            else:
                weekly_row.update({"opens": opens or "00:00", "closes": closes or "24:00"})
            if start:
                weekly_row["valid_from"] = start
            if end:
                weekly_row["valid_to"] = end
            weekly.append(weekly_row)
    return weekly, dates


# ------------------------------------------------------------------ OSM strings


def _osm_date(text: str) -> str:
    day = date.fromisoformat(text)
    return f"{day.year} {OSM_MONTHS[day.month - 1]} {day.day:02d}"


def _osm_period(start: str | None, end: str | None) -> str:
    first = _osm_date(start) if start else "1900 Jan 01"
    return f"{first}-{_osm_date(end)}" if end and end != start else first


def _week_rules(rows: Rows, prefix: str) -> list[str]:
    by_day: dict[int, list[str]] = {}
    for row in rows:
        if row.get("closed"):
            by_day.setdefault(row["weekday"], [])
        else:
            ranges = by_day.setdefault(row["weekday"], [])
            ranges.append(f"{row.get('opens', '00:00')}-{row.get('closes', '24:00')}")
    by_times: dict[str, list[int]] = {}
    for day, ranges in sorted(by_day.items()):
        if ranges:
            by_times.setdefault(",".join(sorted(set(ranges))), []).append(day)
    lead = f"{prefix} " if prefix else ""
    return [f"{lead}{osm_days(days)} {times}" for times, days in by_times.items()]


def to_osm(weekly: Rows, dates: Rows) -> str:
    """One OSM ``opening_hours`` string saying what the canonical rows say (the rules of
    :mod:`pipeline_core.model.opening`), normalised by the OSM parser."""
    rules = _week_rules(
        [r for r in weekly if not r.get("valid_from") and not r.get("valid_to")], ""
    )
    periods: dict[tuple[str | None, str | None], Rows] = {}
    for row in weekly:
        if row.get("valid_from") or row.get("valid_to"):
            periods.setdefault((row.get("valid_from"), row.get("valid_to")), []).append(row)

    def order(period: tuple[str | None, str | None]) -> tuple[int, str]:
        start = date.fromisoformat(period[0]) if period[0] else date(1900, 1, 1)
        end = date.fromisoformat(period[1]) if period[1] else date(9999, 12, 31)
        return (-(end - start).days, start.isoformat())

    for start, end in sorted(periods, key=order):  # widest first: narrower ones override
        prefix = _osm_period(start, end)
        if rules:
            rules.append(f"{prefix} off")
        rules.extend(_week_rules(periods[(start, end)], prefix) or [f"{prefix} off"])
    for special in dates:
        prefix = _osm_period(special["date"], special.get("end_date"))
        if special.get("closed"):
            rules.append(f"{prefix} off")
        else:
            rules.append(
                f"{prefix} {special.get('opens', '00:00')}-{special.get('closes', '24:00')}"
            )
    if not rules:
        return ""
    return str(opening_hours.OpeningHours("; ".join(rules)))


_OSM_RULE = re.compile(
    r"^(?:(?P<y1>\d{4}) (?P<m1>[A-Z][a-z]{2}) (?P<d1>\d{1,2})"
    r"(?:-(?:(?P<y2>\d{4}) )?(?:(?P<m2>[A-Z][a-z]{2}) )?(?P<d2>\d{1,2}))? ?)?"
    r"(?P<days>(?:Mo|Tu|We|Th|Fr|Sa|Su)(?:[-,](?:Mo|Tu|We|Th|Fr|Sa|Su))*)?(?:,PH)? ?"
    r"(?P<times>\d\d:\d\d-\d\d:\d\d(?:,\d\d:\d\d-\d\d:\d\d)*|closed|off)?$"
)


def _osm_rule_days(text: str | None) -> list[int]:
    if not text:
        return list(range(7))
    days: list[int] = []
    for part in text.split(","):
        if "-" in part:
            first, last = (OSM_DAYS.index(p) for p in part.split("-"))
            days.extend((first + step) % 7 for step in range((last - first) % 7 + 1))
        else:
            days.append(OSM_DAYS.index(part))
    return days


def from_osm(normalised: str) -> tuple[Rows, Rows]:
    """Rows of the rules of a normalised OSM string that rows can say: weekdays and times,
    optionally within dates that name their year. Other rules (public holidays, school
    holidays, sunrise, week numbers, yearly dates) stay in the OSM string only (``Su,PH``
    gives Sunday's rows). As in OSM, a later rule for a weekday and period replaces an
    earlier one's rows (``Mo-Su 10:00-18:00; Mo off``: Monday is closed)."""
    by_day: dict[tuple[int, str | None, str | None], Rows] = {}
    dates: Rows = []
    if normalised == "24/7":
        return [{"weekday": d, "opens": "00:00", "closes": "24:00"} for d in range(7)], []
    for rule in normalised.split("; "):
        match = _OSM_RULE.match(rule)
        if not match or not (match["days"] or match["y1"]) or not match["times"]:
            continue
        start = end = None
        if match["y1"]:
            start = date(int(match["y1"]), OSM_MONTHS.index(match["m1"]) + 1, int(match["d1"]))
            end = start
            if match["d2"]:
                year = int(match["y2"] or match["y1"])
                month = OSM_MONTHS.index(match["m2"]) + 1 if match["m2"] else start.month
                end = date(year, month, int(match["d2"]))
        closed = match["times"] in ("closed", "off")
        ranges = [] if closed else [r.split("-") for r in match["times"].split(",")]
        if start is not None and not match["days"]:
            base: dict[str, Any] = {"date": start.isoformat()}
            if end != start and end is not None:
                base["end_date"] = end.isoformat()
            if closed:
                dates.append({**base, "closed": True})
            dates.extend({**base, "opens": a, "closes": b} for a, b in ranges)
            continue
        validity: dict[str, Any] = {}
        if start is not None and end is not None:
            validity = {"valid_from": start.isoformat(), "valid_to": end.isoformat()}
        for day in _osm_rule_days(match["days"]):
            key = (day, validity.get("valid_from"), validity.get("valid_to"))
            if closed:
                by_day[key] = [{"weekday": day, "closed": True, **validity}]
            else:
                by_day[key] = [
                    {"weekday": day, "opens": a, "closes": b, **validity} for a, b in ranges
                ]
    weekly = [row for rows in by_day.values() for row in rows]
    return weekly, dates


# ------------------------------------------------------------------ the transform


def _verbatim(value: Any) -> str:
    if isinstance(value, str):
        return value.strip()
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


#: Rows, special dates, the OSM string, and whether a remark of a free text was left out.
_Reading = tuple[Rows, Rows, str | None, bool]


def _from_text(value: Any, language: str | None) -> _Reading:
    # Imported on the first free text: the reader and Babel's locale data cost a crawl that
    # meets none about 4 MB (issue 16).
    from pipeline_core.builtin.hours_text import read_text

    found = read_text(str(value), language)
    if found is None:
        raise ValueError(
            "not opening hours in OpenStreetMap syntax or in free text the reader knows"
            + (f" ({language})" if language else "")
        )
    weekly, dates, osm, _ = _read(found[0], "osm")
    return weekly, dates, osm, found[1]


def _read(value: Any, format: str, language: str | None = None) -> _Reading:
    if format == "text":
        return _from_text(value, language)
    if format == "auto" and isinstance(value, str):
        try:
            return _read(value, "osm")
        except _UNREADABLE:  # not OSM syntax: free text, perhaps
            return _from_text(value, language)
    if format == "auto":
        if isinstance(value, dict) and any(
            k in value or f"schema:{k}" in value for k in ("opens", "dayOfWeek", "validFrom")
        ):
            format = "schema_org"
        elif isinstance(value, list):
            format = "schema_org"
        elif isinstance(value, dict):
            format = "weekdays"
        else:
            format = "osm"
    if format == "schema_org":
        weekly, dates = from_schema_org(value)
        return weekly, dates, None, False
    if format == "weekdays":
        if not isinstance(value, dict):
            raise ValueError("expected an object of weekdays")
        return from_weekdays(value), [], None, False
    if format != "osm":
        raise ValueError("format must be auto, osm, text, weekdays or schema_org")
    try:
        normalised = str(opening_hours.OpeningHours(" ".join(str(value).split())))
    except _PARSE_ERRORS:
        raise ValueError("not in OpenStreetMap opening_hours syntax") from None
    weekly, dates = from_osm(normalised)
    return weekly, dates, normalised, False


def opening_hours_fields(
    value: Any,
    format: str = "auto",
    language: str | None = None,
    context: TransformContext | None = None,
) -> dict[str, Any]:
    """Opening hours for the ``$`` target: ``opening_hours`` rows, ``opening_dates`` rows
    and one normalised ``opening_hours_osm`` string.

    ``format`` is ``osm`` (OpenStreetMap syntax), ``weekdays`` (an object of weekday
    names or ranges to time ranges, ``"9:00 AM - 5:00 PM"``, ``"closed"``), ``schema_org``
    (``OpeningHoursSpecification`` nodes, with validity periods and special dates) or
    ``auto`` (a list or an object with ``opens``/``dayOfWeek`` is schema.org, another
    object weekdays, text OSM, else free text). ``text`` is free text in es, ca, pt, en,
    de, fr, it or nl (``De lunes a sábado de 9 a 20 h``; see
    :mod:`pipeline_core.builtin.hours_text`), in ``language``, else the source's
    ``defaults.language``, else the one whose words cover the text best. A value that
    cannot be read is kept as published under ``opening_hours_text`` and reported; free
    text read with a remark left out ("Último pase a las 17 h") keeps its text there too,
    beside the rows.
    """
    if language is None and context is not None:
        language = context.defaults.get("language")
    try:
        weekly, dates, osm, remark = _read(value, format, language)
        if osm is None:
            osm = to_osm(weekly, dates)
    except _UNREADABLE as exc:
        raise PartialTransformError(str(exc), {"opening_hours_text": _verbatim(value)}) from None
    out: dict[str, Any] = {}
    if weekly:
        out["opening_hours"] = weekly
    if dates:
        out["opening_dates"] = dates
    if osm:
        out["opening_hours_osm"] = osm
    if remark:  # a remark was left out of the rows: the text as published stays too
        out["opening_hours_text"] = _verbatim(value)
    return out


def osm_hours(value: Any) -> str:
    """An OpenStreetMap ``opening_hours`` string, checked and normalised
    (``mo-fr 9:00-17:00`` → ``Mo-Fr 09:00-17:00``)."""
    try:
        return str(opening_hours.OpeningHours(" ".join(str(value).split())))
    except _PARSE_ERRORS:
        raise ValueError("not in OpenStreetMap opening_hours syntax") from None


@hookimpl
def register_transforms() -> list[Transform]:
    """The opening-hours transforms."""
    return [
        Transform(
            "opening_hours",
            opening_hours_fields,
            opening_hours_fields.__doc__ or "",
            cacheable=True,
        ),
        Transform("osm_hours", osm_hours, osm_hours.__doc__ or "", cacheable=True),
    ]
