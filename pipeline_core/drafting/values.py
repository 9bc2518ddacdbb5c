"""What values are, tested with the transforms that will read them.

Phones are parsed by the ``phone`` transform in a region, postal codes checked by the
``postal_code`` transform for a country, hours read by the ``opening_hours`` text reader,
e-mails by ``email``; each test gives the share of values that pass.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable
from functools import lru_cache
from typing import Any

from pipeline_core.builtin.address import postal_code
from pipeline_core.builtin.contact import email
from pipeline_core.builtin.geo import COUNTRY_BOXES
from pipeline_core.builtin.hours_text import text_to_osm
from pipeline_core.builtin.phone import phone
from pipeline_core.drafting.lexicon import fold

_IMAGE_EXT = re.compile(r"\.(?:jpe?g|png|gif|webp|tiff?|bmp|svg)(?:$|[?#])", re.IGNORECASE)
_HTML = re.compile(r"<(?:p|br|div|span|a|b|strong|em|ul|li|h[1-6])\b[^>]*>", re.IGNORECASE)
_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)

#: Words of running text per language (the ones shared by two languages are dropped).
_COMMON: dict[str, str] = {
    "en": "the and of to with for this from are is at our you your their which",
    "de": "der die das und mit von für ist im den zu auf ein eine dem des sich nicht auch",
    "fr": "le les et des du un une pour avec dans est au aux sur par vous qui",
    "es": "el los las y del con para es un una por al su se como más o",
    "it": "il lo gli e della del con per è un una nel alla dei delle sono o di ed",
    "nl": "het een en van met voor op is aan bij te zijn wordt naar ook",
    "ca": "els les i amb per del una es al seu més",
    "pt": "o os as e do da com para em um uma dos das não",
}
_SEEN = Counter(w for words in _COMMON.values() for w in set(words.split()))
LANGUAGE_WORDS = {
    lang: frozenset(w for w in words.split() if _SEEN[w] == 1) for lang, words in _COMMON.items()
}
#: Language of a country's feeds when the text says nothing (names only).
COUNTRY_LANGUAGE = {
    "IE": "en", "GB": "en", "FR": "fr", "ES": "es", "IT": "it", "DE": "de", "AT": "de",
    "CH": "de", "NL": "nl", "BE": "nl", "PT": "pt",
}  # fmt: skip


def share(values: list[Any], test: Callable[[Any], bool]) -> float:
    """Share of ``values`` for which ``test`` is true (0 for none)."""
    if not values:
        return 0.0
    passed = 0
    for value in values:
        try:
            passed += bool(test(value))
        except (ValueError, TypeError, ArithmeticError):
            continue
    return passed / len(values)


def number(value: Any) -> float | None:
    """A number from a number or numeric text (``"51,05"`` too), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        text = value.strip().replace(",", ".")
        try:
            return float(text)
        except ValueError:
            return None
    return None


def is_phone(value: Any, region: str | None) -> bool:
    """True when the ``phone`` transform reads a valid number in ``region``."""
    if isinstance(value, dict | list):
        return False
    phone(str(value), None, region)
    return True


def is_email(value: Any) -> bool:
    """True when the ``email`` transform accepts the value."""
    if isinstance(value, dict | list) or "@" not in str(value):
        return False
    email(str(value))
    return True


def is_postal_code(value: Any, country: str) -> bool:
    """True when the ``postal_code`` transform accepts the value for ``country``."""
    if isinstance(value, dict | list | float):
        return False
    postal_code(str(value), None, country)
    return True


def is_image_url(text: str) -> bool:
    """A URL whose path ends like an image file."""
    return bool(_IMAGE_EXT.search(text))


def is_html(text: str) -> bool:
    """Text with HTML tags in it."""
    return bool(_HTML.search(text))


def reads_as_hours(text: Any, language: str | None) -> bool:
    """True when the opening-hours text reader turns the text into OSM hours."""
    if not isinstance(text, str) or not text.strip():
        return False
    return _reads_as_hours(text, language)


@lru_cache(maxsize=4096)
def _reads_as_hours(text: str, language: str | None) -> bool:
    # columns repeat their values (categories, "Always open"): each is read once
    return text_to_osm(text, language) is not None


def language_of(texts: Iterable[str]) -> tuple[str | None, int]:
    """(the language most of the words belong to, how many words said so)."""
    hits: Counter[str] = Counter()
    for text in texts:
        for word in _WORD.findall(text.lower()):
            for lang, words in LANGUAGE_WORDS.items():
                if word in words:
                    hits[lang] += 1
    if not hits:
        return None, 0
    lang, count = max(hits.items(), key=lambda kv: (kv[1], kv[0]))
    return lang, count


def countries_around(points: list[tuple[float, float]]) -> list[str]:
    """Countries whose box holds at least 90 % of the points, smallest box first."""
    if not points:
        return []
    found = []
    for code, (south, west, north, east) in COUNTRY_BOXES.items():
        inside = sum(1 for lat, lon in points if south <= lat <= north and west <= lon <= east)
        if inside >= 0.9 * len(points):
            found.append(((north - south) * (east - west), code))
    return [code for _, code in sorted(found)]


def folded_set(values: list[Any]) -> set[str]:
    """The distinct values as folded text."""
    return {fold(str(v)).strip() for v in values if not isinstance(v, dict | list)}
