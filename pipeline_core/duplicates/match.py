"""The duplicate finder: prepared listings in, scored candidate pairs out.

Blocking: each listing with coordinates falls in a cell of a grid of about
:data:`CELL_METRES`; it is compared with the listings of its cell and the eight around it,
so the work grows with the number of listings, not its square. Listings that share a phone
number or website are compared whatever their place (or lack of one).

Score (0 to 1): ``0.5 * name + 0.2 * distance + 0.3 * contact (+ 0.1 * address)``, capped at
1, where ``name`` is rapidfuzz's ``token_set_ratio`` of the normalised names, ``distance``
is 1 up to 25 m falling to 0 at 150 m, ``contact`` is 1 when the phone or the website is the
same, and ``address`` adds when the streets match. A pair scoring :data:`THRESHOLD` or more
is a candidate. Only listings of different sources are paired.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from rapidfuzz import fuzz

from pipeline_core.duplicates.normalise import name_key, phone_key, street_key, website_key

THRESHOLD = 0.6
CELL_METRES = 300.0
_NEAR, _FAR = 25.0, 150.0
_METRES_PER_DEGREE = 111_320.0


@dataclass(frozen=True)
class Entry:
    """One listing, ready to compare."""

    id: int
    source: str
    name: str
    names: tuple[str, ...]
    latitude: float | None
    longitude: float | None
    phone: str | None
    website: str | None
    street: str | None


@dataclass(frozen=True)
class Candidate:
    """Two listings that are likely one place: ids (lower first), score and evidence."""

    a: int
    b: int
    score: float
    evidence: dict[str, Any]


def entry(listing_id: int, source: str, record: dict[str, Any]) -> Entry:
    """Prepare a canonical record for comparing."""
    location = record.get("location") or {}
    contact = record.get("contact") or {}
    names = tuple(name_key(n) for n in (record.get("name") or {}).values() if n)
    return Entry(
        id=listing_id,
        source=source,
        name=names[0] if names else "",
        names=names,
        latitude=location.get("latitude"),
        longitude=location.get("longitude"),
        phone=phone_key(contact.get("phone"), location.get("country")),
        website=website_key(contact.get("website")),
        street=street_key(location.get("street")),
    )


def distance_m(a: Entry, b: Entry) -> float | None:
    """Metres between two listings (equirectangular: exact enough below a few km)."""
    if None in (a.latitude, a.longitude, b.latitude, b.longitude):
        return None
    assert a.latitude is not None and b.latitude is not None
    assert a.longitude is not None and b.longitude is not None
    mean = math.radians((a.latitude + b.latitude) / 2)
    dx = math.radians(b.longitude - a.longitude) * math.cos(mean)
    dy = math.radians(b.latitude - a.latitude)
    return math.hypot(dx, dy) * 6_371_000.0


def compare(a: Entry, b: Entry) -> Candidate:
    """Score one pair and say why."""
    name = max(
        (fuzz.token_set_ratio(x, y) / 100.0 for x in a.names or ("",) for y in b.names or ("",)),
        default=0.0,
    )
    metres = distance_m(a, b)
    if metres is None:
        near = 0.0
    else:
        near = max(0.0, min(1.0, (_FAR - metres) / (_FAR - _NEAR)))
    phone = a.phone is not None and a.phone == b.phone
    website = a.website is not None and a.website == b.website
    street = a.street is not None and b.street is not None and fuzz.ratio(a.street, b.street) >= 90
    score = 0.5 * name + 0.2 * near + 0.3 * (phone or website) + 0.1 * street
    evidence = {
        "name": round(name, 3),
        "metres": None if metres is None else round(metres, 1),
        "phone": phone,
        "website": website,
        "address": street,
    }
    low, high = sorted((a.id, b.id))
    return Candidate(low, high, round(min(score, 1.0), 3), evidence)


def _cell(e: Entry) -> tuple[int, int] | None:
    if e.latitude is None or e.longitude is None:
        return None
    step = CELL_METRES / _METRES_PER_DEGREE
    lon_step = step / max(math.cos(math.radians(e.latitude)), 0.01)
    return (math.floor(e.latitude / step), math.floor(e.longitude / lon_step))


def pairs(entries: Sequence[Entry]) -> Iterator[tuple[Entry, Entry]]:
    """Pairs of listings of different sources that share a grid neighbourhood, a phone or a
    website; each pair once."""
    grid: dict[tuple[int, int], list[Entry]] = defaultdict(list)
    by_key: dict[tuple[str, str], list[Entry]] = defaultdict(list)
    for e in entries:
        cell = _cell(e)
        if cell is not None:
            grid[cell].append(e)
        if e.phone:
            by_key["phone", e.phone].append(e)
        if e.website:
            by_key["website", e.website].append(e)
    seen: set[tuple[int, int]] = set()

    def new(a: Entry, b: Entry) -> bool:
        if a.source == b.source:
            return False
        key = (a.id, b.id) if a.id < b.id else (b.id, a.id)
        if key in seen:
            return False
        seen.add(key)
        return True

    for (row, col), members in grid.items():
        for dr in (-1, 0, 1):
            for dc in (-1, 0, 1):
                others = grid.get((row + dr, col + dc))
                if not others:
                    continue
                for a in members:
                    for b in others:
                        if a.id < b.id and new(a, b):
                            yield a, b
    for group in by_key.values():
        if len(group) > 50:  # a switchboard number or a portal's site: no evidence
            continue
        for i, a in enumerate(group):
            for b in group[i + 1 :]:
                if new(a, b):
                    yield a, b


def find(entries: Iterable[Entry], threshold: float = THRESHOLD) -> list[Candidate]:
    """The candidate pairs among ``entries``, best first."""
    found = [c for a, b in pairs(list(entries)) if (c := compare(a, b)).score >= threshold]
    found.sort(key=lambda c: (-c.score, c.a, c.b))
    return found
