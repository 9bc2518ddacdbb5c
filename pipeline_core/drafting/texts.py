"""What the listings are called and say: names, descriptions (per language), hours, the language."""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

from pipeline_core.builtin.transforms import to_date, to_time, weekday
from pipeline_core.drafting.columns import Column, looks_like_url
from pipeline_core.drafting.lexicon import fold, names, names_exactly
from pipeline_core.drafting.plan import Base, pct
from pipeline_core.drafting.values import (
    COUNTRY_LANGUAGE,
    is_html,
    language_of,
    reads_as_hours,
    share,
)

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")
#: Compound keys of descriptions: ``longdescription``, ``Kurzbeschreibung``.
_DESCRIPTION_ENDS = ("description", "beschreibung", "omschrijving", "descripcion", "descrizione")
#: Starts of the key of a short description: ``shortdescription``, ``Kurzbeschreibung``.
#: Values of a column read before the rest: when too few of them read as hours, none do.
_SCREEN = 10
_SHORT = ("short", "kurz", "court", "breve", "kort", "corta", "summary")


class TextRules(Base):
    """Names, descriptions, opening hours and the default language."""

    def i18n_texts(self) -> None:
        """Objects keyed by language: ``Detail.de.Title`` → ``name`` for every language."""
        for path, tags in self.columns.i18n.items():
            if path in self.used:
                continue
            subkeys: Counter[str] = Counter()
            for tag in tags:
                prefix = f"{path}.{tag}."
                for other in self.columns.by_path:
                    if other.startswith(prefix) and "." not in other[len(prefix) :]:
                        subkeys[other[len(prefix) :]] += 1
            if subkeys:
                for target, wanted in (("name", "name"), ("description", "description")):
                    if self.plan.has(target):
                        continue
                    if target == "description":
                        keys = self._description_keys(path, tags, list(subkeys))
                    else:
                        keys = [
                            k
                            for k in sorted(
                                subkeys, key=lambda k: (not names_exactly(k, wanted), k)
                            )
                            if names(k, wanted)
                        ][:1]
                    for each, key in zip((target, "short_description"), keys, strict=False):
                        self._add_i18n_text(each, path, tags, key)
            else:
                for target in ("name", "description"):
                    if not self.plan.has(target) and names(path, target):
                        self.plan.add(
                            target,
                            {"from": path, "transform": "languages"},
                            f"{path} holds text per language ({', '.join(tags)})",
                            [path],
                        )
                        self._i18n_language(path, tags, None)
                        self.use(path)

    def _add_i18n_text(self, target: str, path: str, tags: list[str], key: str) -> None:
        html = any(is_html(t) for t in self._texts_under(path, tags, key))
        args: dict[str, Any] = {"key": key}
        if html:
            args["html"] = True
        self.plan.add(
            target,
            {"from": path, "transform": {"languages": args}},
            f"{path} holds text per language ({', '.join(tags)}) under {key}",
            [path],
        )
        self._i18n_language(path, tags, key)
        for tag in tags:
            self.use(f"{path}.{tag}.{key}")

    def _description_keys(self, path: str, tags: list[str], keys: list[str]) -> list[str]:
        """The key of the description under each language, then that of a short one when
        there are two (``longdescription`` and ``shortdescription``): the longer text is
        the description."""
        found = [
            k
            for k in keys
            if (names(k, "description") or fold(k).endswith(_DESCRIPTION_ENDS))
            and self._long_text(path, tags, k)
        ]
        if len(found) < 2:
            return found[:1]

        def mean(key: str) -> float:
            texts = self._texts_under(path, tags, key)
            return sum(len(t) for t in texts) / len(texts)

        found.sort(key=lambda k: (-mean(k), not names_exactly(k, "description"), k))
        short = next((k for k in found[1:] if fold(k).startswith(_SHORT)), None)
        return [found[0], short] if short else found[:1]

    def _texts_under(self, path: str, tags: list[str], key: str) -> list[str]:
        out = []
        for tag in tags:
            column = self.columns.by_path.get(f"{path}.{tag}.{key}")
            if column is not None:
                out.extend(column.texts())
        return out

    def _long_text(self, path: str, tags: list[str], key: str) -> bool:
        texts = self._texts_under(path, tags, key)
        return bool(texts) and sum(len(t) for t in texts) / len(texts) >= 40

    def _i18n_language(self, path: str, tags: list[str], key: str | None) -> None:
        if self.language:
            return
        counts = {}
        for tag in tags:
            column = self.columns.by_path.get(f"{path}.{tag}.{key}" if key else f"{path}.{tag}")
            counts[tag] = len(column.present) if column else 0
        home = COUNTRY_LANGUAGE.get(self.country or "")
        best = max(tags, key=lambda t: (counts[t], t == home, -tags.index(t)))
        self.language = best.split("-")[0].split("_")[0].lower()
        self.plan.defaults_why.append(
            f"language {self.language}: the language {path} has most often ({counts[best]} records)"
        )

    def hours(self) -> None:
        """Opening hours: rows (weekday and times, or dates), else text the hours reader reads."""
        if self._hour_rows():
            return
        for column in self.scalar_columns():
            texts = column.texts()
            if not texts:
                continue
            named = names(column.path, "hours")
            # the reader is slow: a column none of whose first values read is no hours
            if not named and share(texts[:_SCREEN], self._reads_as_hours) < 0.2:
                continue
            ok = share(texts, self._reads_as_hours)
            if named or ok >= 0.5:
                self.plan.add(
                    "$",
                    {"from": column.path, "transform": "opening_hours"},
                    f"{pct(ok)} of the values read as opening hours"
                    + ("; the rest are kept as published (opening_hours_text)" if ok < 1 else ""),
                    [column.path],
                )
                self.use(column.path)
                return

    def _reads_as_hours(self, text: str) -> bool:
        return reads_as_hours(text, self.language)

    def _hour_rows(self) -> bool:
        """A list of objects with a weekday and two times: ``opening_hours`` rows."""
        for column in self.columns.ordered():
            if not column.is_list_of_objects or column.path in self.used:
                continue
            prefix = column.path + ".0."
            subs = [c for c in self.columns.item_fields(column) if c.texts()]
            days = [
                c
                for c in subs
                if share(c.texts(), _is_weekday) >= 0.9
                and (share(c.texts(), str.isdigit) < 0.5 or _day_key(c.path))
            ]
            times = [c for c in subs if share(c.texts(), _is_time) >= 0.9]
            dates = [c for c in subs if share(c.texts(), _is_date) >= 0.9]
            if dates and not days:
                self._date_rows(column, prefix, dates, times)
                return True
            if not days or len(times) < 2:
                continue
            opens, closes = _start_first([c.path[len(prefix) :] for c in times])[:2]
            day = days[0].path[len(prefix) :]
            self.plan.add(
                "opening_hours",
                {
                    "each": column.path,
                    "fields": {
                        "weekday": {"from": day, "transform": "weekday"},
                        "opens": {"from": opens, "transform": "time"},
                        "closes": {"from": closes, "transform": "time"},
                    },
                },
                f"{column.path} is a list of rows with a weekday ({day}) and two times "
                f"({opens}, {closes})",
                [column.path],
            )
            self.use(column.path)
            return True
        return False

    def _date_rows(
        self, column: Column, prefix: str, dates: list[Column], times: list[Column]
    ) -> None:
        """A list of objects with dates (and times): ``opening_dates`` rows."""
        keys = _start_first([c.path[len(prefix) :] for c in dates])[:2]
        fields: dict[str, Any] = {"date": {"from": keys[0], "transform": "date"}}
        if len(keys) > 1:
            fields["end_date"] = {"from": keys[1], "transform": "date"}
        clock = _start_first([c.path[len(prefix) :] for c in times])[:2]
        for target, key in zip(("opens", "closes"), clock, strict=False):
            fields[target] = {"from": key, "transform": "time"}
        self.plan.add(
            "opening_dates",
            {"each": column.path, "fields": fields},
            f"{column.path} is a list of rows with dates ({', '.join(keys)})"
            + (f" and times ({', '.join(clock)})" if clock else ""),
            [column.path],
        )
        self.use(column.path)

    def texts(self) -> None:
        """The name (named so, or the first short, distinct text) and the description (named
        so, or long running text)."""
        plan = self.plan
        n = self.columns.count
        if not plan.has("name"):
            named = [
                c
                for c in self.named("name")
                if share(c.texts(), lambda t: not looks_like_url(t)) >= 0.9
            ]
            named = [c for c in named if c.fill >= 0.9 and _distinct(c) >= 0.3]
            named.sort(key=lambda c: (not names_exactly(c.path, "name"), -_distinct(c), c.order))
            if not named:
                named = [
                    c
                    for c in self.scalar_columns()
                    if c.fill >= 0.95
                    and len(set(c.texts())) >= 0.8 * len(c.texts())
                    and 3 <= sum(len(t) for t in c.texts()) / len(c.texts()) <= 100
                    and share(
                        c.texts(), lambda t: any(ch.isalpha() for ch in t) and not looks_like_url(t)
                    )
                    >= 0.95
                ]
                why = "the first text column whose values are mostly distinct and short"
            else:
                why = (
                    f"{named[0].path} is named like a name "
                    f"and filled in {pct(named[0].fill)} of the records"
                )
            if named:
                column = named[0]
                plan.add(
                    "name",
                    {"from": column.path, "transform": "text", "required": True},
                    why,
                    [column.path],
                )
                self.use(column.path)
                if len(named) > 1 and names_exactly(named[1].path, "name"):
                    plan.undecided.append(f"name: also named so: {named[1].path}")
            else:
                plan.undecided.append("name: no column looks like the listing's name")
        if not plan.has("description"):
            # of the columns named so, the one that says most (DESCRIPCION-ENTIDAD, not the
            # DESCRIPCION of notes beside it); exact names first among equals
            described = sorted(
                self.named("description"), key=lambda c: -sum(len(t) for t in c.texts())
            )
            for column in described:
                texts = column.texts()
                if texts and sum(len(t) for t in texts) / len(texts) >= 30:
                    html = share(texts, is_html) > 0.1
                    plan.add(
                        "description",
                        {"from": column.path, "transform": "html_text" if html else "text"},
                        f"{column.path} holds long text" + (" with HTML" if html else ""),
                        [column.path],
                    )
                    self.use(column.path)
                    break
        if not plan.has("description"):
            for column in self.scalar_columns():
                texts = column.texts()
                if (
                    column.fill >= 0.5
                    and texts
                    and sum(len(t) for t in texts) / len(texts) >= 80
                    and len(set(texts)) >= 0.5 * len(texts)
                    and share(texts, lambda t: " " in t and not looks_like_url(t)) >= 0.95
                    and share(texts, _is_list) < 0.5
                ):
                    html = share(texts, is_html) > 0.1
                    plan.add(
                        "description",
                        {"from": column.path, "transform": "html_text" if html else "text"},
                        f"{column.path} holds long running text "
                        f"({sum(len(t) for t in texts) // len(texts)} characters on average)",
                        [column.path],
                    )
                    self.use(column.path)
                    break
        del n

    def language_default(self) -> None:
        """``defaults``: the language (of the text, or the country's), country and phone region."""
        plan = self.plan
        if not self.language:
            texts: list[str] = []
            described = False
            for prop in plan.fields:
                if prop.target in ("name", "description") and prop.paths:
                    column = self.columns.by_path.get(prop.paths[0])
                    if column is not None:
                        texts.extend(column.texts())
                        described = described or prop.target == "description"
            lang, hits = language_of(texts)
            fallback = COUNTRY_LANGUAGE.get(self.country or "")
            # names alone are proper names: a few English words among hundreds of hotels'
            # names ("City", "the") say less than the country does
            enough = 10 if described else max(10, self.columns.count // 10)
            if lang and hits >= enough:
                self.language = lang
                plan.defaults_why.append(
                    f"language {lang}: {hits} words of the names and descriptions are {lang}"
                )
            elif fallback:
                self.language = fallback
                plan.defaults_why.append(
                    f"language {fallback}: the language of {self.country} "
                    "(the text says too little)"
                )
                plan.undecided.append(
                    f"language: the text says too little; {fallback} from the country"
                )
            else:
                plan.undecided.append("language: could not tell; en assumed")
                self.language = "en"
        plan.defaults["language"] = self.language
        if self.country:
            plan.defaults["country"] = self.country
            plan.defaults["phone_region"] = self.country
        else:
            plan.undecided.append("country: no coordinates to place the listings")


def _is_list(text: str) -> bool:
    """A list of short items, not running text: ``Ascensore,Ristorante,Bar,Parco o giardino``."""
    items = [i.strip() for i in text.split(",")]
    return (
        len(items) >= 4
        and all(len(i) <= 50 for i in items)
        and sum(len(i) for i in items) <= 30 * len(items)
    )


def _is_weekday(text: str) -> bool:
    return weekday(text) >= 0


def _is_time(text: str) -> bool:
    return bool(to_time(text))


def _is_date(text: str) -> bool:
    return bool(_ISO_DATE.match(text)) and bool(to_date(text))


def _day_key(path: str) -> bool:
    """A key that says it holds a weekday (``day``, ``Wochentag``, ``dia``, ``jour``)."""
    folded = fold(path.rsplit(".", 1)[-1])
    return any(w in folded for w in ("day", "tag", "dia", "jour", "giorn", "dag"))


_STARTS = ("from", "begin", "start", "open", "von", "debut", "inicio", "desde", "dal", "van")
_ENDS = ("to", "end", "until", "close", "bis", "fin", "hasta", "al", "tot")


def _start_first(keys: list[str]) -> list[str]:
    """The key naming a start (``From``, ``Begin``, ``opens``) then the one naming an end
    (``To``, ``End``, ``closes``); keys naming neither fill in, in their order."""

    def rank(key: str) -> int:
        word = fold(key)
        if word.startswith(_STARTS):
            return 0
        if word.startswith(_ENDS):
            return 2
        return 1

    starts = [k for k in keys if rank(k) == 0]
    ends = [k for k in keys if rank(k) == 2]
    rest = [k for k in keys if rank(k) == 1]
    first = (starts + rest + ends)[:1]
    second = [k for k in ends + rest + starts if k not in first][:1]
    return first + second


def _distinct(column: Column) -> float:
    """Share of distinct values among a column's values."""
    texts = column.texts()
    return len(set(texts)) / len(texts) if texts else 0.0
