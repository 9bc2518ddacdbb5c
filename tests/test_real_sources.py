"""The three bundled real sources, their mappings as shipped in ``mappings/``, crawled from
127.0.0.1 into staging on SQLite and PostgreSQL: exact counts, named records' values, the
abbey's hours on a summer and a winter date, the error rows; the Open Data Hub page's next
link to the public API is never followed and nothing leaves loopback."""

from __future__ import annotations

import re
import shutil
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from conftest import ROOT, run_cli
from fetch_helpers import crawl_state, error_rows, staged

from pipeline_core.db.tables import staging
from pipeline_core.model.opening import is_open, period_rows
from pipeline_core.testing import FeedServer

SAMPLES = ROOT / "mappings" / "samples"
SOURCES = ("odh-events", "datatourisme-poi", "failte-ireland-attractions")
ABBEY = "https://data.datatourisme.fr/30/0075b425-3bee-3e37-ae93-5f5a5535d1b2"
GIRO = "FD7DC58E68A9447FB987460138FB3C85"
NEXT_PAGE = "https://tourism.api.opendatahub.bz.it/v1/Event?pagesize=100&pagenumber=2"

#: Imported by every child Python process (PYTHONPATH): logs each name lookup or
#: connection to anything but loopback, before it is made (Python's audit hooks).
NETWORK_AUDIT = """\
import os
import sys

_LOG = os.environ["NETWORK_AUDIT_LOG"]
_LOOPBACK = {"127.0.0.1", "::1", "localhost"}


def _note(event, host):
    with open(_LOG, "a", encoding="utf-8") as log:
        log.write(f"{event} {host}\\n")


def _hook(event, args):
    if event == "socket.connect":
        address = args[1]
        if isinstance(address, tuple) and str(address[0]) not in _LOOPBACK:
            _note(event, address[0])
    elif event in ("socket.getaddrinfo", "socket.gethostbyname", "socket.gethostbyname_ex"):
        host = args[0].decode() if isinstance(args[0], bytes) else args[0]
        if host is not None and str(host) not in _LOOPBACK:
            _note(event, host)


_note("audit", "on")
sys.addaudithook(_hook)
"""


def served_project(folder: Path, server: FeedServer) -> Path:
    """A project folder whose ``mappings/`` are the bundled mappings of the real sources,
    unchanged but for ``url``, which points at the same file on ``server``."""
    (folder / "mappings").mkdir(parents=True)
    shutil.copy(ROOT / "scrapy.cfg", folder / "scrapy.cfg")
    for name in SOURCES:
        text = (ROOT / "mappings" / f"{name}.yaml").read_text("utf-8")
        (relative,) = re.findall(r"^url: samples/(\S+)$", text, re.M)
        text = re.sub(r"^url: .*$", f"url: {server.url('/' + relative)}", text, flags=re.M)
        (folder / "mappings" / f"{name}.yaml").write_text(text, "utf-8")
    return folder


def hours_on(record: dict[str, Any], day: date) -> list[tuple[str, str]]:
    """(opens, closes) of each opening on ``day``, by the rows' rules; [] when closed."""
    return [
        (row["opens"], row["closes"])
        for row in period_rows(record, day)
        if row["weekday"] == day.weekday() and not row.get("closed")
    ]


@pytest.fixture
def crawled(
    pipeline_env: dict[str, str], engine: sa.Engine, tmp_path: Path
) -> tuple[str, list[str], str]:
    """Crawl the three sources from 127.0.0.1 in one child process; (stdout and stderr,
    the paths requested, the network audit log)."""
    audit = tmp_path / "audit"
    audit.mkdir()
    (audit / "sitecustomize.py").write_text(NETWORK_AUDIT, "utf-8")
    log = tmp_path / "network.log"
    with FeedServer(folder=SAMPLES) as server:
        project = served_project(tmp_path / "project", server)
        env = dict(
            pipeline_env,
            PIPELINE_PROJECT_DIR=str(project),
            PYTHONPATH=str(audit),
            NETWORK_AUDIT_LOG=str(log),
        )
        result = run_cli("crawl", *SOURCES, "--no-progress", env=env)
        requested = sorted(server.requests)
    assert result.returncode == 1, result.stderr  # odh-events is not complete
    return result.stdout + result.stderr, requested, log.read_text("utf-8")


def test_the_real_sources_crawled_from_loopback(
    crawled: tuple[str, list[str], str], engine: sa.Engine
) -> None:
    output, requested, network = crawled
    assert requested == [
        "/datatourisme-poi/30-0075b425-3bee-3e37-ae93-5f5a5535d1b2.json",
        "/failte-ireland-attractions/attractions.csv",
        "/odh-events/events-100.json",
    ]
    # the audit hook was loaded (once per process: the crawl and its stage writer), and
    # nothing was looked up or connected beyond loopback
    assert network.startswith("audit on\n")
    assert set(network.splitlines()) == {"audit on"}
    assert output.splitlines()[-1] == (
        "not complete (a page failed or the crawl was cut short; nothing was withdrawn): odh-events"
    )
    check_odh_events(engine)
    check_the_abbey(engine)
    check_failte_ireland(engine)


def check_odh_events(engine: sa.Engine) -> None:
    complete, stats = crawl_state(engine, "odh-events")
    assert complete is False  # the next page was not fetched: nothing may be withdrawn
    assert (stats["scraped"], stats["inserted"], stats["invalid"]) == (100, 100, 0)
    assert stats["errors"] == 1
    events = staged(engine, "odh-events")
    assert len(events) == 100
    giro = events[GIRO]
    assert giro["name"] == {
        "de": "100. Giro d'Italia: Start der 19. Etappe Innichen - Piancavallo",
        "en": "100th Giro d'Italia: start of the 19th stage San Candido - Piancavallo",
        "it": "100° Giro d'Italia: partenza della 19° tappa San Candido - Piancavallo",
    }
    assert giro["category"] == "event"
    assert giro["subcategories"] == ["sport_event"]
    assert giro["location"]["latitude"] == 46.7329
    assert giro["location"]["longitude"] == 12.2815
    assert giro["contact"]["phone"] == "+390474913149"
    assert giro["opening_dates"] == [
        {"date": "2017-05-26", "end_date": "2017-05-26", "opens": "11:30", "closes": "14:00"}
    ]
    listings, info = staging["listings"], staging["listing_info"]
    with engine.connect() as conn:
        titles = dict(
            conn.execute(
                sa.select(info.c.language, info.c.name)
                .join(listings, listings.c.id == info.c.listing_id)
                .where(listings.c.external_id == GIRO)
            ).all()
        )
    assert titles["de"] == "100. Giro d'Italia: Start der 19. Etappe Innichen - Piancavallo"
    assert titles["en"] == "100th Giro d'Italia: start of the 19th stage San Candido - Piancavallo"
    (error,) = error_rows(engine, "odh-events")
    assert (error["stage"], error["external_id"], error["url"]) == ("fetch", None, NEXT_PAGE)
    assert error["message"] == (
        "not followed: host tourism.api.opendatahub.bz.it is not one of the source's hosts "
        "(127.0.0.1); add it to allowed_hosts to follow it"
    )


def check_the_abbey(engine: sa.Engine) -> None:
    complete, stats = crawl_state(engine, "datatourisme-poi")
    assert complete is True
    assert (stats["scraped"], stats["inserted"], stats["invalid"], stats["errors"]) == (1, 1, 0, 0)
    (abbey,) = staged(engine, "datatourisme-poi").values()
    assert abbey["external_id"] == ABBEY
    assert abbey["contact"]["phone"] == "+33233605898"
    assert abbey["subcategories"] == ["religious_site", "heritage_site"]
    # its one picture, from the ebucore representation: file, caption, credit and licence
    picture = (
        "https://upload.wikimedia.org/wikipedia/commons/c/c9/"
        "France_Manche_abbaye_lucerne_de_loin.jpg",
        "France Manche abbaye lucerne de loin",
        "Pinpin (https://commons.wikimedia.org/wiki/User:Pinpin)",
        "CC BY 2.5",
    )
    listings, hours = staging["listings"], staging["opening_hours"]
    images = staging["listing_images"]
    with engine.connect() as conn:
        pictures = conn.execute(
            sa.select(images.c.position, images.c.url, images.c.caption, images.c.credit,
                      images.c.licence)
            .join(listings, listings.c.id == images.c.listing_id)
            .where(listings.c.external_id == ABBEY)
        ).all()  # fmt: skip
    assert [tuple(row) for row in pictures] == [(0, *picture)]
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(hours.c.weekday, hours.c.opens, hours.c.closes, hours.c.closed,
                      hours.c.valid_from, hours.c.valid_to)
            .join(listings, listings.c.id == hours.c.listing_id)
            .where(listings.c.external_id == ABBEY)
        ).all()  # fmt: skip
    assert len(rows) == 43
    assert len({(r.valid_from, r.valid_to) for r in rows}) == 8
    # the staged rows, read back from the database
    record = {
        "opening_hours": [
            {"weekday": r.weekday, "opens": r.opens, "closes": r.closes, "closed": r.closed,
             "valid_from": r.valid_from.isoformat(), "valid_to": r.valid_to.isoformat()}
            for r in rows
        ]
    }  # fmt: skip
    # summer (8 July to 1 September 2024): Saturday 10-17 and Sunday 14-17 only
    assert hours_on(record, date(2024, 7, 20)) == [("10:00", "17:00")]  # a Saturday
    assert hours_on(record, date(2024, 7, 21)) == [("14:00", "17:00")]  # a Sunday
    assert hours_on(record, date(2024, 7, 17)) == []  # a Wednesday: closed
    # winter (the year's hours): Wednesday to Saturday 10-18, Sunday 14-18
    assert hours_on(record, date(2024, 2, 14)) == [("10:00", "18:00")]  # a Wednesday
    assert hours_on(record, date(2024, 2, 18)) == [("14:00", "18:00")]  # a Sunday
    assert hours_on(record, date(2024, 2, 12)) == []  # a Monday: closed
    assert is_open(record, datetime(2024, 7, 20, 16, 30)) is True
    assert is_open(record, datetime(2024, 7, 20, 17, 30)) is False
    assert is_open(record, datetime(2024, 2, 14, 17, 30)) is True


def check_failte_ireland(engine: sa.Engine) -> None:
    complete, stats = crawl_state(engine, "failte-ireland-attractions")
    assert complete is True
    # every row is read and valid; 59 rows repeat the attraction (name, town, county) of
    # an earlier row, with the same values or others: one listing, the rows merged (the
    # source's on_repeat is the default, merge). Repeats are held to the end of the crawl
    # and written when they changed the staged record (24 listings, "updated", the last
    # repeat owning the write); the other repeats wrote nothing ("repeated"): each row is
    # counted once
    assert (stats["scraped"], stats["invalid"]) == (3324, 0)
    assert (stats["inserted"], stats["updated"], stats["unchanged"]) == (3265, 24, 0)
    assert stats["repeated"] == 35
    assert sum(stats[k] for k in ("inserted", "updated", "unchanged", "repeated")) == 3324
    attractions = staged(engine, "failte-ireland-attractions")
    assert len(attractions) == 3265
    kinvara = attractions["Kinvara Visitor Information Point|Kinvara|Galway"]
    assert kinvara["contact"] == {"phone": "+35391658108"}  # published as +353(0)91658108
    assert kinvara["location"] == {
        "latitude": 53.1388910775191,
        "longitude": -8.93591557246077,
        "locality": "Kinvara",
        "region": "Galway",
        "country": "IE",
    }
    # the one row without coordinates: staged without them
    assert attractions["Western Shuttle Bus Service|Knock|Mayo"]["location"] == {
        "locality": "Knock",
        "region": "Mayo",
        "country": "IE",
    }
    rows = error_rows(engine, "failte-ireland-attractions")
    errors = [e for e in rows if e["stage"] != "repeat"]
    assert len(rows) - len(errors) == 59  # a report naming both rows of every repeat
    assert len(errors) == 24  # phones that are not valid numbers, kept as published
    assert {(e["stage"], e["field"]) for e in errors} == {("map", "contact.phone")}
    lough = next(e for e in errors if e["external_id"] == "Lough Divine|Glencolmcille|Donegal")
    assert lough["message"] == (
        "phone: not a valid phone number in IE (value '+353(0)7497' from Telephone); "
        "kept as published"
    )
    assert attractions[lough["external_id"]]["contact"]["phone"] == "+353(0)7497"


def test_the_bundled_mappings_crawl_their_files(
    pipeline_env: dict[str, str], engine: sa.Engine
) -> None:
    """From the checkout, as cloned: ``url`` is a file beside the mapping."""
    result = run_cli("crawl", "datatourisme-poi", "odh-events", "--no-progress", env=pipeline_env)
    assert result.returncode == 1, result.stderr
    assert "datatourisme-poi: scraped 1, inserted 1, updated 0" in result.stdout
    assert "odh-events: scraped 100, inserted 100, updated 0" in result.stdout
    (error,) = error_rows(engine, "odh-events")
    assert error["message"] == (
        "not followed: host tourism.api.opendatahub.bz.it is not one of the source's hosts "
        "(none); add it to allowed_hosts to follow it"
    )
