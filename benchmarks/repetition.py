"""How often values repeat in a feed: distinct values over values, per field.

``python -m benchmarks.repetition [--listings N]`` reads the bundled real feeds
(``mappings/samples/``: Open Data Hub events, Fáilte Ireland attractions, the DATAtourisme
point of interest) and the ingest benchmark's generated feed (:mod:`benchmarks.datagen`),
and prints, for each field path that holds text or numbers (list items under ``[]``), how
many non-empty values it has, how many of them are distinct, and their ratio. The lower the
ratio, the more a per-crawl cache of a pure transform of that field saves
(:mod:`pipeline_core.mapping.memo`). ``docs/explanation/ingest-speed.md`` reads the
figures.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections import defaultdict
from collections.abc import Iterable, Iterator
from typing import Any

from benchmarks import datagen
from benchmarks._harness import ROOT

SAMPLES = ROOT / "mappings" / "samples"

#: The field paths shown per feed (the kinds of value the issue names: phones, opening
#: hours, categories, HTML, dates), as (label, path).
SHOWN: dict[str, tuple[tuple[str, str], ...]] = {
    "odh-events": (
        ("phone", "ContactInfos.de.Phonenumber"),
        ("HTML description (de)", "Detail.de.BaseText"),
        ("HTML description (it)", "Detail.it.BaseText"),
        ("category (topic)", "Topics[].TopicInfo"),
        ("event date", "EventDate[].From"),
        ("event start time", "EventDate[].Begin"),
        ("event end time", "EventDate[].End"),
        ("organiser", "OrganizerInfos.de.CompanyName"),
        ("locality", "LocationInfo.MunicipalityInfo.Name.de"),
    ),
    "failte-ireland-attractions": (
        ("phone", "Telephone"),
        ("website", "Url"),
        ("locality", "AddressLocality"),
        ("county", "AddressRegion"),
        ("name", "Name"),
    ),
    "datatourisme-poi": (
        ("opening day", "isLocatedAt[].schema:openingHoursSpecification[].schema:dayOfWeek[]"),
        ("opens", "isLocatedAt[].schema:openingHoursSpecification[].schema:opens"),
        ("closes", "isLocatedAt[].schema:openingHoursSpecification[].schema:closes"),
        ("valid from", "isLocatedAt[].schema:openingHoursSpecification[].schema:validFrom"),
    ),
    datagen.SOURCE: (
        ("phone", "contact.phone"),
        ("HTML description (de)", "description.de"),
        ("HTML description (en)", "description.en"),
        ("category spelling", "type"),
        ("opening day", "hours[].day"),
        ("opens", "hours[].open"),
        ("closes", "hours[].close"),
        ("event date", "dates[].start"),
        ("event start time", "dates[].time"),
        ("name (de)", "name.de"),
    ),
}


def leaves(value: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """(path, value) of every non-empty scalar in ``value``; list items under ``[]``."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from leaves(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for item in value:
            yield from leaves(item, f"{path}[]")
    elif value is not None and not (isinstance(value, str) and not value.strip()):
        yield path, value


def repetition(records: Iterable[Any]) -> dict[str, tuple[int, int]]:
    """Per field path: (non-empty values, distinct values)."""
    values: dict[str, list[Any]] = defaultdict(list)
    for record in records:
        for path, value in leaves(record):
            values[path].append((type(value).__name__, value))
    return {path: (len(found), len(set(found))) for path, found in values.items()}


def real_feeds() -> dict[str, list[Any]]:
    """The records of the bundled real feeds, as their fetchers read them."""
    odh = json.loads((SAMPLES / "odh-events" / "events-100.json").read_text("utf-8"))["Items"]
    with (SAMPLES / "failte-ireland-attractions" / "attractions.csv").open(
        encoding="utf-8", newline=""
    ) as rows:
        failte = list(csv.DictReader(rows))
    poi_files = sorted((SAMPLES / "datatourisme-poi").glob("*.json"))
    poi = [json.loads(path.read_text("utf-8")) for path in poi_files]
    return {"odh-events": odh, "failte-ireland-attractions": failte, "datatourisme-poi": poi}


def print_feed(name: str, records: list[Any]) -> None:
    """One table: the feed's shown fields, values, distinct values and their ratio."""
    found = repetition(records)
    print(f"{name}: {len(records):,} records")
    print(f"  {'field':<24} {'values':>8} {'distinct':>8} {'ratio':>6}  path")
    for label, path in SHOWN[name]:
        total, distinct = found.get(path, (0, 0))
        ratio = f"{distinct / total:.2f}" if total else "-"
        print(f"  {label:<24} {total:>8,} {distinct:>8,} {ratio:>6}  {path}")


def main(argv: list[str] | None = None) -> int:
    """Print the tables of the real feeds and of a generated feed."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.repetition")
    parser.add_argument("--listings", type=int, default=20_000, help="generated feed size")
    parser.add_argument("--seed", type=int, default=2025)
    args = parser.parse_args(argv)
    for name, records in real_feeds().items():
        print_feed(name, records)
        print()
    print_feed(datagen.SOURCE, datagen.generate(args.listings, args.seed))
    return 0


if __name__ == "__main__":
    sys.exit(main())
