"""Rows repeating an id in one crawl: the source's ``on_repeat`` rule, the ``repeated``
stat, a report naming both rows, and a second crawl of an unchanged feed writing nothing
(Fáilte Ireland's attractions, which repeat 59 rows, included)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from conftest import run_cli
from fetch_helpers import crawl, crawl_state, error_rows, staged

from pipeline_core.db.tables import staging
from pipeline_core.stages.repeats import merge_records
from pipeline_core.testing import FeedServer

FEED = """\
id,name,phone,web,town
1,Kylemore Abbey,+353 95 52000,,Connemara
2,Dunguaire Castle,,https://dunguaire.ie,Kinvara
1,Kylemore Abbey,,https://www.kylemoreabbey.com,
3,Cliffs of Moher,+353 65 708 6141,,Liscannor
1,Kylemore Abbey & Gardens,,,
"""
MAPPING = """\
source: {name}
dmo: test-dmo
fetcher: csv_feed
url: {url}
id: id
defaults: {{language: en, country: IE, category: attraction}}
{rule}
fields:
  name: name
  contact.phone: {{from: phone, transform: phone}}
  contact.website: {{from: web, transform: url}}
  location.locality: town
"""
RULES = ("merge", "first", "last", "invalid")


def test_merge_keeps_what_the_later_record_leaves_empty() -> None:
    earlier = {"name": {"en": "A"}, "contact": {"phone": "+1"}, "subcategories": ["x"]}
    later = {
        "name": {"en": "B"},
        "contact": {"website": "https://b", "phone": ""},
        "subcategories": [],
    }
    assert merge_records(earlier, later) == {
        "name": {"en": "B"},
        "contact": {"phone": "+1", "website": "https://b"},
        "subcategories": ["x"],
    }


def _written(engine: sa.Engine, source: str) -> dict[str, Any]:
    listings = staging["listings"]
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(listings.c.external_id, listings.c.updated_at).where(
                listings.c.source == source
            )
        ).all()
    return dict(rows)


def test_each_rule_and_an_unchanged_feed_writes_nothing_the_second_time(
    pipeline_env: dict[str, str], engine: sa.Engine, tmp_path: Path
) -> None:
    with FeedServer({"/sights.csv": FEED.encode()}) as server:
        mappings = {
            f"repeat-{rule}": MAPPING.format(
                name=f"repeat-{rule}",
                url=server.url("/sights.csv"),
                rule="" if rule == "merge" else f"on_repeat: {rule}",  # merge: the default
            )
            for rule in RULES
        }
        first = crawl(pipeline_env, tmp_path / "mappings", mappings)
        assert first.returncode == 0, first.stderr
        firsts = {rule: crawl_state(engine, f"repeat-{rule}")[1] for rule in RULES}
        written = {rule: _written(engine, f"repeat-{rule}") for rule in RULES}
        second = crawl(pipeline_env, tmp_path / "mappings", mappings)
        assert second.returncode == 0, second.stderr

    kylemore = {rule: staged(engine, f"repeat-{rule}")["1"] for rule in RULES}
    assert kylemore["merge"]["name"] == {"en": "Kylemore Abbey & Gardens"}
    assert kylemore["merge"]["contact"] == {
        "phone": "+3539552000",
        "website": "https://www.kylemoreabbey.com",
    }
    assert kylemore["merge"]["location"]["locality"] == "Connemara"
    assert kylemore["first"]["name"] == {"en": "Kylemore Abbey"}
    assert kylemore["first"]["contact"] == {"phone": "+3539552000"}
    assert kylemore["last"]["name"] == {"en": "Kylemore Abbey & Gardens"}
    assert "contact" not in kylemore["last"]
    assert kylemore["invalid"] == dict(kylemore["first"], source="repeat-invalid")

    counts = ("scraped", "inserted", "updated", "unchanged", "invalid", "repeated")
    assert {rule: tuple(firsts[rule][k] for k in counts) for rule in RULES} == {
        "merge": (5, 3, 1, 0, 0, 1),  # the merged record written once more, at the end
        "first": (5, 3, 0, 0, 0, 2),
        "last": (5, 3, 1, 0, 0, 1),
        "invalid": (5, 3, 0, 0, 2, 0),
    }
    for rule in RULES:
        stats = crawl_state(engine, f"repeat-{rule}")[1]
        repeats = 0 if rule == "invalid" else 2
        assert (stats["rows_written"], stats["inserted"], stats["updated"]) == (0, 0, 0), rule
        assert (stats["unchanged"], stats["repeated"]) == (3, repeats), rule
        assert _written(engine, f"repeat-{rule}") == written[rule], rule

    reports = [
        (e["external_id"], e["stage"], e["field"], e["message"])
        for e in error_rows(engine, "repeat-merge")
    ]
    url = server.url("/sights.csv")
    assert reports[:2] == [
        (
            "1",
            "repeat",
            "external_id",
            f"record 3 repeats the id of record 1 ({url}): merged into it, the later values "
            "winning (on_repeat: merge)",
        ),
        (
            "1",
            "repeat",
            "external_id",
            f"record 5 repeats the id of record 1 ({url}): merged into it, the later values "
            "winning (on_repeat: merge)",
        ),
    ]
    assert len(reports) == 4  # and again in the second crawl
    invalid = [e["message"] for e in error_rows(engine, "repeat-invalid")]
    assert invalid[0] == (
        f"record 3 repeats the id of record 1 ({url}): the later record is invalid "
        "(on_repeat: invalid)"
    )
    # the staged listing says it came from repeated rows
    listings = staging["listings"]
    with engine.connect() as conn:
        warnings = conn.execute(
            sa.select(listings.c.warnings).where(
                listings.c.source == "repeat-merge", listings.c.external_id == "1"
            )
        ).scalar_one()
    assert [w["field"] for w in warnings] == ["external_id", "external_id"]


def test_an_unknown_rule_is_refused_when_the_mapping_is_loaded(tmp_path: Path) -> None:
    from pipeline_core.exceptions import MappingError
    from pipeline_core.mapping import load_mapping_text

    with pytest.raises(MappingError) as raised:
        load_mapping_text(
            MAPPING.format(name="x", url="https://example.org/a.csv", rule="on_repeat: newest"),
            "x.yaml",
        )
    assert "on_repeat" in str(raised.value) and "'newest'" in str(raised.value)


def test_failte_ireland_attractions_crawled_twice_the_second_writes_no_row(
    pipeline_env: dict[str, str], engine: sa.Engine
) -> None:
    source = "failte-ireland-attractions"
    first = run_cli("crawl", source, "--no-progress", env=pipeline_env)
    assert first.returncode == 0, first.stderr
    written = _written(engine, source)
    assert len(written) == 3265
    errors = len(error_rows(engine, source))
    second = run_cli("crawl", source, "--no-progress", env=pipeline_env)
    assert second.returncode == 0, second.stderr
    complete, stats = crawl_state(engine, source)
    assert complete is True
    assert (stats["rows_written"], stats["inserted"], stats["updated"]) == (0, 0, 0)
    assert (stats["scraped"], stats["unchanged"], stats["repeated"]) == (3324, 3265, 59)
    assert _written(engine, source) == written
    # the second crawl reports the 59 repeats again, and no other error
    assert len(error_rows(engine, source)) == errors + 59
