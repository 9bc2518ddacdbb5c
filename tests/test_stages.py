"""The stages as plain objects (no Scrapy): a session over records, hooks fired."""

from __future__ import annotations

import copy
import multiprocessing
import os
import re
import signal
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import pytest
import sqlalchemy as sa
from conftest import run_cli
from feeds import feed, listing, write_mapping

from pipeline_core.config import load_settings
from pipeline_core.db.engine import make_engine
from pipeline_core.db.tables import CHILD_TABLES, crawls, errors, sources, staging
from pipeline_core.hookspecs import hookimpl
from pipeline_core.items import ListingItem, RawRecord
from pipeline_core.mapping import CompiledMapping, load_mapping_file, load_mapping_text
from pipeline_core.model import record_hash
from pipeline_core.plugins import get_plugin_manager
from pipeline_core.stages.archive import ArchiveSession
from pipeline_core.stages.session import StageSession
from pipeline_core.stages.writer import StageWriter, child_rows


class Recorder:
    """A plugin that records the event hooks."""

    def __init__(self) -> None:
        self.staged: list[tuple[str, list[dict[str, Any]]]] = []
        self.finished: list[tuple[str, dict[str, Any]]] = []

    @hookimpl
    def records_staged(self, source: str, records: list[dict[str, Any]]) -> None:
        self.staged.append((source, records))

    @hookimpl
    def crawl_finished(self, source: str, stats: dict[str, Any]) -> None:
        self.finished.append((source, stats))


def session(
    engine: sa.Engine,
    tmp_path: Path,
    batch_size: int,
    hook: Any,
    background: bool | Literal["thread", "process"] = False,
) -> StageSession:
    path = write_mapping(tmp_path / "m", "plain", "https://example.org/feed")
    transforms = get_plugin_manager(load_settings({})).transforms()
    mapping = CompiledMapping(load_mapping_file(path), transforms)
    return StageSession(
        engine,
        mapping,
        fetcher="json_api",
        origin=str(path),
        batch_size=batch_size,
        hook=hook,
        background=background,
    )


def run(s: StageSession, records: list[dict[str, Any]]) -> dict[str, Any]:
    s.open()
    for payload in records:
        item = s.map(RawRecord("plain", None, payload))
        if item is not None and s.validate(s.hash(item)):
            s.stage(item)
    return s.close("finished")


@pytest.mark.parametrize("background", [False, "thread", "process"])
def test_session_batches_and_fires_hooks(
    engine: sa.Engine, tmp_path: Path, background: bool | Literal["thread", "process"]
) -> None:
    pm = get_plugin_manager(load_settings({}))
    recorder = Recorder()
    pm.register(recorder, name="recorder")
    records = feed(25)
    records[3]["web"] = "not a url at all"  # a transform error: one map error
    # hooks fire in this process, after each batch's commit, whoever wrote the batch
    stats = run(session(engine, tmp_path, 10, pm.hook, background), records)
    assert (stats["scraped"], stats["inserted"], stats["invalid"]) == (25, 24, 1)
    assert [len(batch) for _, batch in recorder.staged] == [10, 10, 4]
    first = recorder.staged[0][1][0]
    assert (first["external_id"], first["action"]) == ("L00001", "inserted")
    assert first["record"]["name"] == {"en": "Listing 1"}
    assert recorder.finished == [("plain", stats)]
    with engine.connect() as conn:
        error = conn.execute(sa.select(errors)).mappings().one()
    assert (error["source"], error["external_id"], error["field"], error["stage"]) == (
        "plain",
        "L00004",
        "contact.website",
        "map",
    )
    assert error["message"] == "url: not an http(s) URL (value 'not a url at all' from web)"

    # the same records again: nothing staged, no hook call for staged records
    recorder.staged.clear()
    stats = run(session(engine, tmp_path, 10, pm.hook, background), records)
    assert (stats["unchanged"], stats["rows_written"], recorder.staged) == (24, 0, [])


@pytest.mark.parametrize("background", [False, "process"])
def test_a_record_the_database_refuses_is_left_out_and_its_batch_staged(
    engine: sa.Engine, tmp_path: Path, background: bool | Literal["thread", "process"]
) -> None:
    # Not caught by validation (the pipeline's validate stage is skipped here): the batch is
    # refused, then written one record at a time; only the refused record is left out.
    s = session(engine, tmp_path, 5, None, background)
    s.open()
    for payload in feed(12):
        item = s.map(RawRecord("plain", None, payload))
        assert item is not None
        s.hash(item)
        if item.external_id == "L00008":
            item.record["category"] = None  # NOT NULL column
        s.stage(item)
    stats = s.close("finished")
    counts = {k: stats[k] for k in ("scraped", "inserted", "invalid", "errors", "complete")}
    assert counts == {"scraped": 12, "inserted": 11, "invalid": 1, "errors": 1, "complete": True}
    with engine.connect() as conn:
        staged = conn.execute(sa.select(staging["listings"].c.external_id)).scalars().all()
        locations = conn.execute(sa.select(sa.func.count()).select_from(staging["locations"]))
        assert locations.scalar_one() == 11
        ((external_id, stage, message),) = conn.execute(
            sa.select(errors.c.external_id, errors.c.stage, errors.c.message)
        ).all()
    assert sorted(staged) == [f"L{n:05d}" for n in range(1, 13) if n != 8]
    assert (external_id, stage) == ("L00008", "stage-write")
    assert message.startswith("the database refused the record: ")
    assert "category" in message


def test_a_batch_that_fails_for_the_database_leaves_staging_as_it_was(
    engine: sa.Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The connection is lost while the second batch is written: nothing of it is staged,
    # and the error reaches the caller (an ingest job runs again).
    s = session(engine, tmp_path, 5, None)
    s.open()
    real = s._write

    def lost(batch: list[Any], error_rows: list[Any]) -> Any:
        if batch[0].external_id == "L00006":
            raise sa.exc.OperationalError("COMMIT", {}, Exception("server closed the connection"))
        return real(batch, error_rows)

    monkeypatch.setattr(s, "_write", lost)
    with pytest.raises(sa.exc.OperationalError):
        for payload in feed(12):
            item = s.map(RawRecord("plain", None, payload))
            assert item is not None
            s.stage(s.hash(item))
    with engine.connect() as conn:
        count = conn.execute(sa.select(sa.func.count()).select_from(staging["listings"]))
        assert count.scalar_one() == 5
        children = conn.execute(sa.select(sa.func.count()).select_from(staging["locations"]))
        assert children.scalar_one() == 5


def test_quickstart_on_a_fresh_home(tmp_path: Path) -> None:
    env = {"PIPELINE_HOME": str(tmp_path / "home"), "PATH": "/usr/bin:/bin"}
    result = run_cli("quickstart", env=env)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert re.search(r"^database migrated to revision \w+$", out, re.M)
    assert "example-city: scraped 7, inserted 7, updated 0, unchanged 0, invalid 0" in out
    inserted = sum(int(n) for n in re.findall(r"^[\w-]+: scraped \d+, inserted (\d+)", out, re.M))
    tables = dict(re.findall(r"^  ([a-z_]+\.[a-z_]+) +(\d+)$", out, re.M))
    assert int(tables["staging.listings"]) == inserted
    assert int(tables["pipeline.crawls"]) == out.count(": scraped ")
    assert str(tmp_path / "home" / "pipeline.staging.db") in out
    again = run_cli("quickstart", env=env)
    assert "example-city: scraped 7, inserted 0, updated 0, unchanged 7, invalid 0" in again.stdout


@pytest.mark.parametrize("background", ["thread", "process"])
def test_a_failed_background_batch_is_an_error_and_the_crawl_goes_on(
    engine: sa.Engine, tmp_path: Path, background: Literal["thread", "process"]
) -> None:
    path = write_mapping(tmp_path / "m", "plain", "https://example.org/feed")
    transforms = get_plugin_manager(load_settings({})).transforms()
    mapping = CompiledMapping(load_mapping_file(path), transforms)
    s = StageSession(
        engine, mapping, fetcher="json_api", origin=str(path), batch_size=5, background=background
    )
    s.open()
    for n, payload in enumerate(feed(12)):
        item = s.map(RawRecord("plain", None, payload))
        assert item is not None
        s.hash(item)
        if n == 6:
            s.page_error("HTTP 500 from http://127.0.0.1/page-2", "http://127.0.0.1/page-2")
        if n == 7:
            item.record["category"] = None  # NOT NULL column: the second batch is refused
        s.stage(item)
    stats = s.close("finished")
    counts = (stats["inserted"], stats["invalid"], stats["complete"], stats["errors"])
    assert counts == (11, 1, False, 2)
    with engine.connect() as conn:
        staged = conn.execute(sa.select(sa.func.count()).select_from(staging["listings"]))
        assert staged.scalar_one() == 11
        rows = conn.execute(
            sa.select(errors.c.stage, errors.c.external_id, errors.c.message).order_by(errors.c.id)
        )
        fetch, write = rows.all()
    # the page error went with the refused batch, and was written again after it
    assert (fetch.stage, fetch.message) == ("fetch", "HTTP 500 from http://127.0.0.1/page-2")
    assert (write.stage, write.external_id) == ("stage-write", "L00008")
    assert write.message.startswith("the database refused the record: ")


def test_duplicate_pointers_follow_their_group(engine: sa.Engine, tmp_path: Path) -> None:
    first, second = listing(1), listing(2)
    listings = staging["listings"]

    def pointers() -> dict[str, str | None]:
        with engine.connect() as conn:
            rows = conn.execute(
                sa.select(listings.c.external_id, listings.c.id, listings.c.duplicate_of)
            ).all()
        by_id = {row.id: row.external_id for row in rows}
        return {row.external_id: by_id.get(row.duplicate_of) for row in rows}

    run(session(engine, tmp_path, 10, None), [first, second])
    assert pointers() == {"L00001": None, "L00002": None}
    # the older listing takes the newer one's content: the newer one points at it
    same = dict(second, id="L00001")
    run(session(engine, tmp_path, 10, None), [same, second])
    assert pointers() == {"L00001": None, "L00002": "L00001"}
    # and changes away again: the pointer is cleared
    run(session(engine, tmp_path, 10, None), [first, second])
    assert pointers() == {"L00001": None, "L00002": None}


def test_withdrawing_a_groups_original_points_the_group_at_the_next(
    engine: sa.Engine, tmp_path: Path
) -> None:
    # Three listings with one content: the oldest is the original. It goes from the feed
    # and is withdrawn: the next oldest becomes the original, and nothing points at a
    # withdrawn listing.
    same = [dict(listing(1), id=f"L0000{n}") for n in (1, 2, 3)]
    listings = staging["listings"]

    def pointers() -> dict[str, tuple[str, str | None]]:
        with engine.connect() as conn:
            rows = conn.execute(
                sa.select(
                    listings.c.external_id,
                    listings.c.id,
                    listings.c.status,
                    listings.c.duplicate_of,
                )
            ).all()
        by_id = {row.id: row.external_id for row in rows}
        return {row.external_id: (row.status, by_id.get(row.duplicate_of)) for row in rows}

    run(session(engine, tmp_path, 10, None), same)
    assert pointers() == {
        "L00001": ("active", None),
        "L00002": ("active", "L00001"),
        "L00003": ("active", "L00001"),
    }
    stats = run(session(engine, tmp_path, 10, None), same[1:])
    assert (stats["withdrawn"], stats["complete"]) == (1, True)
    assert pointers() == {
        "L00001": ("withdrawn", None),
        "L00002": ("active", None),
        "L00003": ("active", "L00002"),
    }


def test_the_writer_process_outlives_ctrl_c(engine: sa.Engine, tmp_path: Path) -> None:
    # Ctrl-C (or a service manager's SIGTERM) reaches the whole process group; the crawl
    # shuts down gracefully and its last batches must still be written
    s = session(engine, tmp_path, 5, None, "process")
    s.open()
    for n, payload in enumerate(feed(12)):
        item = s.map(RawRecord("plain", None, payload))
        assert item is not None
        s.stage(s.hash(item))
        if n == 4:  # the first full batch started the writer process
            s.drain()
            (writer,) = [
                p for p in multiprocessing.active_children() if p.name == "stage-write-plain"
            ]
            assert writer.pid is not None
            os.kill(writer.pid, signal.SIGINT)
            os.kill(writer.pid, signal.SIGTERM)
    stats = s.close("finished")
    assert (stats["inserted"], stats["complete"], stats["errors"]) == (12, True, 0)
    assert [p for p in multiprocessing.active_children() if p.name == "stage-write-plain"] == []


def test_an_id_repeated_in_a_crawl_counts_every_record_once(
    engine: sa.Engine, tmp_path: Path
) -> None:
    # Batches of 5. L00002 comes again in its own batch with another name and a third time,
    # the same, in the next batch; L00004 comes again in the next batch with another name.
    # Repeats are merged and held to the end of the crawl, then written when they changed
    # the staged record: L00002 and L00004 are inserted, then updated once each (the last
    # repeat owns the write), and L00002's other repeat wrote nothing (repeated).
    records = feed(8)
    renamed = copy.deepcopy(records[1])
    renamed["names"] = {"en": "Renamed"}
    moved = copy.deepcopy(records[3])
    moved["names"] = {"en": "Moved"}
    crawl = [*records[:4], renamed, records[4], copy.deepcopy(renamed), moved, *records[5:]]
    stats = run(session(engine, tmp_path, 5, None), crawl)
    counts = {k: stats[k] for k in ("scraped", "inserted", "updated", "unchanged", "repeated")}
    assert counts == {"scraped": 11, "inserted": 8, "updated": 2, "unchanged": 0, "repeated": 1}
    assert stats["scraped"] == sum(v for k, v in counts.items() if k != "scraped")
    names = staging["listing_info"]
    listings = staging["listings"]
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(listings.c.external_id, names.c.name)
            .join(names, names.c.listing_id == listings.c.id)
            .where(listings.c.external_id.in_(["L00002", "L00004"]))
            .order_by(listings.c.external_id)
        ).all()
    assert [tuple(row) for row in rows] == [("L00002", "Renamed"), ("L00004", "Moved")]


def test_a_killed_writer_process_loses_its_batch_only(engine: sa.Engine, tmp_path: Path) -> None:
    # The writer process is SIGKILLed after its first batch: the batch sent to it next fails
    # as a whole (an error row, the crawl not complete), a new writer process writes the
    # batches after it, and the session itself goes on.
    s = session(engine, tmp_path, 5, None, "process")
    s.open()
    for n, payload in enumerate(feed(15)):
        item = s.map(RawRecord("plain", None, payload))
        assert item is not None
        s.stage(s.hash(item))
        if n == 4:
            s.drain()
            (writer,) = [
                p for p in multiprocessing.active_children() if p.name == "stage-write-plain"
            ]
            assert writer.pid is not None
            os.kill(writer.pid, signal.SIGKILL)
            writer.join(10)
    stats = s.close("finished")
    assert (stats["inserted"], stats["complete"], stats["errors"]) == (10, False, 1)
    listings = staging["listings"]
    with engine.connect() as conn:
        staged = conn.execute(sa.select(listings.c.external_id)).scalars().all()
        (row,) = conn.execute(sa.select(errors.c.stage, errors.c.message)).all()
    assert sorted(staged) == [f"L{n:05d}" for n in (*range(1, 6), *range(11, 16))]
    assert row.stage == "stage-write"
    assert row.message.startswith(
        "a batch was rolled back, its records are not staged: WriterProcessGone: "
    )
    assert [p for p in multiprocessing.active_children() if p.name == "stage-write-plain"] == []


def test_a_nul_in_a_text_value_is_invalid_and_the_batch_is_staged(
    engine: sa.Engine, tmp_path: Path
) -> None:
    records = feed(10)
    records[3]["names"] = {"en": "Bad\x00name"}
    records[8]["addr"]["street"] = "1 Main\x00Street"
    stats = run(session(engine, tmp_path, 10, None), records)
    assert (stats["inserted"], stats["invalid"], stats["complete"]) == (8, 2, True)
    listings = staging["listings"]
    with engine.connect() as conn:
        staged = conn.execute(sa.select(listings.c.external_id)).scalars().all()
        rows = conn.execute(
            sa.select(
                errors.c.source, errors.c.stage, errors.c.external_id, errors.c.field
            ).order_by(errors.c.external_id)
        ).all()
        message = conn.execute(sa.select(errors.c.message)).scalars().first()
    assert sorted(staged) == [f"L{n:05d}" for n in (1, 2, 3, 5, 6, 7, 8, 10)]
    assert [tuple(row) for row in rows] == [
        ("plain", "validate", "L00004", "name.en"),
        ("plain", "validate", "L00009", "location.street"),
    ]
    assert message == (
        "text holds a NUL character (\\x00), which the database cannot store; "
        "the record is left out"
    )


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("kind", ["stage", "archive"])
def test_opening_a_crawl_is_not_failed_by_a_commit_between_its_read_and_its_write(
    db_url: str, engine: sa.Engine, tmp_path: Path, kind: str
) -> None:
    """start_crawl reads ``pipeline.sources``, then writes. On SQLite a transaction that has
    read cannot take the write lock once another connection has committed since (it fails
    at once, whatever the busy timeout), so the write lock must be taken first. Here
    another connection (a worker's heartbeat, say) tries to commit just before the write."""
    other = make_engine(db_url)
    other_commits: list[bool] = []
    now = datetime.now(UTC)

    @sa.event.listens_for(engine, "before_cursor_execute")
    def _commit_elsewhere(*args: Any) -> None:
        if args[2].startswith("INSERT INTO pipeline.sources") and not other_commits:
            try:
                with other.begin() as conn:
                    conn.exec_driver_sql("PRAGMA busy_timeout=200")
                    conn.execute(
                        sa.insert(sources).values(
                            name="other", dmo="d", fetcher="f", origin="o", created_at=now
                        )
                    )
            except sa.exc.OperationalError as exc:
                assert "database is locked" in str(exc.orig)
                other_commits.append(False)
            else:
                other_commits.append(True)

    if kind == "stage":
        opened = session(engine, tmp_path, 10, None)
        opened.open()
        crawl = opened.crawl
        opened.close("finished")
    else:
        archive = ArchiveSession(
            engine, "plain", "plain-dmo", "json_api", "test", tmp_path / "raw.jsonl"
        )
        archive.open()
        crawl = archive.crawl
        archive.close("finished")
    other.dispose()

    assert other_commits == [False]  # it waited for the write lock held by the open
    assert crawl is not None
    with engine.connect() as conn:
        assert conn.execute(sa.select(sources.c.name)).scalars().all() == ["plain"]
        assert conn.execute(sa.select(crawls.c.id, crawls.c.source)).all() == [(crawl.id, "plain")]


def rich_record(n: int, **changes: Any) -> dict[str, Any]:
    """A canonical record that fills every child table, with every kind of value."""
    record: dict[str, Any] = {
        "source": "plain",
        "external_id": f"R{n}",
        "dmo": "test-dmo",
        "category": "museum",
        "name": {"en": f"Museum {n}", "de": f"Museum {n} (de)"},
        "description": {"en": 'Line one\nline "two" \\ three', "fr": "Musée — été"},
        "short_description": {"it": "Breve"},
        "location": {
            "street": "1 Quay St",
            "postal_code": "H91",
            "locality": "Galway",
            "country": "IE",
            "latitude": 53.2707 + n / 1e4,
            "longitude": -9.0568,
        },
        "contact": {"phone": "+35391000000", "email": "info@example.org", "fax": ""},
        "images": [
            {"url": f"https://img.example.org/{n}.jpg", "caption": "Front", "licence": "CC0"},
            {"url": f"https://img.example.org/{n}b.jpg", "credit": "A. Photographer"},
        ],
        "attributes": {
            "wheelchair": True,
            "dogs": False,
            "stars": 4,
            "rating": 4.5,
            "tags": ["family", "indoor", 3],
            "price": "€€",
        },
        "opening_hours": [
            {
                "weekday": 1,
                "opens": "09:00",
                "closes": "17:30",
                "valid_from": "2026-04-01",
                "valid_to": "2026-09-30",
            },
            {"weekday": 7, "closed": True},
        ],
        "opening_dates": [
            {"date": "2026-12-25", "closed": True, "note": "Christmas"},
            {"date": "2026-12-31", "end_date": "2027-01-01", "opens": "10:00", "closes": "14:00"},
        ],
        "licence": {"name": "CC-BY-4.0", "attribution": "Test DMO"},
    }
    record.update(changes)
    return record


def child_table_rows(engine: sa.Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every staged child row, as (external id, columns but ids), sorted, per table."""
    listings = staging["listings"]
    with engine.connect() as conn:
        ids = dict(conn.execute(sa.select(listings.c.id, listings.c.external_id)).all())
        tables = {}
        for name in CHILD_TABLES:
            table = staging[name]
            columns = [c for c in table.columns if c.name not in ("id", "listing_id")]
            rows = conn.execute(sa.select(table.c.listing_id, *columns)).all()
            tables[name] = sorted((ids[row[0]], *row[1:]) for row in rows)
    return tables


def test_each_backend_stages_the_same_child_rows(engine: sa.Engine) -> None:
    # The rows child_rows() builds come back from each backend value for value: COPY text
    # on PostgreSQL, bound parameters on SQLite (floats, dates, booleans, lists of values).
    writer = StageWriter(engine.dialect.name)
    records = [rich_record(1), rich_record(2, attributes={}, images=[], location={})]
    items = [ListingItem("plain", r["external_id"], r, record_hash=record_hash(r)) for r in records]
    with engine.begin() as conn:
        first = writer.write(conn, items)
    assert (first.inserted, first.updated) == (2, 0)

    def expected(listing_records: list[dict[str, Any]]) -> dict[str, list[tuple[Any, ...]]]:
        tables: dict[str, list[tuple[Any, ...]]] = {name: [] for name in CHILD_TABLES}
        for record in listing_records:
            for name, rows in child_rows(0, record).items():
                for row in rows:
                    columns = [c.name for c in staging[name].columns]
                    # the image job's columns of listing_images: as the writer leaves them
                    unset = {"status": "pending"}
                    values = [
                        row[c] if c in row or name != "listing_images" else unset.get(c)
                        for c in columns
                        if c not in ("id", "listing_id")
                    ]
                    tables[name].append((record["external_id"], *values))
        return {name: sorted(rows) for name, rows in tables.items()}

    staged = child_table_rows(engine)
    assert staged == expected(records)
    assert len(staged["attributes"]) == 8  # 5 scalars and a list of 3, for R1 only
    assert ("R1", "tags", "3") in staged["attributes"]
    assert ("R1", "wheelchair", "true") in staged["attributes"]
    assert ("R1", "rating", "4.5") in staged["attributes"]
    assert staged["locations"] == expected(records)["locations"] != []
    assert [row[0] for row in staged["locations"]] == ["R1"]  # an empty location: no row

    # R2 changes (its old child rows go), R1 is unchanged (nothing written for it)
    changed = rich_record(2, contact={"website": "https://example.org"}, opening_dates=[])
    items = [
        ListingItem("plain", "R1", records[0], record_hash=record_hash(records[0])),
        ListingItem("plain", "R2", changed, record_hash=record_hash(changed)),
    ]
    with engine.begin() as conn:
        second = writer.write(conn, items)
    assert (second.inserted, second.updated) == (0, 1)
    assert [row["external_id"] for row in second.staged] == ["R2"]
    assert child_table_rows(engine) == expected([records[0], changed])


ODD_MAPPING = """\
source: plain
dmo: test-dmo
fetcher: json_api
url: https://example.org/feed
id: id
defaults: {language: en, country: AT}
fields:
  category: {const: attraction}
  name.en: name
  location.latitude: {from: lat, transform: float}
  $: extra
"""


def odd_session(engine: sa.Engine, batch_size: int = 10) -> StageSession:
    transforms = get_plugin_manager(load_settings({})).transforms()
    mapping = CompiledMapping(load_mapping_text(ODD_MAPPING, "plain.yaml"), transforms)
    return StageSession(
        engine, mapping, fetcher="json_api", origin="plain.yaml", batch_size=batch_size
    )


def test_a_record_that_breaks_mapping_or_hashing_is_invalid_and_named(engine: sa.Engine) -> None:
    # Not a RecordError: a location that is text (a "$" object) breaks the mapping's
    # defaults, and a lone surrogate has no canonical JSON to hash. Each is one invalid
    # record with an error row, the others are staged and the counts add up.
    records = [
        {"id": "A", "name": "Fine"},
        {"id": "B", "name": "Caf\ud83d"},
        {"id": "C", "name": "Odd", "extra": {"location": "Galway"}},
        {"id": "D", "name": "Fine too"},
    ]
    stats = run(odd_session(engine), records)
    counts = {k: stats[k] for k in ("scraped", "inserted", "invalid", "errors", "complete")}
    assert counts == {"scraped": 4, "inserted": 2, "invalid": 2, "errors": 2, "complete": True}
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(errors.c.external_id, errors.c.stage, errors.c.message).order_by(
                errors.c.external_id
            )
        ).all()
    assert [(r.external_id, r.stage) for r in rows] == [("B", "hash"), ("C", "map")]
    assert rows[0].message.startswith("the record has no canonical JSON form: ")
    assert rows[1].message == (
        "the record could not be mapped: AttributeError: 'str' object has no attribute 'setdefault'"
    )


def test_error_rows_are_written_a_batch_at_a_time(engine: sa.Engine) -> None:
    # A crawl of invalid records stages nothing, but its error rows do not wait for the end.
    s = odd_session(engine, batch_size=5)
    s.open()
    for n in range(12):
        item = s.map(RawRecord("plain", None, {"id": f"R{n}", "name": "x", "lat": 123.0}))
        assert item is not None
        assert not s.validate(s.hash(item))
    with engine.connect() as conn:
        written = conn.execute(sa.select(sa.func.count()).select_from(errors)).scalar_one()
    assert (written, len(s.errors.pending)) == (10, 2)
    stats = s.close("finished")
    assert (stats["invalid"], stats["errors"]) == (12, 12)


def _put(target: dict[str, Any], path: str, value: Any) -> None:
    """Set the dotted ``path`` of ``target`` (objects on the way are made)."""
    *parents, last = path.split(".")
    for part in parents:
        target = target.setdefault(part, {})
    target[last] = value


_LONG_TAG = "en-abcdefgh-abcdefgh-ab"  # a well-formed language tag, longer than its column
_VALID_TO = "opening_hours.0.valid_to"


@pytest.mark.parametrize(
    ("where", "path", "value", "field"),
    [
        ("record", "opening_dates", [{"date": "2024-02-30"}], "opening_dates.0.date"),
        ("record", "opening_dates", [{"date": "0000-01-01"}], "opening_dates.0.date"),
        ("record", "opening_hours", [{"weekday": 0, "valid_to": "2023-02-29"}], _VALID_TO),
        ("payload", "id", "X" * 301, "external_id"),
        ("record", "dmo", "d" * 101, "dmo"),
        ("payload", "addr.zip", "1" * 31, "location.postal_code"),
        ("payload", "addr.town", "T" * 201, "location.locality"),
        ("record", "location.region", "R" * 201, "location.region"),
        ("record", f"name.{_LONG_TAG}", "Name", "name"),
        ("record", f"attributes.{'a' * 201}", 1, "attributes"),
        ("record", "licence.name", "L" * 201, "licence.name"),
    ],
)
def test_a_value_its_column_cannot_hold_is_invalid_and_the_batch_is_staged(
    engine: sa.Engine, tmp_path: Path, where: str, path: str, value: Any, field: str
) -> None:
    # An impossible date or a text longer than its column failed the whole batch (SQLite
    # stored the long text; PostgreSQL refused it): now the one record is invalid.
    records = feed(10)
    if where == "payload":
        _put(records[3], path, value)
    s = session(engine, tmp_path, 10, None)
    s.open()
    for payload in records:
        item = s.map(RawRecord("plain", None, payload))
        assert item is not None
        if where == "record" and payload is records[3]:
            _put(item.record, path, value)
        if s.validate(s.hash(item)):
            s.stage(item)
    stats = s.close("finished")
    assert (stats["inserted"], stats["invalid"], stats["complete"]) == (9, 1, True)
    with engine.connect() as conn:
        staged = conn.execute(sa.select(staging["listings"].c.external_id)).scalars().all()
        rows = conn.execute(sa.select(errors.c.stage, errors.c.field)).all()
    assert sorted(staged) == [f"L{n:05d}" for n in range(1, 11) if n != 4]
    assert [tuple(row) for row in rows] == [("validate", field)]


def test_error_rows_of_a_failed_write_are_kept_for_the_next(
    engine: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The database refuses the write a batch of error rows set off: the error propagates
    # (this session writes in its caller's thread) and the rows are written by the next.
    s = odd_session(engine, batch_size=3)
    s.open()
    real = s._write
    failures = [sa.exc.OperationalError("INSERT", {}, Exception("database is locked"))]

    def flaky(*args: Any) -> Any:
        if failures:
            raise failures.pop()
        return real(*args)

    monkeypatch.setattr(s, "_write", flaky)
    for n in range(3):
        item = s.map(RawRecord("plain", None, {"id": f"R{n}", "name": "x", "lat": 123.0}))
        assert item is not None
        if n < 2:
            assert not s.validate(s.hash(item))
        else:
            with pytest.raises(sa.exc.OperationalError):
                s.validate(s.hash(item))
    assert len(s.errors.pending) == 3
    stats = s.close("finished")
    assert (stats["invalid"], stats["errors"]) == (3, 3)
    with engine.connect() as conn:
        ids = conn.execute(sa.select(errors.c.external_id).order_by(errors.c.external_id))
        assert ids.scalars().all() == ["R0", "R1", "R2"]


def test_a_mapping_in_a_deep_folder_still_opens_its_crawl(
    engine: sa.Engine, tmp_path: Path
) -> None:
    # pipeline.sources.origin holds 200 characters (PostgreSQL enforces it): a longer path
    # is cut, not a failure of every crawl of the source.
    deep = tmp_path.joinpath(*["folder-of-mappings"] * 12)
    path = write_mapping(deep, "plain", "https://example.org/feed")
    assert len(str(path)) > 200
    transforms = get_plugin_manager(load_settings({})).transforms()
    mapping = CompiledMapping(load_mapping_file(path), transforms)
    s = StageSession(engine, mapping, fetcher="json_api", origin=str(path), batch_size=5)
    stats = run(s, [listing(n) for n in (1, 2, 3)])
    assert stats["inserted"] == 3
    with engine.connect() as conn:
        origin = conn.execute(sa.select(sources.c.origin)).scalar_one()
    assert len(origin) == 200 and origin.endswith("…")
    assert origin[:199] == str(path)[:199]


@pytest.mark.parametrize("background", [False, "thread", "process"])
def test_a_listings_warnings_are_staged_whoever_writes_its_batch(
    engine: sa.Engine, tmp_path: Path, background: bool | Literal["thread", "process"]
) -> None:
    # The writer process gets each batch serialised: the warnings travel with the records.
    # L00003 comes again in the second batch with another name: merged, with a warning
    records = feed(12)
    renamed = copy.deepcopy(records[2])
    renamed["names"] = {"en": "Renamed"}
    stats = run(
        session(engine, tmp_path, 5, None, background), [*records[:6], renamed, *records[6:]]
    )
    assert (stats["inserted"], stats["updated"], stats["complete"]) == (12, 1, True)
    listings = staging["listings"]
    with engine.connect() as conn:
        rows = conn.execute(sa.select(listings.c.external_id, listings.c.warnings)).all()
    assert [
        (row.external_id, [w["field"] for w in row.warnings]) for row in rows if row.warnings
    ] == [("L00003", ["external_id"])]
