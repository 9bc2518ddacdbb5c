"""What a draft proposes (:class:`Plan`), and the state the field rules share (:class:`Base`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pipeline_core.drafting.columns import Column, Columns
from pipeline_core.drafting.lexicon import names, names_exactly


@dataclass
class Proposal:
    """One line of the draft: target, field spec, why."""

    target: str
    spec: Any
    why: str
    paths: list[str] = field(default_factory=list)


@dataclass
class Plan:
    """Everything the draft proposes."""

    id_path: str | None = None
    key_paths: list[str] = field(default_factory=list)
    id_why: str = ""
    defaults: dict[str, str] = field(default_factory=dict)
    defaults_why: list[str] = field(default_factory=list)
    fields: list[Proposal] = field(default_factory=list)
    undecided: list[str] = field(default_factory=list)
    unmapped: list[tuple[str, str]] = field(default_factory=list)

    def add(self, target: str, spec: Any, why: str, paths: list[str]) -> None:
        """Propose ``spec`` for ``target``."""
        self.fields.append(Proposal(target, spec, why, paths))

    def has(self, target: str) -> bool:
        """True when ``target`` (or a part of it) is proposed."""
        return any(p.target == target or p.target.startswith(target + ".") for p in self.fields)


def pct(x: float) -> str:
    """``0.987`` → ``99 %``."""
    return f"{round(x * 100)} %"


class Base:
    """The sample's columns and what the rules decided so far; helpers the rules share."""

    _country_candidates: list[str] | None = None
    _key_later = False

    def __init__(self, columns: Columns, fmt: str, name: str) -> None:
        self.columns = columns
        self.fmt = fmt
        self.name = name
        self.used: set[str] = set()
        self.plan = Plan()
        self.country: str | None = None
        self.language: str | None = None

    # -- helpers -------------------------------------------------------------------------

    def scalar_columns(self) -> list[Column]:
        """Columns of scalar values not used yet, in record order."""
        out = []
        for column in self.columns.ordered():
            if column.path in self.used or column.is_list_of_objects:
                continue
            present = column.present
            if present and all(not isinstance(v, dict | list) for v in present):
                out.append(column)
        return out

    def use(self, *paths: str) -> None:
        """Mark paths (and the parts below them) as mapped."""
        for path in paths:
            self.used.add(path)
            for other in self.columns.by_path:
                if other.startswith(path + "."):
                    self.used.add(other)

    def named(self, target: str, exact_first: bool = True) -> list[Column]:
        """Unused scalar columns whose key names ``target``, exact names first."""
        found = self.preferred([c for c in self.scalar_columns() if names(c.path, target)])
        if exact_first:
            found.sort(key=lambda c: (not names_exactly(c.path, target), c.order))
        return found

    def variant_tag(self, path: str) -> str | None:
        """The language tag of the path when it runs through an object of languages."""
        for prefix, tags in self.columns.i18n.items():
            if path.startswith(prefix + "."):
                tag = path[len(prefix) + 1 :].split(".", 1)[0]
                if tag in tags:
                    return tag
        return None

    def preferred(self, found: list[Column]) -> list[Column]:
        """Of columns under objects of languages, only the default language's variant."""
        if not self.language:
            return found
        return [
            c for c in found if (tag := self.variant_tag(c.path)) is None or tag == self.language
        ]

    # -- the decisions -------------------------------------------------------------------
