"""Transformed records through the stages into staging: the abbey's hours become rows,
hours that cannot be read are kept as published and reported, the record is staged."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from conftest import ROOT

from pipeline_core.config import load_settings
from pipeline_core.db.tables import errors, staging
from pipeline_core.items import RawRecord
from pipeline_core.mapping import CompiledMapping, load_mapping_file
from pipeline_core.model.opening import is_open
from pipeline_core.plugins import get_plugin_manager
from pipeline_core.stages.session import StageSession

ABBEY = ROOT / "mappings/samples/datatourisme-poi/30-0075b425-3bee-3e37-ae93-5f5a5535d1b2.json"

MAPPING = """\
source: poi
dmo: normandie
fetcher: json_api
url: https://example.org/api
id: dc:identifier
defaults: {language: fr, country: FR, phone_region: FR}
fields:
  name: {from: rdfs:label, transform: languages}
  category: {from: "@type", transform: {category: {ignore: [PointOfInterest]}}}
  subcategories:
    from: "@type"
    transform:
      taxonomy:
        ignore: [PlaceOfInterest, PointOfInterest]
        table: {Aqueduct: heritage_site, PigeonLoft: heritage_site}
  location:
    from: {latitude: "isLocatedAt.0.schema:geo.schema:latitude",
           longitude: "isLocatedAt.0.schema:geo.schema:longitude"}
    transform: {coordinates: {country: FR}}
  $: {from: "isLocatedAt.0.schema:openingHoursSpecification", transform: opening_hours}
"""


def _run(engine: sa.Engine, tmp_path: Path, payloads: list[dict[str, Any]]) -> dict[str, Any]:
    path = tmp_path / "poi.yaml"
    path.write_text(MAPPING, "utf-8")
    transforms = get_plugin_manager(load_settings({})).transforms()
    mapping = CompiledMapping(load_mapping_file(path), transforms)
    session = StageSession(engine, mapping, fetcher="json_api", origin=str(path), batch_size=10)
    session.open()
    for payload in payloads:
        item = session.map(RawRecord("poi", None, payload))
        if item is not None and session.validate(session.hash(item)):
            session.stage(item)
    return session.close("finished")


def test_the_abbey_and_a_record_with_unreadable_hours_are_staged(
    engine: sa.Engine, tmp_path: Path
) -> None:
    abbey = json.loads(ABBEY.read_text("utf-8"))
    other = json.loads(json.dumps(abbey))
    other["dc:identifier"] = "other-1"
    other["isLocatedAt"][0]["schema:openingHoursSpecification"] = "sur rendez-vous"
    stats = _run(engine, tmp_path, [abbey, other])
    assert (stats["inserted"], stats["invalid"], stats["errors"]) == (2, 0, 1)

    listings, hours = staging["listings"], staging["opening_hours"]
    with engine.connect() as conn:
        records = {
            row.external_id: row.record
            for row in conn.execute(sa.select(listings.c.external_id, listings.c.record))
        }
        abbey_id = conn.execute(
            sa.select(listings.c.id).where(listings.c.external_id == abbey["dc:identifier"])
        ).scalar_one()
        rows = conn.execute(
            sa.select(hours.c.weekday, hours.c.opens, hours.c.closes, hours.c.valid_from,
                      hours.c.valid_to).where(hours.c.listing_id == abbey_id)
        ).all()  # fmt: skip
        error = conn.execute(sa.select(errors)).one()
    assert len(rows) == 43
    # the rows as read back from the database answer like the mapped record
    read_back = {
        "opening_hours": [
            {"weekday": r.weekday, "opens": r.opens, "closes": r.closes,
             "valid_from": r.valid_from.isoformat(), "valid_to": r.valid_to.isoformat()}
            for r in rows
        ]
    }  # fmt: skip
    assert is_open(read_back, datetime(2024, 6, 10, 11)) is True  # a Monday in summer
    assert is_open(read_back, datetime(2024, 10, 14, 11)) is False  # a Monday in autumn

    staged = records[abbey["dc:identifier"]]
    assert staged["category"] == "attraction"
    assert staged["subcategories"] == ["religious_site", "heritage_site"]
    assert staged["name"] == {
        "en": "Abbaye Sainte-Trinité de La Lucerne",
        "fr": "Abbaye Sainte-Trinité de La Lucerne",
    }
    assert staged["opening_hours_osm"].startswith("2024 Jan 1-2024 Dec 31 We-Sa 10:00-18:00; ")

    kept = records["other-1"]
    assert kept["opening_hours_text"] == "sur rendez-vous"
    assert "opening_hours" not in kept
    assert (error.source, error.external_id, error.stage, error.field, error.message) == (
        "poi",
        "other-1",
        "map",
        "$",
        "opening_hours: not opening hours in OpenStreetMap syntax or in free text the "
        "reader knows (fr) (value 'sur rendez-vous' from "
        "isLocatedAt.0.schema:openingHoursSpecification); kept as published",
    )
