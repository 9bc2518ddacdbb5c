"""schema.org items as records: term normalisation, and the transforms of the default mapping.

JSON-LD and microdata write one schema.org term several ways (``name``, ``schema:name``,
``https://schema.org/name``); :func:`normalise` reduces them to the plain term so one
default mapping reads them all. Text may come as a string, a list, a language-tagged
value or a language map: ``schema_text`` makes canonical text of it. ``@type`` lists
become a canonical category with ``schema_category``. ``schema_hours`` turns
``OpeningHoursSpecification`` into ``opening_hours`` rows and ``schema_special_hours``
``specialOpeningHoursSpecification`` into ``opening_dates`` rows; they are deliberately
small and isolated, so a richer opening-hours transform can replace them in the default
mapping.
"""

from __future__ import annotations

import re
from typing import Any

from pipeline_core.builtin.transforms import url
from pipeline_core.transforms import Transform

_PREFIXES = ("http://schema.org/", "https://schema.org/", "schema:")
_LANGUAGE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")


def term(name: str) -> str:
    """``schema:name`` / ``https://schema.org/name`` → ``name``; other names unchanged."""
    for prefix in _PREFIXES:
        if name.startswith(prefix):
            return name[len(prefix) :]
    return name


def normalise(value: Any) -> Any:
    """``value`` with schema.org terms reduced to plain names (keys and ``@type`` values),
    and ``{"@value": x}`` without a language reduced to ``x``."""
    if isinstance(value, list):
        return [normalise(v) for v in value]
    if not isinstance(value, dict):
        return value
    if "@value" in value and "@language" not in value:
        return value["@value"]
    out: dict[str, Any] = {}
    for key, item in value.items():
        if key == "@type":
            out[key] = [term(t) for t in item] if isinstance(item, list) else term(str(item))
        else:
            out[term(key)] = normalise(item)
    return out


def types_of(item: dict[str, Any]) -> list[str]:
    """The item's ``@type`` as a list of plain names."""
    kinds = item.get("@type", [])
    return [str(k) for k in kinds] if isinstance(kinds, list) else [str(kinds)]


def schema_text(value: Any) -> Any:
    """Text from a string, a list (its first text), language-tagged values
    (``{"@value", "@language"}``) or a language map (``{"en": "…"}`` or ``{"en": ["…"]}``):
    text, or a ``{language: text}`` object."""
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, list):
        tagged: dict[str, str] = {}
        for item in value:
            if isinstance(item, dict) and "@language" in item and "@value" in item:
                tagged.setdefault(str(item["@language"]).lower(), str(item["@value"]).strip())
            elif not tagged:
                text = schema_text(item)
                if text:
                    return text
        return {k: v for k, v in tagged.items() if v} or None
    if isinstance(value, dict):
        if "@value" in value:
            text = str(value["@value"]).strip()
            return {str(value.get("@language", "und")).lower(): text} if text else None
        if value and all(_LANGUAGE.match(str(k)) for k in value):
            out = {}
            for language, text in value.items():
                found = schema_text(text)
                if isinstance(found, str):
                    out[str(language).lower()] = found
            return out or None
        if "name" in value:
            return schema_text(value["name"])
    if value is None:
        return None
    raise ValueError(f"not text: {type(value).__name__}")


#: Canonical category of schema.org (and a few DATAtourisme) types, most specific first.
CATEGORY_OF_TYPE: dict[str, str] = {
    **dict.fromkeys(
        (
            "Event Festival MusicEvent TheaterEvent SportsEvent ExhibitionEvent FoodEvent "
            "ChildrensEvent ComedyEvent DanceEvent LiteraryEvent SocialEvent "
            "EntertainmentAndEvent"
        ).split(),
        "event",
    ),
    **dict.fromkeys(
        (
            "LodgingBusiness Hotel Hostel Motel BedAndBreakfast Campground Resort "
            "VacationRental Accommodation"
        ).split(),
        "lodging",
    ),
    **dict.fromkeys(
        (
            "FoodEstablishment Restaurant CafeOrCoffeeShop BarOrPub Bakery Brewery Winery "
            "Distillery FastFoodRestaurant IceCreamShop"
        ).split(),
        "restaurant",
    ),
    **dict.fromkeys("TouristTrip Trip Tour".split(), "tour"),
    **dict.fromkeys(
        "SportsActivityLocation GolfCourse SkiResort SportsClub ExerciseGym Activity".split(),
        "activity",
    ),
    **dict.fromkeys("Store ShoppingCenter Shop".split(), "shop"),
    **dict.fromkeys(
        "EventVenue MusicVenue StadiumOrArena PerformingArtsTheater Casino".split(), "venue"
    ),
    **dict.fromkeys(
        (
            "TouristAttraction TouristDestination Museum LandmarksOrHistoricalBuildings Park Zoo "
            "Aquarium AmusementPark PlaceOfWorship Church Beach ArtGallery NaturalFeature "
            "CulturalSite NaturalHeritage PlaceOfInterest"
        ).split(),
        "attraction",
    ),
    **dict.fromkeys("TouristInformationCenter LocalBusiness Service".split(), "service"),
}
_ORDER = ("event", "lodging", "restaurant", "tour", "activity", "shop", "venue", "attraction")


def schema_category(value: Any) -> str:
    """The canonical category of a schema.org ``@type`` (a name or a list): the first of
    event, lodging, restaurant, tour, activity, shop, venue, attraction, service that one
    of the types maps to; ``other`` when none does."""
    kinds = [term(str(v)) for v in (value if isinstance(value, list) else [value])]
    found = {CATEGORY_OF_TYPE[k] for k in kinds if k in CATEGORY_OF_TYPE}
    for category in (*_ORDER, "service"):
        if category in found:
            return category
    return "other"


_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_TIME = re.compile(r"^T?(\d{1,2}):(\d{2})")


def _time(value: Any) -> str | None:
    match = _TIME.match(str(value or "").strip())
    if not match:
        return None
    hours, minutes = int(match[1]), int(match[2])
    return f"{hours:02d}:{minutes:02d}" if hours <= 24 and minutes < 60 else None


def _day(value: Any) -> int | None:
    if isinstance(value, dict):
        value = value.get("@id") or value.get("name")
    name = term(str(value or "")).rsplit("/", 1)[-1].strip()
    return _DAYS.index(name) if name in _DAYS else None


def _date(value: Any) -> str | None:
    """The ``YYYY-MM-DD`` a ``validFrom``/``validThrough`` starts with, or None."""
    text = str(value or "")[:10]
    return text if re.match(r"^\d{4}-\d{2}-\d{2}$", text) else None


def _opening_times(spec: dict[str, Any], *, missing_is_closed: bool) -> dict[str, Any]:
    """``opens``/``closes`` of a specification as ``HH:MM``, or ``closed: true`` when both
    are 00:00 (or, with ``missing_is_closed``, both missing)."""
    opens, closes = _time(spec.get("opens")), _time(spec.get("closes"))
    if opens == closes and (opens == "00:00" or (missing_is_closed and opens is None)):
        return {"closed": True}
    return {key: value for key, value in (("opens", opens), ("closes", closes)) if value}


def schema_hours(value: Any) -> list[dict[str, Any]] | None:
    """``OpeningHoursSpecification`` (one or a list) → ``opening_hours`` rows: one per day of
    week, with ``opens``/``closes`` (``HH:MM``), ``valid_from``/``valid_to`` from
    ``validFrom``/``validThrough``, and ``closed: true`` when opens and closes are both
    00:00. Specifications without a day of week (special dates) are left out."""
    specs = value if isinstance(value, list) else [value]
    rows: list[dict[str, Any]] = []
    for spec in specs:
        if not isinstance(spec, dict):
            continue
        days = spec.get("dayOfWeek")
        days = days if isinstance(days, list) else [days] if days is not None else []
        times = _opening_times(spec, missing_is_closed=False)
        period: dict[str, Any] = {}
        for key, target in (("validFrom", "valid_from"), ("validThrough", "valid_to")):
            day_text = _date(spec.get(key))
            if day_text:
                period[target] = day_text
        for day in days:
            weekday = _day(day)
            if weekday is not None:
                rows.append({"weekday": weekday, **times, **period})
    return rows or None


def schema_special_hours(value: Any) -> list[dict[str, Any]] | None:
    """``specialOpeningHoursSpecification`` (one or a list) → ``opening_dates`` rows: ``date``
    from ``validFrom`` (``end_date`` from a later ``validThrough``), ``opens``/``closes``
    (``HH:MM``), and ``closed: true`` when opens and closes are both 00:00 or both missing.
    Specifications without a ``validFrom`` date are left out."""
    specs = value if isinstance(value, list) else [value]
    rows: list[dict[str, Any]] = []
    for spec in specs:
        if not isinstance(spec, dict):
            continue
        start = _date(spec.get("validFrom"))
        if start is None:
            continue
        row: dict[str, Any] = {"date": start}
        end = _date(spec.get("validThrough"))
        if end is not None and end > start:
            row["end_date"] = end
        rows.append({**row, **_opening_times(spec, missing_is_closed=True)})
    return rows or None


def _first_text(value: Any) -> str | None:
    """Plain text of a value ``schema_text`` reads: a language map gives its first text."""
    try:
        text = schema_text(value)
    except ValueError:
        return None
    if isinstance(text, dict):
        return next(iter(text.values()), None)
    return text


def _image_url(value: Any) -> str | None:
    while isinstance(value, list):
        value = value[0] if value else None
    if isinstance(value, dict):
        value = value.get("@id") or value.get("@value")
    if not isinstance(value, str):
        return None
    try:
        return url(value)
    except ValueError:
        return None


def _first(value: Any) -> Any:
    return value[0] if isinstance(value, list) and value else value


def _schema_image(item: Any) -> dict[str, Any]:
    """A schema.org image: a URL, or an ``ImageObject``."""
    if not isinstance(item, dict):
        return {"url": _image_url(item)}
    author = _first(item.get("creditText") or item.get("author") or item.get("copyrightHolder"))
    return {
        "url": _image_url(item.get("contentUrl") or item.get("url") or item.get("@id")),
        "caption": _first_text(item.get("caption") or item.get("name")),
        "credit": _first_text(author.get("name") if isinstance(author, dict) else author),
        "licence": _first_text(_first(item.get("license"))),
    }


def _representation(item: Any) -> dict[str, Any]:
    """A DATAtourisme ``hasRepresentation`` (EBUCore): the file's locator, and the
    annotation's title, credits and licence."""
    if not isinstance(item, dict):
        return {}
    resource = _first(item.get("ebucore:hasRelatedResource")) or {}
    note = _first(item.get("ebucore:hasAnnotation")) or {}
    if not isinstance(resource, dict) or not isinstance(note, dict):
        return {}
    return {
        "url": _image_url(resource.get("ebucore:locator")),
        "caption": _first_text(note.get("ebucore:title")),
        "credit": _first_text(_first(note.get("credits"))),
        "licence": _first_text(note.get("ebucore:isCoveredBy")),
    }


def schema_images(value: Any) -> list[dict[str, Any]] | None:
    """``{"image": …, "representations": …}`` → ``images``: schema.org ``image`` (URLs or
    ``ImageObject``: ``contentUrl``, ``caption``, ``creditText``/``author``, ``license``)
    and DATAtourisme's ``hasRepresentation`` (EBUCore locator, title, credits and
    ``isCoveredBy``). Entries without an http(s) URL are left out; a URL given twice is
    kept once."""
    if not isinstance(value, dict):
        value = {"image": value}
    found: list[dict[str, Any]] = []
    for key, reader in (("image", _schema_image), ("representations", _representation)):
        items = value.get(key)
        for item in items if isinstance(items, list) else [items] if items else []:
            image = {k: v for k, v in reader(item).items() if v}
            if image.get("url") and all(image["url"] != f["url"] for f in found):
                found.append(image)
    return found or None


TRANSFORMS = [
    Transform("schema_text", schema_text, schema_text.__doc__ or "", cacheable=False),
    Transform("schema_images", schema_images, schema_images.__doc__ or "", cacheable=False),
    Transform("schema_category", schema_category, schema_category.__doc__ or ""),
    Transform("schema_hours", schema_hours, schema_hours.__doc__ or ""),
    Transform("schema_special_hours", schema_special_hours, schema_special_hours.__doc__ or ""),
]

_ADDRESS = ("address", "isLocatedAt.0.address", "location.address")


def _paths(*tails: str, bases: tuple[str, ...] = _ADDRESS) -> list[str]:
    out = []
    for base in bases:
        for tail in tails:
            out.append(f"{base}.{tail}")
            out.append(f"{base}.0.{tail}")
    return out


#: The jsonld fetcher's mapping of schema.org terms onto the canonical listing, used under
#: the source's own mapping (whose fields replace these). Paths read plain schema.org
#: items and DATAtourisme's (``rdfs:label``, ``isLocatedAt``, ``hasContact``).
DEFAULT_MAPPING: dict[str, Any] = {
    "id": "@id",
    "fields": {
        "name": {"from": ["name", "rdfs:label", "headline"], "transform": "schema_text"},
        "description": {
            "from": ["description", "rdfs:comment", "hasDescription.0.dc:description"],
            "transform": "schema_text",
        },
        "category": {"from": "@type", "transform": "schema_category"},
        "location.street": {"from": _paths("streetAddress"), "transform": ["first", "text"]},
        "location.postal_code": {"from": _paths("postalCode"), "transform": ["first", "str"]},
        "location.locality": {"from": _paths("addressLocality"), "transform": ["first", "text"]},
        "location.region": {"from": _paths("addressRegion"), "transform": ["first", "text"]},
        "location.latitude": {
            "from": _paths("latitude", bases=("geo", "isLocatedAt.0.geo", "location.geo")),
            "transform": ["first", "float"],
        },
        "location.longitude": {
            "from": _paths("longitude", bases=("geo", "isLocatedAt.0.geo", "location.geo")),
            "transform": ["first", "float"],
        },
        "contact.phone": {
            "from": ["telephone", "hasContact.0.telephone"],
            "transform": ["first", "text"],
        },
        "contact.email": {"from": ["email", "hasContact.0.email"], "transform": ["first", "text"]},
        "contact.website": {
            "from": ["url", "hasContact.0.foaf:homepage"],
            "transform": ["first", "url"],
        },
        "images": {
            "from": {"image": "image", "representations": "hasRepresentation"},
            "transform": "schema_images",
        },
        "opening_hours": {
            "from": ["openingHoursSpecification", "isLocatedAt.0.openingHoursSpecification"],
            "transform": "schema_hours",
        },
        "opening_dates": {
            "from": [
                "specialOpeningHoursSpecification",
                "isLocatedAt.0.specialOpeningHoursSpecification",
            ],
            "transform": "schema_special_hours",
        },
        "opening_hours_text": {"from": "openingHours", "transform": {"join": "; "}},
    },
}
