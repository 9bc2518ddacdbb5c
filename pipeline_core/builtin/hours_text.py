"""Free-text opening hours in es, ca, pt, en, de, fr, it and nl, read into OSM syntax.

"De lunes a sábado de 9 a 20 horas. Domingos y festivos de 9 a 14 horas. Cerrado 1 enero,
1 mayo y 25 diciembre." becomes ``Mo-Sa 09:00-20:00; Su,PH 09:00-14:00; Jan 01,May 01,Dec
25 off``, which :mod:`pipeline_core.builtin.hours` checks with ``opening-hours-py`` and
turns into rows. The reader is strict on purpose: every word of the text must be a
weekday, a month, a time, or a word of the language's small vocabulary (ranges, lists,
"every day", holidays, "closed", "from"); a text with any other word ("Consultar web
oficial", "según espectáculo", seasons) is not read, and the transform keeps it as text
and reports it. A wrong row is worse than a kept sentence.

Weekday and month names come from Babel's CLDR data (well kept, every language), with
the abbreviations and plurals feeds use added; the small words are ours.
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache

from babel import Locale

LANGUAGES = ("es", "ca", "pt", "en", "de", "fr", "it", "nl")
_OSM_DAYS = ("Mo", "Tu", "We", "Th", "Fr", "Sa", "Su")
_OSM_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

#: Per language: words joining a range, a list, meaning every day, public holidays,
#: closed, and words that carry no meaning here (from, open, hours, articles).
_WORDS: dict[str, dict[str, tuple[str, ...]]] = {
    "es": {
        "range": ("a", "al", "hasta", "-"),
        "list": ("y", "e", ",", "/"),
        "every": ("todos los dias", "diario", "diariamente", "cada dia", "lunes a domingo"),
        "holiday": ("festivos", "festivo", "dias festivos", "feriados"),
        "closed": ("cerrado", "cerrada", "cerrados", "descanso", "excepto"),
        "noise": ("de", "desde", "las", "los", "el", "la", "horas", "hora", "h", "hrs",
                  "abierto", "horario", "y de", "del", ":", "apertura"),
    },
    "ca": {
        "range": ("a", "al", "fins", "-"),
        "list": ("i", ",", "/"),
        "every": ("cada dia", "tots els dies", "diari"),
        "holiday": ("festius", "festiu", "dies festius"),
        "closed": ("tancat", "tancada", "tancats"),
        "noise": ("de", "del", "des", "les", "els", "el", "la", "h", "hores", "hora", "obert",
                  "horari", ":"),
    },
    "pt": {
        "range": ("a", "ao", "as", "ate", "-"),
        "list": ("e", ",", "/"),
        "every": ("todos os dias", "diariamente", "diario"),
        "holiday": ("feriados", "feriado"),
        "closed": ("encerrado", "fechado", "encerra"),
        "noise": ("de", "das", "dos", "do", "da", "h", "horas", "aberto", "horario", ":"),
    },
    "en": {
        "range": ("to", "till", "until", "-", "through", "thru"),
        "list": ("and", ",", "&", "/"),
        "every": ("daily", "every day", "7 days", "seven days a week", "7 days a week"),
        "holiday": ("bank holidays", "public holidays", "holidays", "bank holiday"),
        "closed": ("closed",),
        "noise": ("from", "open", "opening hours", "hours", "hrs", "the", "on", ":", "including"),
    },
    "de": {
        "range": ("bis", "-"),
        "list": ("und", ",", "/", "&"),
        "every": ("taglich", "jeden tag"),
        "holiday": ("feiertage", "feiertags", "feiertag", "an feiertagen"),
        "closed": ("geschlossen", "ruhetag"),
        "noise": ("von", "ab", "uhr", "geoffnet", "offnungszeiten", "am", ":", "h"),
    },
    "fr": {
        "range": ("a", "au", "-"),
        "list": ("et", ",", "/"),
        "every": ("tous les jours", "7j/7", "quotidien"),
        "holiday": ("jours feries", "feries", "ferie"),
        "closed": ("ferme", "fermee", "fermeture"),
        "noise": ("de", "du", "des", "le", "les", "h", "heures", "ouvert", "horaires", ":", "l'"),
    },
    "it": {
        "range": ("a", "al", "alle", "-"),
        "list": ("e", "ed", ",", "/"),
        "every": ("tutti i giorni", "ogni giorno", "tutto l'anno tutti i giorni"),
        "holiday": ("festivi", "giorni festivi", "festivo"),
        "closed": ("chiuso", "chiusa", "chiusura"),
        "noise": ("dal", "dalle", "da", "di", "il", "la", "ore", "h", "aperto", "orario", ":"),
    },
    "nl": {
        "range": ("tot", "t/m", "tm", "-"),
        "list": ("en", ",", "/", "&"),
        "every": ("dagelijks", "elke dag", "alle dagen"),
        "holiday": ("feestdagen", "feestdag"),
        "closed": ("gesloten",),
        "noise": ("van", "vanaf", "uur", "u", "open", "geopend", "openingstijden", ":", "op"),
    },
}  # fmt: skip

_TIME = re.compile(r"^(\d{1,2})(?:[:.h](\d{2}))?\s*(am|pm|a\.m\.|p\.m\.|h|uhr|u)?$", re.IGNORECASE)
_TOKEN = re.compile(r"\d{1,2}(?:[:.h]\d{2})?\s*(?:am|pm|a\.m\.|p\.m\.)?|[^\W\d_]+'?|[-,/&:;]")


def _fold(text: str) -> str:
    """Lower case without accents, dashes as ``-``: "Sábado" → "sabado"."""
    decomposed = unicodedata.normalize("NFD", text.lower())
    folded = "".join(c for c in decomposed if not unicodedata.combining(c))
    return folded.replace("\u2013", "-").replace("\u2014", "-").replace("t/m", "tm")


@cache
def _day_names(language: str) -> dict[str, int]:
    """Weekday names of ``language`` (CLDR wide, abbreviated and short, with plurals)."""
    locale = Locale.parse(language)
    names: dict[str, int] = {}
    for width in ("wide", "abbreviated", "short"):
        for context in ("format", "stand-alone"):
            for index, name in locale.days[context][width].items():
                key = _fold(name).rstrip(".")
                for form in {key, key.split("-")[0]}:  # "segunda-feira": "segunda" too
                    if len(form) >= 2:
                        names[form] = index
                        names[form + "s"] = index  # "domingos"
    return names


@cache
def _month_names(language: str) -> dict[str, int]:
    locale = Locale.parse(language)
    names: dict[str, int] = {}
    for width in ("wide", "abbreviated"):
        for context in ("format", "stand-alone"):
            for index, name in locale.months[context][width].items():
                key = _fold(name).rstrip(".")
                if len(key) >= 3:
                    names[key.removeprefix("de ")] = index
    return names


def _time(hour: int, minute: int, half: str | None) -> str | None:
    if half in ("pm", "p.m.") and hour < 12:
        hour += 12
    elif half in ("am", "a.m.") and hour == 12:
        hour = 0
    if hour > 24 or minute > 59:
        return None
    return f"{hour:02d}:{minute:02d}"


class _Reader:
    """Reads one text in one language; every method returns None when it cannot."""

    def __init__(self, language: str) -> None:
        self.language = language
        self.days = _day_names(language)
        self.months = _month_names(language)
        words = _WORDS[language]
        self.phrases = sorted(
            ((phrase, kind) for kind, group in words.items() for phrase in group),
            key=lambda item: -len(item[0].split()),
        )

    def tokens(self, clause: str) -> list[tuple[str, str]] | None:
        """(kind, text) tokens: day, month, number, time, range, list, every, holiday,
        closed; noise is dropped; None on a word the reader does not know."""
        raw = [m.group(0).strip() for m in _TOKEN.finditer(_fold(clause))]
        out: list[tuple[str, str]] = []
        i = 0
        while i < len(raw):
            for phrase, kind in self.phrases:
                parts = phrase.split()
                if raw[i : i + len(parts)] == parts:
                    if kind != "noise":
                        out.append((kind, phrase))
                    i += len(parts)
                    break
            else:
                word = raw[i]
                if word in self.days:
                    out.append(("day", str(self.days[word])))
                elif word in self.months:
                    out.append(("month", str(self.months[word])))
                elif word[0].isdigit():
                    out.append(("time", word))
                else:
                    return None
                i += 1
        return out

    def clause(self, clause: str) -> list[str] | None:
        """OSM rules of one clause, or None."""
        tokens = self.tokens(clause)
        if tokens is None:
            return None
        if not tokens:
            return []
        if tokens[0][0] == "closed" or (tokens[-1][0] == "closed" and len(tokens) > 1):
            body = tokens[1:] if tokens[0][0] == "closed" else tokens[:-1]
            return self.closed(body)
        rules: list[str] = []
        i = 0
        while i < len(tokens):
            days, i = self.day_spec(tokens, i)
            if days is None:
                return None
            times, i = self.time_spec(tokens, i)
            if times is None:
                return None
            rules.append(f"{days} {times}")
            if i < len(tokens) and tokens[i][0] == "list":
                i += 1
        return rules

    def day_spec(self, tokens: list[tuple[str, str]], i: int) -> tuple[str | None, int]:
        parts: list[str] = []
        while i < len(tokens):
            kind, text = tokens[i]
            if kind == "every":
                parts.append("Mo-Su")
                i += 1
            elif kind == "holiday":
                parts.append("PH")
                i += 1
            elif kind == "day":
                start = int(text)
                if (
                    i + 2 < len(tokens)
                    and tokens[i + 1][0] == "range"
                    and tokens[i + 2][0] == "day"
                ):
                    end = int(tokens[i + 2][1])
                    parts.append(f"{_OSM_DAYS[start]}-{_OSM_DAYS[end]}")
                    i += 3
                else:
                    parts.append(_OSM_DAYS[start])
                    i += 1
            else:
                break
            if (
                i < len(tokens)
                and tokens[i][0] == "list"
                and i + 1 < len(tokens)
                and tokens[i + 1][0] in ("day", "every", "holiday")
            ):
                i += 1
        if not parts:  # a time with no day: every day
            return ("Mo-Su" if i < len(tokens) and tokens[i][0] == "time" else None), i
        return ",".join(dict.fromkeys(parts)), i

    def time_spec(self, tokens: list[tuple[str, str]], i: int) -> tuple[str | None, int]:
        ranges: list[str] = []
        while (
            i + 2 < len(tokens)
            and tokens[i][0] == "time"
            and tokens[i + 1][0] == "range"
            and tokens[i + 2][0] == "time"
        ):
            start, end = self.time(tokens[i][1]), self.time(tokens[i + 2][1], after=True)
            if start is None or end is None:
                return None, i
            ranges.append(f"{start}-{end}")
            i += 3
            if i + 1 < len(tokens) and tokens[i][0] == "list" and tokens[i + 1][0] == "time":
                i += 1
        return (",".join(ranges) if ranges else None), i

    @staticmethod
    def time(text: str, after: bool = False) -> str | None:
        match = _TIME.match(text.replace(" ", ""))
        if not match:
            return None
        hour, minute = int(match[1]), int(match[2] or 0)
        return _time(hour, minute, (match[3] or "").lower() or None)

    def closed(self, tokens: list[tuple[str, str]]) -> list[str] | None:
        """``Cerrado 1 enero, 1 mayo y 25 diciembre``, ``fermé le lundi``."""
        dates: list[str] = []
        days: list[str] = []
        i = 0
        while i < len(tokens):
            kind, text = tokens[i]
            if (
                kind == "time"
                and text.isdigit()
                and i + 1 < len(tokens)
                and tokens[i + 1][0] == "month"
            ):
                dates.append(f"{_OSM_MONTHS[int(tokens[i + 1][1]) - 1]} {int(text):02d}")
                i += 2
            elif kind == "month" and i + 1 < len(tokens) and tokens[i + 1][1].isdigit():
                dates.append(f"{_OSM_MONTHS[int(text) - 1]} {int(tokens[i + 1][1]):02d}")
                i += 2
            elif kind in ("day", "holiday"):
                spec, i = self.day_spec(tokens, i)
                if spec is None:
                    return None
                days.append(spec)
            elif kind == "list":
                i += 1
            else:
                return None
        rules = [f"{d} off" for d in days]
        if dates:
            rules.append(",".join(dates) + " off")
        return rules or None


_CLAUSES = re.compile(r"(?<!\d)\.(?!\d)|;|\n|\|")


def text_to_osm(text: str, language: str | None = None) -> str | None:
    """The OSM ``opening_hours`` of free text in ``language`` (else each known language in
    turn, the first that reads every word), or None when it cannot be read."""
    order = [language] if language in LANGUAGES else list(LANGUAGES)
    for lang in order:
        reader = _Reader(lang)
        rules: list[str] = []
        for clause in _CLAUSES.split(text):
            found = reader.clause(clause)
            if found is None:
                break
            rules.extend(found)
        else:
            if rules:
                return "; ".join(rules)
    return None
