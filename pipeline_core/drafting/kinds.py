"""Which record is which, and what kind: ids and derived keys, the category, JSON-LD
defaults, and what is left unmapped."""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

from pipeline_core.builtin.taxonomy import to_category
from pipeline_core.drafting.columns import looks_like_url
from pipeline_core.drafting.lexicon import fold, id_like, key_of, names, names_exactly
from pipeline_core.drafting.plan import Base, Proposal
from pipeline_core.exceptions import PartialTransformError
from pipeline_core.stages.repeats import is_empty

_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


class KindRules(Base):
    """Id or key, category, JSON-LD overrides and the unmapped rest."""

    def identity(self) -> None:
        """The id: unique in the sample, short, named like one (else a derived key later)."""
        plan = self.plan
        n = self.columns.count
        candidates = []
        if self.fmt == "jsonld":
            self.plan.id_why = "the jsonld fetcher's default mapping reads @id"
            return
        repeats = self.columns.repeats
        n -= len(repeats)
        for column in self.scalar_columns():
            # a record listed twice, whole, says its id twice: count it once
            texts = [
                str(v).strip()
                for i, v in enumerate(column.values)
                if i not in repeats and not is_empty(v) and not isinstance(v, dict | list)
            ]
            if len(texts) < max(1, int(0.99 * n)) or len(set(texts)) != len(texts):
                continue
            if any(part.isdigit() for part in column.path.split(".")):
                continue  # inside a list: not the record's own id
            longest = max(len(t) for t in texts)
            if longest > 100 or (any(" " in t for t in texts) and not id_like(column.path)):
                continue
            score = (
                0
                if names_exactly(column.path, "id")
                else 1
                if id_like(column.path) or all(_UUID.match(t) for t in texts)
                else 2,
                column.path.count("."),
                1 if looks_like_url(texts[0]) else 0,
                column.order,
            )
            candidates.append((score, column))
        candidates.sort(key=lambda sc: sc[0])
        named = [c for s, c in candidates if s[0] < 2]
        if named:
            best = named[0]
            plan.id_path = best.path
            plan.id_why = (
                f"{best.path} is named like an id and is unique in all {n} sampled records"
                if id_like(best.path)
                else f"{best.path} holds UUIDs, unique in all {n} sampled records"
            )
            if repeats:
                plan.id_why += f" ({len(repeats)} more repeat an earlier record whole)"
            if len(named) > 1:
                plan.undecided.append(
                    f"id: {len(named)} candidate ids, unique and named so: "
                    + ", ".join(c.path for c in named[:4])
                    + f"; {best.path} taken"
                )
            self.use(best.path)
            return
        self._key_later = True

    def _derived_key(self) -> None:
        plan = self.plan
        name = next((p for p in self.plan.fields if p.target in ("name", "name.en")), None)
        parts: list[str] = []
        if name is not None and name.paths:
            parts.append(name.paths[0])
        for target in ("location.locality", "location.region"):
            prop = next((p for p in plan.fields if p.target == target), None)
            if prop is not None and prop.paths:
                parts.append(prop.paths[0])
        if not parts:
            plan.undecided.append("id: no unique column and no name to derive a key from")
            plan.key_paths = [self.columns.ordered()[0].path]
            plan.id_why = "NO ID FOUND: the first column, to be replaced"
            return
        seen: Counter[str] = Counter()
        for i in range(self.columns.count):
            key = "|".join(
                " ".join(str(self.columns.by_path[p].values[i] or "").split()) for p in parts
            )
            seen[key] += 1
        repeats = sum(c - 1 for c in seen.values() if c > 1)
        plan.key_paths = parts
        plan.id_why = (
            "no column is unique in the sample: a key derived from "
            + ", ".join(parts)
            + (f"; {repeats} sampled rows repeat a key (merged by on_repeat)" if repeats else "")
        )
        if repeats:
            plan.undecided.append(f"key: {repeats} sampled rows repeat the derived key")

    def category(self) -> None:
        """The category: events by their dates, a small closed set of values mapped onto the
        taxonomy (unknown ones listed), else the source's name."""
        plan = self.plan
        if self.fmt == "jsonld":
            return  # the jsonld fetcher's default mapping reads @type
        if self._looks_like_events():
            plan.add(
                "category", {"const": "event"}, "the records have start and end dates: events", []
            )
            return
        n = self.columns.count
        from_name = self._category_from_name()
        unknown_only: Proposal | None = None
        for column in [*self.named("category"), *self.scalar_columns()]:
            if column.path in self.used:
                continue
            texts = column.texts()
            distinct = sorted(set(texts))
            if not texts or len(distinct) > max(12, n // 5):
                continue
            if not names(column.path, "category") and len(distinct) < 2:
                continue
            known: dict[str, str] = {}
            unknown: list[str] = []
            for value in distinct:
                try:
                    known[value] = to_category(value)
                except PartialTransformError:
                    unknown.append(value)
            if not known:
                if names(column.path, "category") and unknown_only is None and len(distinct) > 1:
                    unknown_only = Proposal(
                        "category",
                        {"from": column.path, "map": {}, "map_default": "other"},
                        f"{column.path} holds {len(distinct)} values, none in the taxonomy",
                        [column.path],
                    )
                continue
            cats = set(known.values())
            covered = sum(1 for t in texts if t in known) / len(texts)
            if len(cats) == 1 and (covered >= 0.3 or from_name in cats):
                default = next(iter(cats))
            else:
                default = from_name or "other"
            spec: dict[str, Any] = {"from": column.path, "map": known, "map_default": default}
            why = (
                f"{column.path} holds {len(distinct)} distinct values; "
                f"{len(known)} map onto the taxonomy"
            )
            if unknown:
                why += f"; the others (→ {default}): {', '.join(unknown[:8])}"
                plan.undecided.append(
                    f"category: {len(unknown)} values of {column.path} not in the taxonomy "
                    f"(→ {default}): {', '.join(unknown[:8])}"
                )
            plan.add("category", spec, why, [column.path])
            self.use(column.path)
            return
        if from_name:
            plan.add(
                "category",
                {"const": from_name},
                f"the source's name ({self.name}) says {from_name}",
                [],
            )
        elif unknown_only is not None:
            plan.fields.append(unknown_only)
            plan.undecided.append(f"category: {unknown_only.why}; map them by hand")
            self.use(*unknown_only.paths)
        else:
            plan.add(
                "category", {"const": "other"}, "NOTHING says what the listings are: set it", []
            )
            plan.undecided.append("category: no column or name says what the listings are")

    def _looks_like_events(self) -> bool:
        # a listing's validity dates in a few records do not make it an event
        keys = {
            fold(key_of(p)).replace("_", "")
            for p, column in self.columns.by_path.items()
            if column.fill >= 0.5
        }
        starts = any(
            k.startswith(
                ("datebegin", "startdate", "datestart", "dtstart", "begindate", "fechainicio")
            )
            for k in keys
        )
        ends = any(k.startswith(("dateend", "enddate", "dtend", "fechafin")) for k in keys)
        return (starts and ends) or "eventdate" in keys

    def _category_from_name(self) -> str | None:
        folded = fold(self.name)
        table = (
            ("event", ("event", "agenda", "veranstalt", "evenement", "evento")),
            (
                "lodging",
                (
                    "lodging",
                    "logies",
                    "hotel",
                    "accommodation",
                    "unterkunft",
                    "alojamiento",
                    "hebergement",
                    "alloggi",
                    "ricettiv",
                ),
            ),
            ("restaurant", ("restaurant", "gastro", "eten", "food")),
            ("service", ("oficina", "office", "touristinfo", "visitor")),
            ("tour", ("sightseeing", "rundfahrt")),
            (
                "attraction",
                (
                    "attraction",
                    "attractie",
                    "attrazion",
                    "atracci",
                    "sight",
                    "sehensw",
                    "monument",
                    "museum",
                    "museo",
                    "poi",
                ),
            ),
        )
        for category, stems in table:
            if any(stem in folded for stem in stems):
                return category
        return None

    def jsonld_overrides(self) -> None:
        """Keep the ``jsonld`` fetcher's default mapping; override only what it leaves as
        published: phones (to E.164 in the region) and opening hours (to rows)."""
        kept = []
        for prop in self.plan.fields:
            if prop.target == "contact.phone":
                prop.spec = {
                    "from": ["telephone", "hasContact.0.telephone"],
                    "transform": ["first", {"phone": {"invalid": "keep"}}],
                }
                prop.why += "; read in E.164 (the default mapping keeps them as text)"
                kept.append(prop)
        if not any(p.target == "contact.phone" for p in kept) and any(
            fold(column.path.split(".")[-1]) == "telephone" for column in self.columns.ordered()
        ):
            kept.append(
                Proposal(
                    "contact.phone",
                    {
                        "from": ["telephone", "hasContact.0.telephone"],
                        "transform": ["first", {"phone": {"invalid": "keep"}}],
                    },
                    "the items have telephones: read in E.164 "
                    "(the default mapping keeps them as text)",
                    [],
                )
            )
        for column in self.columns.ordered():
            last = column.path.split(".")[-1]
            if fold(last) == "openinghoursspecification" and not kept_hours(kept):
                kept.append(
                    Proposal(
                        "$",
                        {"from": column.path, "transform": "opening_hours"},
                        f"{column.path} holds schema.org opening hours: "
                        "rows, dates and an OSM string",
                        [column.path],
                    )
                )
                self.plan.fields = [p for p in self.plan.fields if p.target != "opening_hours"]
                kept.append(
                    Proposal("opening_hours", {"const": None}, "replaced by the $ line below", [])
                )
                break
        self.plan.fields = kept
        self.use(*[p for prop in kept for p in prop.paths])

    def leftovers(self) -> None:
        """Source paths with values that nothing maps, for the draft's last comment."""
        for column in self.scalar_columns():
            if any(column.path.startswith(u + ".") for u in self.used):
                continue
            texts = column.texts()
            if texts:
                example = texts[0][:40]
                self.plan.unmapped.append((column.path, example))
        for column in self.columns.ordered():
            if column.is_list_of_objects and column.path not in self.used:
                self.plan.unmapped.append((column.path, f"a list of {len(column.present)} objects"))


def kept_hours(proposals: list[Proposal]) -> bool:
    """True when an opening-hours proposal is among ``proposals``."""
    return any(p.target == "$" for p in proposals)
