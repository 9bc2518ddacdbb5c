"""Coordinate transforms: ``latitude``, ``longitude`` and ``coordinates`` (a pair, with
range checks and swapped latitude/longitude caught against an expected bounding box)."""

from __future__ import annotations

import re
from typing import Any

from pipeline_core.builtin.transforms import to_float
from pipeline_core.hookspecs import hookimpl
from pipeline_core.transforms import Transform

#: 53°16'19.6"N, 53° 16.33' N, N 53 16 19.6: degrees, minutes, seconds, hemisphere.
_DMS = re.compile(
    r"^\s*(?P<h1>[NSEWO])?\s*(?P<deg>-?\d+(?:[.,]\d+)?)\s*[°º˚d]?\s*"
    r"(?:(?P<min>\d+(?:[.,]\d+)?)\s*['\u2032\u2019m]?\s*)?"
    r"(?:(?P<sec>\d+(?:[.,]\d+)?)\s*(?:\"|\u2033|''|\u2019\u2019|s)?\s*)?(?P<h2>[NSEWO])?\s*$",
    re.IGNORECASE,
)

#: Rough bounding boxes (south, west, north, east) of the countries the bundled sources
#: cover, padded by about half a degree; a ``bbox`` argument covers any other place.
COUNTRY_BOXES: dict[str, tuple[float, float, float, float]] = {
    "IE": (51.2, -11.0, 55.7, -5.4),
    "GB": (49.6, -8.9, 61.1, 2.1),
    "FR": (41.0, -5.6, 51.6, 10.0),
    "IT": (35.2, 6.3, 47.4, 19.0),
    "AT": (46.2, 9.3, 49.2, 17.4),
    "CH": (45.6, 5.7, 48.0, 10.7),
    "DE": (47.0, 5.6, 55.3, 15.3),
    "ES": (35.7, -9.8, 44.0, 4.6),
    "PT": (36.7, -9.8, 42.4, -6.0),
    "NL": (50.5, 3.1, 53.8, 7.4),
    "BE": (49.3, 2.3, 51.7, 6.6),
}


def _degrees(value: Any) -> float:
    """Decimal degrees from a number, decimal-comma text or degrees-minutes-seconds."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    text = str(value).strip()
    try:
        return to_float(text)
    except ValueError:
        pass
    match = _DMS.match(text)
    if (
        not match
        or (match["h1"] and match["h2"])
        or not (match["min"] or match["h1"] or match["h2"])
    ):
        raise ValueError("not a coordinate")
    number = abs(float(match["deg"].replace(",", ".")))
    minutes = float((match["min"] or "0").replace(",", "."))
    seconds = float((match["sec"] or "0").replace(",", "."))
    if minutes >= 60 or seconds >= 60:
        raise ValueError("not a coordinate (minutes or seconds over 59)")
    number += minutes / 60 + seconds / 3600
    hemisphere = (match["h1"] or match["h2"] or "").upper()
    if match["deg"].startswith("-") or hemisphere in ("S", "W", "O"):
        number = -number
    return round(number, 7)


def latitude(value: Any) -> float:
    """Latitude in decimal degrees (-90 to 90) from a number, text with a decimal comma, or
    degrees-minutes-seconds (``53°16'19.6"N``)."""
    number = _degrees(value)
    if not -90 <= number <= 90:
        raise ValueError(f"latitude {number} is out of range (-90 to 90)")
    return number


def longitude(value: Any) -> float:
    """Longitude in decimal degrees (-180 to 180), read like ``latitude``
    (``9°3'24"W`` is negative)."""
    number = _degrees(value)
    if not -180 <= number <= 180:
        raise ValueError(f"longitude {number} is out of range (-180 to 180)")
    return number


def _pair(value: Any, order: str) -> tuple[Any, Any]:
    if isinstance(value, dict):
        lat = value.get("latitude", value.get("lat"))
        lon = value.get("longitude", value.get("lon", value.get("lng")))
        if lat is None or lon is None:
            raise ValueError("needs both latitude and longitude")
        return lat, lon
    if isinstance(value, list | tuple):
        parts = list(value)
    else:
        text = str(value).strip()
        # "53.27, -9.05" or "53,27 -9,05" or "53.27;-9.05"
        parts = (
            re.split(r"\s*[;|]\s*|\s*,\s+|\s+", text)
            if ";" in text or " " in text
            else text.split(",")
        )
    if len(parts) != 2:
        raise ValueError("not a latitude/longitude pair")
    return (parts[0], parts[1]) if order == "latlon" else (parts[1], parts[0])


def _inside(lat: float, lon: float, box: tuple[float, float, float, float]) -> bool:
    south, west, north, east = box
    return south <= lat <= north and west <= lon <= east


def coordinates(
    value: Any,
    order: str = "latlon",
    country: str | None = None,
    bbox: list[float] | None = None,
    swapped: str = "error",
) -> dict[str, float]:
    """``{"latitude": …, "longitude": …}`` for the ``location`` object, from two named
    values (``from: {latitude: lat, longitude: lon}``), a list, or text (``"53.27, -9.05"``);
    ``order: lonlat`` reads lists and text longitude first (GeoJSON). Each part is read
    like ``latitude``/``longitude`` and range-checked; ``0, 0`` is refused. With
    ``country`` (a code of ``COUNTRY_BOXES``) or ``bbox`` (``[south, west, north, east]``)
    a point outside is an error, and one that is inside only when swapped is an error
    too, or swapped back with ``swapped: fix``."""
    if order not in ("latlon", "lonlat"):
        raise ValueError("order must be latlon or lonlat")
    if swapped not in ("error", "fix"):
        raise ValueError("swapped must be error or fix")
    raw_lat, raw_lon = _pair(value, order)
    lat, lon = _degrees(raw_lat), _degrees(raw_lon)
    if lat == 0 and lon == 0:
        raise ValueError("0, 0 is not a place")
    box: tuple[float, float, float, float] | None = None
    where = ""
    if bbox is not None:
        box, where = (bbox[0], bbox[1], bbox[2], bbox[3]), "the bounding box"
    elif country is not None:
        if country.upper() not in COUNTRY_BOXES:
            raise ValueError(f"no bounding box for country {country}; give a bbox")
        box, where = COUNTRY_BOXES[country.upper()], country.upper()
    if box is not None and not _inside(lat, lon, box):
        if _inside(lon, lat, box):
            if swapped == "error":
                raise ValueError(f"latitude and longitude look swapped ({lat}, {lon})")
            lat, lon = lon, lat
        else:
            raise ValueError(f"{lat}, {lon} is outside {where}")
    if not -90 <= lat <= 90:
        raise ValueError(f"latitude {lat} is out of range (-90 to 90)")
    if not -180 <= lon <= 180:
        raise ValueError(f"longitude {lon} is out of range (-180 to 180)")
    return {"latitude": lat, "longitude": lon}


@hookimpl
def register_transforms() -> list[Transform]:
    """The coordinate transforms."""
    return [
        Transform("latitude", latitude, latitude.__doc__ or "", cacheable=True),
        Transform("longitude", longitude, longitude.__doc__ or "", cacheable=True),
        Transform("coordinates", coordinates, coordinates.__doc__ or ""),
    ]
