"""Map processes, memoised transforms and counted error log lines (issue 16): records mapped
in worker processes come back, in order, exactly as the crawl's own thread maps them."""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from conftest import ROOT, run_cli
from feeds import feed, write_mapping

from pipeline_core.config import load_settings
from pipeline_core.db.tables import crawls, errors, staging
from pipeline_core.items import RawRecord
from pipeline_core.mapping import CompiledMapping, load_mapping_text
from pipeline_core.mapping.memo import TransformMemo
from pipeline_core.plugins import get_plugin_manager
from pipeline_core.stages.errors import SHOWN_PER_KIND, ErrorSink
from pipeline_core.stages.map_processes import MapProcesses
from pipeline_core.stages.mapping_outcome import MapOutcome, map_record
from pipeline_core.testing import FeedServer, paginate_json
from pipeline_core.transforms import Transform

MAPPING = """\
source: pooled
dmo: test-dmo
fetcher: json_api
url: https://example.org/feed
records: data
id: id
defaults: {language: en, country: AT, phone_region: AT}
licence: {name: CC-BY-4.0, attribution: "Test DMO"}
fields:
  category: {from: kind, map: {sight: attraction, food: restaurant}}
  name.en: {from: name, transform: text}
  description: {from: body, transform: html_text}
  contact.phone: {from: phone, transform: {phone: {invalid: keep}}}
  location.latitude: {from: lat, transform: float}
  opening_hours:
    each: hours
    fields:
      weekday: {from: day, transform: weekday}
      opens: {from: open, transform: time}
"""


def transforms() -> dict[str, Transform]:
    return get_plugin_manager(load_settings({})).transforms()


def payload(n: int) -> dict[str, Any]:
    """Record ``n``: valid, or (every 5th) with a phone kept as published, (every 7th) with
    a kind the map lacks, (every 11th) with a latitude out of range."""
    record: dict[str, Any] = {
        "id": f"P{n}",
        "kind": "sight" if n % 2 else "food",
        "name": f"  Place {n} ",
        "body": "<p>Same &amp; <b>same</b></p>" if n % 3 else f"<p>Own text {n}</p>",
        "phone": "+43 512 123456" if n % 5 else "not a phone",
        "lat": "47,26" if n % 11 else "147,0",
        "hours": [{"day": "Mo", "open": "9am"}, {"day": "Di", "open": "09:00:00"}],
    }
    if n % 7 == 0:
        record["kind"] = "unknown kind"
    return record


def run_processes(processes: MapProcesses, raws: list[RawRecord]) -> list[Any]:
    async def go() -> list[Any]:
        return list(await asyncio.gather(*(processes.map(raw) for raw in raws)))

    try:
        return asyncio.run(go())
    finally:
        processes.close()


def test_records_mapped_in_worker_processes_come_back_in_order_as_mapped_here(
    tmp_path: Path,
) -> None:
    doc = load_mapping_text(MAPPING, "pooled.yaml")
    mapping = CompiledMapping(doc, transforms())
    raws = [RawRecord("pooled", None, payload(n)) for n in range(40)]
    here = [map_record(mapping, raw.payload, None, checks=True) for raw in raws]
    taken: list[tuple[str, MapOutcome]] = []

    def take(raw: RawRecord, out: MapOutcome) -> Any:
        assert out.record is None or out.encoded is None  # sent as JSON when it can be
        out.take_record()
        taken.append((raw.payload["id"], out))
        return (raw.payload["id"], out)

    def fallback(raw: RawRecord) -> Any:
        raise AssertionError("no record may be mapped here")

    processes = MapProcesses(doc, take, fallback, processes=2, batch_size=6)
    answers = run_processes(processes, raws)
    assert [eid for eid, _ in taken] == [f"P{n}" for n in range(40)]  # in order
    assert [out for _, out in answers] == here
    # the outcomes name record and field, as the crawl's error rows do
    assert here[7].error == (
        "P7",
        "category",
        "value 'unknown kind' from kind is not in the field's map",
        "unknown kind",
    )
    assert here[5].kept is not None and [k[1] for k in here[5].kept] == ["contact.phone"]
    assert here[11].checked is not None
    assert [field for field, _ in here[11].checked.issues] == ["location.latitude"]
    assert here[1].checked is not None and here[1].checked.issues == []
    assert processes.memo.hits > 0 and processes.peak_rss_kib > 0


def test_records_are_mapped_here_when_a_worker_cannot_map_them(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # "shout" is registered here only: the worker processes cannot compile the mapping
    shout = Transform("shout", lambda value: str(value).upper(), "upper case")
    registry = {**transforms(), "shout": shout}
    doc = load_mapping_text(MAPPING.replace("transform: text}", "transform: shout}"), "pooled.yaml")
    mapping = CompiledMapping(doc, registry)
    raws = [RawRecord("pooled", None, payload(n)) for n in range(1, 9)]
    order: list[str] = []

    def fallback(raw: RawRecord) -> Any:
        order.append(raw.payload["id"])
        return map_record(mapping, raw.payload, None, checks=True)

    processes = MapProcesses(
        doc, lambda raw, out: pytest.fail("no worker answers"), fallback, batch_size=3
    )
    with caplog.at_level(logging.WARNING, "pipeline_core.stages.map_processes"):
        answers = run_processes(processes, raws)
    assert order == [f"P{n}" for n in range(1, 9)]
    assert [out.record["name"] for out in answers if out.record] == [
        {"en": f"  PLACE {n} "} for n in range(1, 9) if n % 7
    ]
    assert not processes.working
    assert [r.message.split(" (")[0] for r in caplog.records] == ["pooled: a map process failed"]


def test_a_memo_is_emptied_per_crawl_counts_hits_and_copies_lists() -> None:
    calls: list[str] = []

    def split(value: str) -> list[str]:
        calls.append(value)
        return value.split(",")

    memo = TransformMemo(split)
    first = memo("a,b")
    first.append("changed by a later stage")
    assert memo("a,b") == ["a", "b"]  # a copy, not the list handed out before
    assert (memo.hits, memo.misses, calls) == (1, 1, ["a,b"])
    memo.reset()
    assert (memo.hits, memo.misses) == (0, 0)
    assert memo("a,b") == ["a", "b"] and calls == ["a,b", "a,b"]  # a new crawl pays again
    lengths = TransformMemo(len)
    assert lengths([1, 2]) == lengths([1, 2]) == 2 and lengths.hits == 1  # keyed by JSON


def test_a_memo_that_stepped_aside_is_back_for_the_next_crawl() -> None:
    memo = TransformMemo(str.upper, size=10)
    namespace: dict[str, Any] = {}
    memo.bind_slot(namespace, "c0")
    for n in range(30):
        memo(f"value {n}")
    assert not memo.active and namespace["c0"] is str.upper
    memo.reset()
    assert memo.active and namespace["c0"] is memo


def test_the_mapping_reports_its_memos_hits_per_crawl() -> None:
    mapping = CompiledMapping(load_mapping_text(MAPPING, "pooled.yaml"), transforms())
    for n in range(1, 21):
        if n % 7:
            mapping.apply(payload(n))
    stats = mapping.memo_stats()
    assert stats.hits > stats.misses > 0
    assert 0.5 < stats.hit_rate < 1.0
    mapping.reset_memos()
    assert (mapping.memo_stats().hits, mapping.memo_stats().misses) == (0, 0)


def test_errors_of_one_kind_are_logged_five_times_then_counted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    sink = ErrorSink("noisy")
    with caplog.at_level(logging.INFO, "pipeline_core.stages.errors"):
        for n in range(12):
            sink.add("map", "kept as published", external_id=f"r{n}", field="contact.phone")
        sink.add("validate", "out of range", external_id="r1", field="location.latitude")
        sink.log_summary()
    lines = [record.getMessage() for record in caplog.records]
    assert len(lines) == SHOWN_PER_KIND + 2
    assert lines[0] == "noisy record r0: contact.phone: kept as published"
    assert lines[SHOWN_PER_KIND - 1].endswith(
        "(the first 5 errors of map contact.phone are logged, further ones counted)"
    )
    assert lines[-1] == ("noisy: 12 errors of map contact.phone (5 logged; all in pipeline.errors)")
    assert len(sink.pending) == 13 and sink.kinds[("map", "contact.phone")] == 12


def test_the_generated_feed_repeats_values_as_real_feeds_do() -> None:
    # python -m benchmarks.repetition: the real feeds, then a generated feed of Fáilte
    # Ireland's size; each line: label, values, distinct, ratio, path
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.repetition", "--listings", "3324"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    feeds = done.stdout.split("\n\n")
    assert [feed.splitlines()[0] for feed in feeds] == [
        "odh-events: 100 records",
        "failte-ireland-attractions: 3,324 records",
        "datatourisme-poi: 1 records",
        "bench-listings: 3,324 records",
    ]
    ratios = {
        (feed.splitlines()[0].split(":")[0], line.split()[-1]): float(line.split()[-2])
        for feed in feeds
        for line in feed.splitlines()[2:]
        if line.split()[-2] != "-"
    }
    assert ratios[("failte-ireland-attractions", "Telephone")] == 0.79
    assert ratios[("odh-events", "ContactInfos.de.Phonenumber")] == 0.37
    assert 0.6 < ratios[("bench-listings", "contact.phone")] < 0.9
    assert ratios[("failte-ireland-attractions", "Name")] == 0.98
    assert ratios[("bench-listings", "name.de")] > 0.95
    assert ratios[("odh-events", "Detail.de.BaseText")] == 1.0
    assert ratios[("bench-listings", "description.de")] > 0.95
    assert ratios[("bench-listings", "hours[].open")] < 0.05  # DATAtourisme's: 0.05
    assert ratios[("bench-listings", "type")] < 0.05


def _staged_and_errors(engine: sa.Engine, source: str) -> tuple[list[Any], list[Any]]:
    listings = staging["listings"]
    with engine.connect() as conn:
        staged_rows = conn.execute(
            sa.select(listings.c.external_id, listings.c.record, listings.c.warnings)
            .where(listings.c.source == source)
            .order_by(listings.c.external_id)
        ).all()
        error_rows = conn.execute(
            sa.select(errors.c.external_id, errors.c.stage, errors.c.field, errors.c.message)
            .where(errors.c.source == source)
            .order_by(errors.c.id)
        ).all()
    # the source's name is the one difference the two crawls may have
    return [
        (eid, {k: v for k, v in record.items() if k != "source"}, warnings)
        for eid, record, warnings in staged_rows
    ], [tuple(row) for row in error_rows]


def test_a_crawl_whose_map_processes_map_its_records_stages_what_the_crawl_would(
    pipeline_env: dict[str, str], engine: sa.Engine, tmp_path: Path
) -> None:
    records = feed(240)
    records[99]["lat"] = 123.5  # invalid: latitude out of range
    records[120]["kind"] = "unknown kind"  # a mapping error
    records[150] = dict(records[40], names={"de": "Zweite Zeile"})  # repeats L00041's id
    mappings = tmp_path / "mappings"
    with FeedServer(paginate_json(records, per_page=25)) as server:
        write_mapping(mappings, "here", server.url("/listings?page=1"))
        write_mapping(mappings, "pooled", server.url("/listings?page=1"))
        env = dict(pipeline_env, PIPELINE_SOURCES_PATH=str(mappings), LOG_LEVEL="DEBUG")
        here = run_cli("crawl", "here", "--no-progress", "-s", "PIPELINE_MAP_PROCESSES=0", env=env)
        pooled = run_cli(
            "crawl",
            "pooled",
            "--no-progress",
            "-s",
            "PIPELINE_MAP_PROCESSES_AFTER=30",
            env=env,
        )
    assert here.returncode == 0, here.stderr[-3000:]
    assert pooled.returncode == 0, pooled.stderr[-3000:]
    assert "'dmo/map_processes/peak_rss_kib'" in pooled.stderr  # the workers mapped
    assert "dmo/map_processes" not in here.stderr
    staged_here, errors_here = _staged_and_errors(engine, "here")
    staged_pooled, errors_pooled = _staged_and_errors(engine, "pooled")
    assert len(staged_here) == 237  # 240 rows, one repeat, one invalid, one unmapped
    assert staged_pooled == staged_here
    # the same error rows (a batch's map errors may be written before its validate errors)
    assert sorted(errors_pooled) == sorted(errors_here)
    assert sorted((e[0], e[1], e[2]) for e in errors_here) == [
        ("L00041", "repeat", "external_id"),
        ("L00100", "validate", "location.latitude"),
        ("L00121", "map", "category"),
    ]
    with engine.connect() as conn:
        stats = {
            row.source: dict(row.stats)
            for row in conn.execute(sa.select(crawls.c.source, crawls.c.stats))
        }
    # the second source's listings each duplicate the first's (rows_written: their groups)
    assert (stats["here"].pop("duplicates"), stats["pooled"].pop("duplicates")) == (1, 237)
    assert stats["pooled"].pop("rows_written") - stats["here"].pop("rows_written") == 236
    assert stats["pooled"] == stats["here"]
