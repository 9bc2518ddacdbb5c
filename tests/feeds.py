"""Synthetic paginated JSON feeds for the end-to-end tests, with their mapping."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

MAPPING = """\
source: {name}
dmo: test-dmo
fetcher: json_api
url: {url}
records: data
id: id
pagination: {{type: next_link, path: next}}
defaults: {{language: en, country: AT}}
licence: {{name: CC-BY-4.0, attribution: "Test DMO"}}
fields:
  category: {{from: kind, map: {{sight: attraction, food: restaurant, bed: lodging, gig: event}}}}
  name.en: names.en
  name.de: names.de
  description: {{from: body, transform: html_text}}
  location.street: addr.street
  location.locality: addr.town
  location.postal_code: {{from: addr.zip, transform: str}}
  location.latitude: {{from: lat, transform: float}}
  location.longitude: {{from: lon, transform: float}}
  contact.phone: phone
  contact.email: email
  contact.website: {{from: web, transform: url}}
  attributes.stars: {{from: stars, transform: int}}
  attributes.tags: {{from: tags, transform: split}}
  images: {{each: photos, fields: {{url: src, caption: alt, credit: by}}}}
  opening_hours:
    each: hours
    fields:
      weekday: {{from: day, transform: weekday}}
      opens: {{from: open, transform: time}}
      closes: {{from: close, transform: time}}
  opening_dates: {{each: dates, fields: {{date: {{from: on, transform: date}}, note: what}}}}
"""

KINDS = ("sight", "food", "bed", "gig")
DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def listing(n: int) -> dict[str, Any]:
    """Listing number ``n``: deterministic, with every kind of child data."""
    kind = KINDS[n % 4]
    record: dict[str, Any] = {
        "id": f"L{n:05d}",
        "kind": kind,
        "names": {"en": f"Listing {n}"},
        "body": f"<p>Description of <b>listing {n}</b> &amp; more.</p>",
        "addr": {"street": f"{n} Main Street", "town": "Innsbruck", "zip": 6020 + n % 10},
        "lat": f"{47 + (n % 100) / 1000:.4f}".replace(".", ","),
        "lon": 11.4 + (n % 50) / 1000,
        "phone": f"+43 512 {n:06d}",
        "web": f"www.example.org/l/{n}",
        "stars": str(n % 5 + 1),
        "tags": "family, outdoor" if n % 2 else "indoor",
        "photos": [
            {"src": f"https://img.example.org/{n}/{i}.jpg", "alt": f"Photo {i}", "by": "TVB"}
            for i in range(n % 3)
        ],
    }
    if n % 3 == 0:
        record["names"]["de"] = f"Eintrag {n}"
    if n % 7 != 0:
        record["email"] = f"info{n}@example.org"
    if kind == "sight":
        record["hours"] = [{"day": d, "open": "9:00", "close": "5 PM"} for d in DAYS[:5]]
    if kind == "gig":
        record["dates"] = [{"on": "2026-07-01", "what": "Premiere"}, {"on": "2026-07-02"}]
    return record


def feed(count: int) -> list[dict[str, Any]]:
    """``count`` listings; listing 7 repeats listing 6's content under its own id."""
    records = [listing(n) for n in range(1, count + 1)]
    duplicate = copy.deepcopy(records[5])
    duplicate["id"] = records[6]["id"]
    records[6] = duplicate
    return records


def write_mapping(folder: Path, name: str, url: str) -> Path:
    """Write the feed's mapping file into ``folder`` (a PIPELINE_SOURCES_PATH entry)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.yaml"
    path.write_text(MAPPING.format(name=name, url=url), "utf-8")
    return path


def expected_rows(records: list[dict[str, Any]]) -> dict[str, int]:
    """Rows each staging table should hold after the records are staged."""
    rows = {
        "listings": len(records),
        "listing_info": 0,
        "locations": len(records),
        "contact_info": 0,
        "listing_images": 0,
        "attributes": 0,
        "opening_hours": 0,
        "opening_dates": 0,
    }
    for r in records:
        rows["listing_info"] += len(r["names"])
        rows["contact_info"] += 2 + ("email" in r)
        rows["listing_images"] += len(r["photos"])
        rows["attributes"] += 1 + len([t for t in r["tags"].split(",") if t.strip()])
        rows["opening_hours"] += len(r.get("hours", []))
        rows["opening_dates"] += len(r.get("dates", []))
    return rows
