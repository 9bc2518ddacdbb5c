"""Built-in transforms: a plugin of ``register_transforms`` like any other.

Each function takes the value and keyword arguments from the mapping, and raises
``ValueError`` with a short reason when the value cannot be converted.
"""

from __future__ import annotations

import html
import math
import re
import unicodedata
from datetime import date, datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from pipeline_core.builtin.html_fragment import fragment_text
from pipeline_core.hookspecs import hookimpl
from pipeline_core.transforms import Transform

_WEEKDAYS = {
    name: index
    for index, names in enumerate(
        (
            ("mo", "mon", "monday", "montag", "lun", "lundi", "lunedi", "lunedì"),
            (
                "tu",
                "tue",
                "tues",
                "tuesday",
                "di",
                "die",
                "dienstag",
                "mar",
                "mardi",
                "martedi",
                "martedì",
            ),
            (
                "we",
                "wed",
                "wednesday",
                "mi",
                "mit",
                "mittwoch",
                "mer",
                "mercredi",
                "mercoledi",
                "mercoledì",
            ),
            (
                "th",
                "thu",
                "thur",
                "thurs",
                "thursday",
                "do",
                "don",
                "donnerstag",
                "jeu",
                "jeudi",
                "gio",
                "giovedi",
                "giovedì",
            ),
            ("fr", "fri", "friday", "fre", "freitag", "ven", "vendredi", "venerdi", "venerdì"),
            ("sa", "sat", "saturday", "sam", "samstag", "samedi", "sab", "sabato"),
            ("su", "sun", "sunday", "so", "son", "sonntag", "dim", "dimanche", "dom", "domenica"),
        )
    )
    for name in names
}


def to_str(value: Any) -> str:
    """Text of a scalar; floats that are whole numbers lose their ``.0``."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dict | list):
        raise ValueError("expected a scalar, got " + type(value).__name__)
    return str(value)


def to_int(value: Any) -> int:
    """Whole number from a number or numeric text (``"1 200"``, ``"12.0"``); the text of a
    whole number is read exactly, however long."""
    if isinstance(value, bool):
        raise ValueError("expected a number, got a boolean")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError("not a whole number")
        return int(value)
    text = str(value).strip().replace(" ", "").replace("\u00a0", "")
    try:
        return int(text)
    except ValueError:  # "12.0", "12,0", "1e3"; or not a number
        pass
    try:
        number = float(text.replace(",", "."))
    except ValueError:
        raise ValueError("not a number") from None
    if not number.is_integer():
        raise ValueError("not a whole number")
    return int(number)


def to_float(value: Any) -> float:
    """Decimal number; text may use a decimal comma (``"53,27"``). NaN and infinity are
    refused (JSON has no such number: they would be stored as null)."""
    if isinstance(value, bool):
        raise ValueError("expected a number, got a boolean")
    if isinstance(value, int | float):
        number = float(value)
    else:
        text = str(value).strip().replace("\u00a0", "").replace(" ", "")
        if text.count(",") == 1 and "." not in text:
            text = text.replace(",", ".")
        try:
            number = float(text)
        except ValueError:
            raise ValueError("not a number") from None
    if not math.isfinite(number):
        raise ValueError(f"not a finite number: {value!r} (NaN and infinity are refused)")
    return number


def to_bool(value: Any) -> bool:
    """Boolean from true/false, yes/no, 1/0, y/n, ja/nein, oui/non."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "yes", "y", "1", "ja", "oui", "si", "sì", "on"):
        return True
    if text in ("false", "no", "n", "0", "nein", "non", "off"):
        return False
    raise ValueError("not a yes/no value")


def clean_text(value: Any) -> str:
    """HTML entities decoded (``Caf&eacute;``, as CDATA sections carry them), Unicode NFC,
    whitespace runs folded to one space, ends stripped."""
    text = value if value.__class__ is str else to_str(value)
    if "&" in text:
        text = html.unescape(text)
    if not unicodedata.is_normalized("NFC", text):
        text = unicodedata.normalize("NFC", text)
    return " ".join(text.split())


def html_text(value: Any) -> str:
    """Text of an HTML fragment, read by lxml's HTML parser: tags dropped (and with them
    scripts, styles, templates, ``noscript`` and comments), entities decoded, line breaks
    and the ends of blocks (paragraphs, ``div``, list items, headings, table rows) kept
    as newlines."""
    text = value if value.__class__ is str else to_str(value)
    if "<" not in text and "&" not in text:  # plain text: only lines and spaces to tidy
        return _tidy_lines(text)
    if "<" not in text:
        return _tidy_lines(html.unescape(text))
    return _tidy_lines(fragment_text(text))


def _tidy_lines(text: str) -> str:
    if not unicodedata.is_normalized("NFC", text):
        text = unicodedata.normalize("NFC", text)
    lines = [" ".join(line.split()) for line in text.splitlines()]
    return "\n".join([line for line in lines if line])


def lower(value: Any) -> str:
    """Lower case text."""
    return to_str(value).lower()


def upper(value: Any) -> str:
    """Upper case text."""
    return to_str(value).upper()


def split(value: Any, sep: str = ",") -> list[str]:
    """List of the non-empty, stripped parts of text split at ``sep``."""
    if isinstance(value, list):
        return [clean_text(v) for v in value if str(v).strip()]
    return [part.strip() for part in to_str(value).split(sep) if part.strip()]


def join(value: Any, sep: str = ", ") -> str:
    """Text of a list's non-empty items joined with ``sep``."""
    items = value if isinstance(value, list) else [value]
    return sep.join(to_str(v).strip() for v in items if v is not None and str(v).strip())


def first(value: Any) -> Any:
    """The first item of a list (a scalar is returned as it is)."""
    if isinstance(value, list):
        return value[0] if value else None
    return value


_PLAIN_URL = re.compile(r"^https?://[a-z0-9.-]+(?::\d+)?(?:[/?#][^\s]*)?$")
#: The same shape with any case in the host: only the host needs lower-casing.
_CASED_URL = re.compile(r"^(https?://)([A-Za-z0-9.-]+)((?::\d+)?(?:[/?#][^\s]*)?)$")
_SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*):(?!\d)")
#: A scheme typed twice or with its slashes wrong: "http://http: www.x", "http:/x", "https:///x".
_SCHEME_SLIPS = re.compile(r"^(?:https?:/*\s*)*(https?):/*\s*", re.IGNORECASE)


def url(value: Any) -> str:
    """An absolute http(s) URL: scheme added when missing (https), a doubled or mistyped
    scheme repaired (``http://http: www.x``), host lower-cased; other schemes
    (``mailto:``, ``javascript:``) are refused."""
    text = to_str(value).strip()
    fast = _PLAIN_URL.match(text)
    if fast:  # http(s)://host/... with a lower-case host: nothing to change
        return text
    scheme = _SCHEME.match(text)
    if scheme and scheme.group(1).lower() not in ("http", "https"):
        raise ValueError(f"not an http(s) URL (scheme {scheme.group(1)}:)")
    text = _SCHEME_SLIPS.sub(lambda m: m.group(1).lower() + "://", text, count=1)
    if text.startswith("//"):
        text = "https:" + text
    elif "://" not in text:
        text = "https://" + text
    cased = _CASED_URL.match(text)
    # (an empty query or fragment, which urlunsplit drops, takes the long way)
    if cased and "?#" not in text and text[-1] not in "?#":
        return cased[1] + cased[2].lower() + cased[3]
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc or " " in parts.netloc:
        raise ValueError("not an http(s) URL")
    return urlunsplit(parts._replace(netloc=parts.netloc.lower()))


def to_date(value: Any, format: str | None = None) -> str:
    """ISO date (YYYY-MM-DD) from ISO text, a datetime, or text in ``format`` (strptime)."""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    text = to_str(value).strip()
    try:
        if format:
            return datetime.strptime(text, format).date().isoformat()
        return datetime.fromisoformat(text.replace("Z", "+00:00")).date().isoformat()
    except ValueError:
        raise ValueError("not a date" + (f" in format {format}" if format else "")) from None


def to_time(value: Any) -> str:
    """24-hour time HH:MM from ``9:00``, ``09:00:00``, ``9am``, ``5:30 PM``."""
    text = to_str(value).strip().lower().replace(".", ":")
    match = re.fullmatch(r"(\d{1,2})(?::(\d{2}))?(?::\d{2})?\s*(am|pm)?", text)
    if not match:
        raise ValueError("not a time of day")
    hour, minute, half = int(match[1]), int(match[2] or 0), match[3]
    if half == "pm" and hour < 12:
        hour += 12
    elif half == "am" and hour == 12:
        hour = 0
    if hour > 24 or minute > 59:
        raise ValueError("not a time of day")
    return f"{hour:02d}:{minute:02d}"


def weekday(value: Any) -> int:
    """Weekday number, 0 = Monday, from a name or abbreviation (en, de, fr, it) or 0-6."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 6:
        return value
    key = to_str(value).strip().lower().rstrip(".")
    if key in ("0", "1", "2", "3", "4", "5", "6"):
        return int(key)
    if key in _WEEKDAYS:
        return _WEEKDAYS[key]
    raise ValueError("not a weekday")


BUILTIN_TRANSFORMS = (
    Transform("str", to_str, to_str.__doc__ or "", cacheable=True),
    Transform("int", to_int, to_int.__doc__ or "", cacheable=True),
    Transform("float", to_float, to_float.__doc__ or "", cacheable=True),
    Transform("bool", to_bool, to_bool.__doc__ or "", cacheable=True),
    Transform("text", clean_text, clean_text.__doc__ or "", cacheable=True),
    Transform("html_text", html_text, html_text.__doc__ or "", cacheable=True),
    Transform("lower", lower, lower.__doc__ or "", cacheable=True),
    Transform("upper", upper, upper.__doc__ or "", cacheable=True),
    Transform("split", split, split.__doc__ or "", cacheable=True),
    Transform("join", join, join.__doc__ or ""),
    Transform("first", first, first.__doc__ or ""),
    Transform("url", url, url.__doc__ or "", cacheable=True),
    Transform("date", to_date, to_date.__doc__ or "", cacheable=True),
    Transform("time", to_time, to_time.__doc__ or "", cacheable=True),
    Transform("weekday", weekday, weekday.__doc__ or "", cacheable=True),
)


@hookimpl
def register_transforms() -> list[Transform]:
    """The built-in transforms."""
    return list(BUILTIN_TRANSFORMS)
