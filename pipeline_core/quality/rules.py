"""The quality rules: each earns a share (0 to 1) of its weight; the weights sum to 100.

| rule | weight | full marks |
|---|---|---|
| name | 10 | a name in the record's language (or any name, for half) |
| recommended | 20 | every recommended field of the listing's category |
| contact | 15 | a valid phone number (phonenumbers), e-mail or website; half for one invalid |
| coordinates | 15 | inside the listing's country (half: outside it, or country unknown) |
| hours | 10 | opening hours or dates parsed into rows (half: only the published text) |
| images | 10 | an image stored, with caption or credit (half: without; or not processed) |
| description | 10 | 200 characters or more (half: 50 or more) |
| languages | 5 | name or description in two languages or more |
| freshness | 5 | seen in the last 30 days (half: in the last 90) |
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import phonenumbers

from pipeline_core.builtin.geo import COUNTRY_BOXES

#: Fields whose presence each category's ``recommended`` rule checks (dotted paths).
RECOMMENDED: dict[str, tuple[str, ...]] = {
    "attraction": ("description", "location", "opening_hours", "images", "contact.website"),
    "restaurant": ("description", "location", "opening_hours", "contact.phone", "images"),
    "lodging": ("description", "location", "contact.phone", "contact.email", "images"),
    "event": ("description", "location", "opening_dates", "url", "images"),
    "activity": ("description", "location", "contact.website", "images"),
    "shop": ("description", "location", "opening_hours", "contact.phone"),
    "service": ("description", "location", "contact.phone", "opening_hours"),
    "tour": ("description", "location", "contact.website", "images"),
    "venue": ("description", "location", "contact.website", "images"),
    "other": ("description", "location"),
}


@dataclass(frozen=True)
class RuleResult:
    """One rule's outcome: the share of its weight earned and why."""

    share: float
    detail: str


@dataclass(frozen=True)
class ImageState:
    """One image row of a listing (``staging.listing_images``): the ``image`` job's status
    (``stored``, ``failed``, ``pending``...) and whether it has a caption or credit."""

    status: str
    described: bool


@dataclass(frozen=True)
class Facts:
    """What a rule needs besides the record: when a crawl last saw the listing, and the
    states of its image rows (None: not known, the record's images are judged alone)."""

    seen_at: datetime | None = None
    images: tuple[ImageState, ...] | None = None


@dataclass(frozen=True)
class Rule:
    """A named, weighted check of a record."""

    name: str
    weight: int
    check: Callable[[dict[str, Any], Facts, datetime], RuleResult]
    help: str


def _get(record: dict[str, Any], path: str) -> Any:
    value: Any = record
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def _name(record: dict[str, Any], _facts: Facts, _now: datetime) -> RuleResult:
    names = record.get("name") or {}
    language = record.get("language")
    if language and str(names.get(language, "")).strip():
        return RuleResult(1.0, f"name in {language}")
    if any(str(v).strip() for v in names.values()):
        return RuleResult(0.5, "name, but not in the record's language")
    return RuleResult(0.0, "no name")


def _recommended(record: dict[str, Any], _facts: Facts, _now: datetime) -> RuleResult:
    wanted = RECOMMENDED.get(record.get("category", "other"), RECOMMENDED["other"])
    missing = [path for path in wanted if not _get(record, path)]
    share = (len(wanted) - len(missing)) / len(wanted)
    return RuleResult(share, "missing: " + ", ".join(missing) if missing else "all present")


def _valid_phone(text: str, region: str | None) -> bool:
    try:
        return phonenumbers.is_valid_number(phonenumbers.parse(text, region))
    except phonenumbers.NumberParseException:
        return False


def _contact(record: dict[str, Any], _facts: Facts, _now: datetime) -> RuleResult:
    contact = record.get("contact") or {}
    if not any(contact.get(k) for k in ("phone", "email", "website")):
        return RuleResult(0.0, "no phone, e-mail or website")
    region = (record.get("location") or {}).get("country")
    valid = []
    if contact.get("phone") and _valid_phone(contact["phone"], region):
        valid.append("phone")
    if contact.get("email") and "@" in contact["email"] and "." in contact["email"].split("@")[1]:
        valid.append("email")
    if str(contact.get("website") or "").startswith(("http://", "https://")):
        valid.append("website")
    if valid:
        return RuleResult(1.0, "valid " + ", ".join(valid))
    return RuleResult(0.5, "contact present but not valid")


def _coordinates(record: dict[str, Any], _facts: Facts, _now: datetime) -> RuleResult:
    location = record.get("location") or {}
    lat, lon = location.get("latitude"), location.get("longitude")
    if lat is None or lon is None:
        return RuleResult(0.0, "no coordinates")
    country = location.get("country")
    box = COUNTRY_BOXES.get(country or "")
    if box is None:
        return RuleResult(0.5, f"coordinates, country {country or 'unknown'} not checkable")
    south, west, north, east = box
    if south <= lat <= north and west <= lon <= east:
        return RuleResult(1.0, f"inside {country}")
    return RuleResult(0.5, f"coordinates outside {country}")


def _hours(record: dict[str, Any], _facts: Facts, _now: datetime) -> RuleResult:
    if record.get("opening_hours") or record.get("opening_dates"):
        return RuleResult(1.0, "parsed hours")
    if record.get("opening_hours_text"):
        return RuleResult(0.5, "hours as text only (not parseable)")
    return RuleResult(0.0, "no hours")


def _images(record: dict[str, Any], facts: Facts, _now: datetime) -> RuleResult:
    images = record.get("images") or []
    if facts.images is None:  # rows not known: the record's images
        if not images:
            return RuleResult(0.0, "no image")
        if any(i.get("caption") or i.get("credit") for i in images):
            return RuleResult(1.0, f"{len(images)} image(s)")
        return RuleResult(0.5, f"{len(images)} image(s) without caption or credit")
    if not facts.images:
        return RuleResult(0.0, "no image")
    stored = [state for state in facts.images if state.status == "stored"]
    if not stored:
        counts: dict[str, int] = {}
        for state in facts.images:
            counts[state.status] = counts.get(state.status, 0) + 1
        states = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
        detail = f"{len(facts.images)} image(s), none stored ({states})"
        # not processed yet (pending) is not known to be broken: half, as for coordinates
        # whose country cannot be checked
        return RuleResult(0.0 if counts.get("failed") == len(facts.images) else 0.5, detail)
    if any(state.described for state in stored):
        return RuleResult(1.0, f"{len(stored)} of {len(facts.images)} image(s) stored")
    return RuleResult(
        0.5, f"{len(stored)} of {len(facts.images)} image(s) stored, without caption or credit"
    )


def _description(record: dict[str, Any], _facts: Facts, _now: datetime) -> RuleResult:
    texts = list((record.get("description") or {}).values())
    longest = max((len(t) for t in texts), default=0)
    if longest >= 200:
        return RuleResult(1.0, f"{longest} characters")
    if longest >= 50:
        return RuleResult(0.5, f"{longest} characters (200 for full marks)")
    return RuleResult(0.0, f"{longest} characters")


def _languages(record: dict[str, Any], _facts: Facts, _now: datetime) -> RuleResult:
    found = set(record.get("name") or {}) | set(record.get("description") or {})
    if len(found) >= 2:
        return RuleResult(1.0, ", ".join(sorted(found)))
    return RuleResult(0.0, "one language" if found else "no text")


def _freshness(_record: dict[str, Any], facts: Facts, now: datetime) -> RuleResult:
    seen = facts.seen_at
    if seen is None:
        return RuleResult(0.0, "never seen")
    if seen.tzinfo is None:
        seen = seen.replace(tzinfo=UTC)
    days = (now - seen).days
    if days <= 30:
        return RuleResult(1.0, f"seen {days} days ago")
    if days <= 90:
        return RuleResult(0.5, f"seen {days} days ago")
    return RuleResult(0.0, f"seen {days} days ago (stale)")


RULES: tuple[Rule, ...] = (
    Rule("name", 10, _name, "A name in the record's language (half: in another)."),
    Rule("recommended", 20, _recommended, "The category's recommended fields, by share."),
    Rule("contact", 15, _contact, "A valid phone, e-mail or website (half: present, invalid)."),
    Rule("coordinates", 15, _coordinates, "Coordinates inside the country (half: unchecked)."),
    Rule("hours", 10, _hours, "Opening hours or dates parsed (half: text only)."),
    Rule("images", 10, _images, "An image stored (half: undescribed, or not processed)."),
    Rule("description", 10, _description, "A description of 200+ characters (half: 50+)."),
    Rule("languages", 5, _languages, "Name or description in two languages or more."),
    Rule("freshness", 5, _freshness, "Seen within 30 days (half: 90)."),
)


def seen_at(updated_at: datetime | None, complete_crawl_at: datetime | None) -> datetime | None:
    """When a crawl last saw an active listing: its source's last complete crawl (which saw
    every listing it left active), or when the listing was last written, the later one."""
    moments = [m.replace(tzinfo=m.tzinfo or UTC) for m in (updated_at, complete_crawl_at) if m]
    return max(moments, default=None)


def score_record(
    record: dict[str, Any],
    seen_at: datetime | None = None,
    now: datetime | None = None,
    images: tuple[ImageState, ...] | None = None,
) -> tuple[int, dict[str, Any]]:
    """The score (0-100) of one canonical record and its breakdown: rule → weight, points
    earned and detail. ``seen_at`` is when a crawl last saw it (freshness); ``images`` the
    states of its image rows (the ``images`` rule counts only stored ones)."""
    now = now or datetime.now(UTC)
    facts = Facts(seen_at, images)
    breakdown: dict[str, Any] = {}
    total = 0.0
    for rule in RULES:
        result = rule.check(record, facts, now)
        points = round(rule.weight * result.share, 1)
        total += points
        breakdown[rule.name] = {"weight": rule.weight, "points": points, "detail": result.detail}
    return math.floor(total + 0.5), breakdown  # half up: 64.5 is 65
