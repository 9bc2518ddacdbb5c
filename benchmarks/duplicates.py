"""``python -m benchmarks.duplicates``: the duplicate finder on a synthetic feed with planted
duplicates (renamed, re-spelled, translated, moved a few metres, phone formatted otherwise):
its precision and recall, and its time over 10,000 and over 100,000 listings in one run
(target: at most 12 times as long; the grid keeps the work near-linear).

The listings are spread at a constant density (a larger feed covers a larger region, as a
larger DMO does), two sources, one listing in ten a planted duplicate of another source's.
"""

from __future__ import annotations

import argparse
import math
import random
import resource
import time
from typing import Any

from pipeline_core.duplicates.match import Entry, entry, find

ADJECTIVES = (
    "old new green blue red golden silver royal grand little quiet hidden sunny windy "
    "stone iron crooked lucky wild white black copper rose amber coral misty highland "
    "northern southern eastern western upper lower merry humble noble proud brave"
).split()
NOUNS = (
    "harbour anchor lighthouse bridge mill market castle abbey tower garden meadow river "
    "lake bay island cliff forest orchard vineyard quay wharf dock harp fiddle piper "
    "salmon heron swan fox stag oak willow hazel rowan ivy thistle shamrock lantern "
    "compass barrel kettle lamp bell crown shield gate arch well spring stream glen "
    "valley hill summit ridge dune"
).split()
SURNAMES = (
    "murphy kelly byrne ryan walsh oconnor doyle mccarthy gallagher doherty kennedy lynch "
    "murray quinn moore mclaughlin carroll connolly daly connell wilson dunne brennan "
    "burke collins campbell clarke johnston hughes farrell fitzgerald brown martin "
    "maguire nolan flynn thompson callaghan donnell duffy mahony boyle healy shea white "
    "sweeney hayes kavanagh power mcgrath moran brady stewart casey foley"
).split()
CATEGORIES = {
    "hotel": "hôtel",
    "restaurant": "restaurant",
    "museum": "musée",
    "pub": "pub",
    "cafe": "café",
    "gallery": "galerie",
    "bar": "bar",
    "guesthouse": "pension",
}
TRANSLATED = {"old": "vieux", "new": "nouveau", "green": "vert", "blue": "bleu", "red": "rouge",
              "harbour": "port", "bridge": "pont", "mill": "moulin", "market": "marché",
              "castle": "château", "garden": "jardin", "river": "rivière", "lake": "lac",
              "island": "île", "forest": "forêt", "tower": "tour", "white": "blanc"}  # fmt: skip
#: Listings per square kilometre.
DENSITY = 100.0
CENTRE = (53.0, -7.5)


def _name(rng: random.Random) -> tuple[str, str]:
    category = rng.choice(list(CATEGORIES))
    pattern = rng.randrange(4)
    adjective, noun, surname = rng.choice(ADJECTIVES), rng.choice(NOUNS), rng.choice(SURNAMES)
    if pattern == 0:
        words = ["The", adjective, noun, category]
    elif pattern == 1:
        words = [surname + "'s", noun, category]
    elif pattern == 2:
        words = [adjective, noun, surname, category]
    else:
        words = [surname, adjective, noun]
    return " ".join(w.capitalize() if w != "The" else w for w in words), category


def _respell(rng: random.Random, name: str) -> str:
    words = name.split()
    i = max(range(len(words)), key=lambda k: len(words[k]))
    w = words[i]
    j = rng.randrange(1, len(w) - 1)
    words[i] = w[:j] + w[j + 1] + w[j] + w[j + 2 :] if rng.random() < 0.5 else w[:j] + w[j + 1 :]
    return " ".join(words)


def _rename(rng: random.Random, name: str, category: str) -> str:
    words = [w for w in name.split() if w.lower() not in (category, "the")]
    choice = rng.randrange(3)
    if choice == 0:
        return " ".join([category.capitalize(), *words])
    if choice == 1:
        return " ".join(
            [*words, category.capitalize(), "&", "Spa" if category == "hotel" else "Co"]
        )
    return " ".join(words)


def _translate(name: str, category: str) -> str:
    words = []
    for w in name.split():
        low = w.lower()
        if low == "the":
            words.append("Le")
        elif low == category:
            words.append(CATEGORIES[category].capitalize())
        else:
            words.append(TRANSLATED.get(low, low).capitalize())
    return " ".join(words)


def _reformat_phone(rng: random.Random, phone: str) -> str:
    digits = phone.replace("+353", "0").replace(" ", "")
    style = rng.randrange(3)
    if style == 0:
        return f"({digits[:2]}) {digits[2:5]} {digits[5:]}"
    if style == 1:
        return f"{digits[:2]}-{digits[2:]}"
    return f"00353{digits[1:]}"


def _record(source: str, n: int, name: str, category: str, lat: float, lon: float,
            phone: str | None, website: str | None, street: str) -> dict[str, Any]:  # fmt: skip
    contact = {k: v for k, v in (("phone", phone), ("website", website)) if v}
    return {
        "source": source,
        "external_id": f"{source}-{n}",
        "dmo": "synthetic",
        "category": "lodging" if category in ("hotel", "guesthouse") else "attraction",
        "name": {"en": name},
        "location": {"latitude": lat, "longitude": lon, "street": street, "country": "IE"},
        "contact": contact,
    }


def synthetic(count: int, seed: int = 13) -> tuple[list[Entry], set[tuple[int, int]]]:
    """``count`` prepared listings of sources ``alpha`` and ``beta`` and the planted pairs
    (by entry id): one listing in ten is a changed copy of an ``alpha`` listing in ``beta``."""
    rng = random.Random(seed)
    side_km = math.sqrt(count / DENSITY)
    lat_span = side_km / 111.32
    lon_span = side_km / (111.32 * math.cos(math.radians(CENTRE[0])))
    planted_count = count // 10
    base = count - planted_count
    records: list[tuple[int, dict[str, Any]]] = []
    alpha: list[tuple[int, dict[str, Any], str]] = []
    for n in range(base):
        source = "alpha" if n % 5 < 3 else "beta"
        name, category = _name(rng)
        lat = CENTRE[0] + rng.random() * lat_span
        lon = CENTRE[1] + rng.random() * lon_span
        phone = f"+353 {rng.randrange(1, 99)} {rng.randrange(100, 999)} {rng.randrange(1000, 9999)}"
        website = f"https://www.{name.lower().replace(' ', '').replace(chr(39), '')}{n}.ie/"
        street = f"{rng.randrange(1, 200)} {rng.choice(NOUNS).capitalize()} Street"
        record = _record(source, n, name, category, lat, lon, phone, website, street)
        records.append((n, record))
        if source == "alpha":
            alpha.append((n, record, category))
    planted: set[tuple[int, int]] = set()
    for k, (original_id, original, category) in enumerate(rng.sample(alpha, planted_count)):
        n = base + k
        name = original["name"]["en"]
        changes = rng.sample(["rename", "respell", "translate"], rng.randrange(1, 3))
        for change in changes:
            if change == "rename":
                name = _rename(rng, name, category)
            elif change == "respell":
                name = _respell(rng, name)
            else:
                name = _translate(name, category)
        metres = rng.uniform(2, 40)
        angle = rng.uniform(0, 2 * math.pi)
        location = original["location"]
        lat = location["latitude"] + metres * math.sin(angle) / 111_320
        lon = location["longitude"] + metres * math.cos(angle) / (
            111_320 * math.cos(math.radians(location["latitude"]))
        )
        phone = original["contact"]["phone"]
        phone = _reformat_phone(rng, phone) if rng.random() < 0.6 else phone
        if "translate" not in changes and rng.random() < 0.2:
            phone = None
        website = original["contact"]["website"] if rng.random() < 0.5 else None
        street = (
            location["street"].replace("Street", "St") if rng.random() < 0.5 else location["street"]
        )
        records.append((n, _record("beta", n, name, category, lat, lon, phone, website, street)))
        planted.add((original_id, n))
    entries = [entry(n, record["source"], record) for n, record in records]
    return entries, planted


#: The bundled real sources added to every run: none of their listings is planted, so
#: every pair the finder makes with one of them counts against its precision.
REAL_FEEDS = ("failte-ireland-attractions", "odh-events")


def real_entries(first_id: int) -> list[Entry]:
    """The bundled real sources' records, mapped by their mappings, prepared for comparing."""
    from benchmarks.transforms import _compiler, _records

    out: list[Entry] = []
    for feed in REAL_FEEDS:
        mapping = _compiler(feed)()
        for payload in _records(feed, 1, 0):
            try:
                record = mapping.apply(payload)
            except Exception:  # a record its mapping refuses is not staged either
                continue
            out.append(entry(first_id + len(out), feed, record))
    return out


def precision_recall(
    count: int, seed: int = 13, real: bool = True, rounds: int = 1
) -> tuple[float, float, int, int, float]:
    """Precision, recall, planted pairs, pairs found, and the seconds the finder took (the
    best of ``rounds``), over ``count`` synthetic listings (and the real sources' when
    ``real``)."""
    entries, planted = synthetic(count, seed)
    if real:
        entries += real_entries(count)
    seconds = math.inf
    for _ in range(rounds):
        started = time.perf_counter()
        found = {(c.a, c.b) for c in find(entries)}
        seconds = min(seconds, time.perf_counter() - started)
    hits = len(found & planted)
    precision = hits / len(found) if found else 0.0
    recall = hits / len(planted) if planted else 0.0
    return precision, recall, len(planted), len(found), seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--small", type=int, default=10_000, help="listings of the small run")
    parser.add_argument("--large", type=int, default=100_000, help="listings of the large run")
    parser.add_argument("--no-real", action="store_true", help="leave the bundled real sources out")
    parser.add_argument(
        "--rounds", type=int, default=3, help="runs of each size; the fastest shown"
    )
    args = parser.parse_args()
    if not args.no_real:
        print(f"each run adds {len(real_entries(0)):,} listings of " + ", ".join(REAL_FEEDS))
    columns = ("listings", "planted", "found", "precision", "recall", "seconds")
    print(" ".join(f"{c:>9}" for c in columns))
    times = {}
    for count in (args.small, args.large):
        precision, recall, planted, found, seconds = precision_recall(
            count, real=not args.no_real, rounds=args.rounds
        )
        times[count] = seconds
        cells = (f"{count:,}", f"{planted:,}", f"{found:,}", f"{precision:.3f}", f"{recall:.3f}")
        print(" ".join(f"{c:>9}" for c in (*cells, f"{seconds:.2f}")))
    ratio = times[args.large] / times[args.small]
    allowed = 1.2 * args.large / args.small
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e6
    verdict = "ok" if ratio <= allowed else "MISSED"
    print(f"time ratio {ratio:.2f} (at most {allowed:g}: {verdict}); peak RSS {peak:.0f} MB")


if __name__ == "__main__":
    main()
