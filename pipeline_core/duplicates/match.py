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


def _name_similarity(a: Entry, b: Entry) -> float:
    return max(
        (fuzz.token_set_ratio(x, y) / 100.0 for x in a.names or ("",) for y in b.names or ("",)),
        default=0.0,
    )


def compare(a: Entry, b: Entry, threshold: float | None = None) -> Candidate | None:
    """Score one pair and say why. With ``threshold``, None when the pair cannot reach it
    whatever its names (the names, the dearest part, are then not compared)."""
    metres = distance_m(a, b)
    if metres is None:
        near = 0.0
    else:
        near = max(0.0, min(1.0, (_FAR - metres) / (_FAR - _NEAR)))
    phone = a.phone is not None and a.phone == b.phone
    website = a.website is not None and a.website == b.website
    street = a.street is not None and b.street is not None and fuzz.ratio(a.street, b.street) >= 90
    rest = 0.2 * near + 0.3 * (phone or website) + 0.1 * street
    if threshold is not None and 0.5 + rest < threshold:
        return None
    name = _name_similarity(a, b)
    score = 0.5 * name + rest
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


#: Neighbouring cells visited from each cell: the cell itself and half of the eight around
#: it, so each pair of neighbouring cells is visited once.
_FORWARD = ((0, 1), (1, -1), (1, 0), (1, 1))


def _adjacent(a: tuple[int, int] | None, b: tuple[int, int] | None) -> bool:
    return a is not None and b is not None and abs(a[0] - b[0]) <= 1 and abs(a[1] - b[1]) <= 1


def pairs(entries: Sequence[Entry]) -> Iterator[tuple[Entry, Entry]]:
    """Pairs of listings of different sources that share a grid neighbourhood, a phone or a
    website; each pair once (no set of the pairs seen is kept: it would grow with them)."""
    grid: dict[tuple[int, int], list[Entry]] = defaultdict(list)
    by_key: dict[tuple[str, str], list[Entry]] = defaultdict(list)
    cells: dict[int, tuple[int, int] | None] = {}
    for e in entries:
        cell = cells[e.id] = _cell(e)
        if cell is not None:
            grid[cell].append(e)
        if e.phone:
            by_key["phone", e.phone].append(e)
        if e.website:
            by_key["website", e.website].append(e)
    for (row, col), members in sorted(grid.items()):  # row by row: neighbours stay in cache
        for i, a in enumerate(members):
            for b in members[i + 1 :]:
                if a.source != b.source:
                    yield a, b
        for dr, dc in _FORWARD:
            for b in grid.get((row + dr, col + dc), ()):
                for a in members:
                    if a.source != b.source:
                        yield a, b
    seen: set[tuple[int, int]] = set()  # pairs found by phone or website: few
    for group in by_key.values():
        if len(group) > 50:  # a switchboard number or a portal's site: no evidence
            continue
        for i, a in enumerate(group):
            for b in group[i + 1 :]:
                if a.source == b.source or _adjacent(cells[a.id], cells[b.id]):
                    continue
                key = (a.id, b.id) if a.id < b.id else (b.id, a.id)
                if key not in seen:
                    seen.add(key)
                    yield a, b


def find(entries: Iterable[Entry], threshold: float = THRESHOLD) -> list[Candidate]:
    """The candidate pairs among ``entries``, best first."""
    found = [
        c
        for a, b in pairs(list(entries))
        if (c := compare(a, b, threshold)) is not None and c.score >= threshold
    ]
    found.sort(key=lambda c: (-c.score, c.a, c.b))
    return found
