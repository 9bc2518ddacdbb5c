"""How well free text opening hours are read: right, kept as text, wrong, per language.

``python -m benchmarks.hours`` reads every value of the corpus in ``tests/data/hours``
(real free-text hours from public tourism open data, each with the OSM ``opening_hours``
a person wrote for it, or ``null`` when a careful reader keeps it as text: not opening
hours, appointments only, or hours nobody can settle from the words) with
:func:`pipeline_core.builtin.hours_text.text_to_osm`, in the value's language (``--detect``:
no language given, the reader finds it). A value is

- **right** when it states hours and is read to what its expected string means (the same
  open and closed intervals through 2024 and 2025, a leap year and the next, by
  ``opening-hours-py``);
- **kept** when the reader gives nothing back (the transform keeps it as text);
- **wrong** when it is read to anything else, or read at all when it is not hours.

The shares of ``right`` are of the values that state hours; ``kept`` and ``wrong`` are of
all values. Pure parsing: no database, no network.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

import opening_hours

from pipeline_core.builtin.hours_text import text_to_osm

CORPUS = Path(__file__).resolve().parent.parent / "tests" / "data" / "hours"
_YEAR = (datetime(2024, 1, 1), datetime(2026, 1, 1))  # a leap year and the next


def load(folder: Path = CORPUS) -> list[dict[str, Any]]:
    """Every value of every ``*.jsonl`` file of the corpus, in file order."""
    values: list[dict[str, Any]] = []
    for path in sorted(folder.glob("*.jsonl")):
        with path.open(encoding="utf-8") as lines:
            values.extend({**json.loads(line), "file": path.name} for line in lines)
    return values


@cache
def _intervals(osm: str) -> tuple[tuple[datetime, datetime, str], ...]:
    merged: list[tuple[datetime, datetime, str]] = []
    for start, end, state, _ in opening_hours.OpeningHours(osm).intervals(*_YEAR):
        if merged and merged[-1][2] == str(state) and merged[-1][1] == start:
            merged[-1] = (merged[-1][0], end, str(state))
        else:
            merged.append((start, end, str(state)))
    return tuple(merged)


def same_hours(got: str, expected: str) -> bool:
    """Whether two OSM strings open and close at the same moments through 2024 and 2025."""
    if str(opening_hours.OpeningHours(got)) == str(opening_hours.OpeningHours(expected)):
        return True
    return _intervals(got) == _intervals(expected)


def judge(value: dict[str, Any], detect: bool = False) -> tuple[str, str | None]:
    """(``right`` | ``kept`` | ``wrong``, what the reader gave) for one corpus value."""
    got = text_to_osm(value["text"], None if detect else value["language"])
    expected = value["expected"]
    if got is None:
        return ("kept" if expected is not None else "right"), None
    if expected is None:
        return "wrong", got
    return ("right" if same_hours(got, expected) else "wrong"), got


@dataclass
class Figures:
    """The counts of one language (or of all)."""

    values: int = 0
    hours: int = 0
    right: int = 0
    kept: int = 0
    wrong: int = 0

    def share(self, count: int, of: int) -> float:
        return 100.0 * count / of if of else 0.0


def score(values: Iterable[dict[str, Any]], detect: bool = False) -> dict[str, Figures]:
    """Figures per language and under ``"all"``; ``right`` counts hours values only."""
    figures: dict[str, Figures] = {}
    for value in values:
        outcome, _ = judge(value, detect)
        for key in (value["language"], "all"):
            row = figures.setdefault(key, Figures())
            row.values += 1
            if value["expected"] is not None:
                row.hours += 1
                row.right += outcome == "right"
            row.kept += outcome == "kept"
            row.wrong += outcome == "wrong"
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--detect", action="store_true", help="give the reader no language")
    parser.add_argument("--show", choices=("wrong", "kept"), help="list those values")
    parser.add_argument("--json", action="store_true", help="figures and outcomes as JSON")
    args = parser.parse_args(argv)
    values = load()
    figures = score(values, args.detect)
    if args.json:
        outcomes = [
            {"file": v["file"], "id": v["id"], "outcome": judge(v, args.detect)[0]} for v in values
        ]
        figures_out = {key: vars(row) for key, row in figures.items()}
        print(json.dumps({"figures": figures_out, "outcomes": outcomes}))
        return 0
    print(f"{'language':<9}{'values':>7}{'hours':>7}{'read right':>16}{'kept as text':>16}"
          f"{'read wrong':>14}")  # fmt: skip
    for language, row in sorted(figures.items(), key=lambda item: item[0] == "all"):
        print(
            f"{language:<9}{row.values:>7}{row.hours:>7}"
            f"{row.right:>7} {row.share(row.right, row.hours):>6.1f} %"
            f"{row.kept:>7} {row.share(row.kept, row.values):>6.1f} %"
            f"{row.wrong:>5} {row.share(row.wrong, row.values):>6.1f} %"
        )
    files = Counter(value["file"] for value in values)
    print("files: " + ", ".join(f"{name} ({count})" for name, count in sorted(files.items())))
    if args.show:
        for value in values:
            outcome, got = judge(value, args.detect)
            if outcome == args.show:
                print(f"\n{value['file']} {value['id']}: {value['text']}\n  read:     {got}"
                      f"\n  expected: {value['expected']}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
