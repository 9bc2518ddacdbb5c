"""The csv_feed fetcher: the real Fáilte Ireland export, a Latin-1 file with a byte order
mark, a sniffed delimiter, quoted fields and ragged rows (error rows; the rest staged)."""

from __future__ import annotations

import codecs
import io
import re
from pathlib import Path

import sqlalchemy as sa
from conftest import ROOT
from fetch_helpers import crawl, crawl_state, error_rows, staged

from pipeline_core.db.tables import staging
from pipeline_core.records.csv_read import detect_encoding, iter_rows, sniff_delimiter
from pipeline_core.testing import FeedServer

FAILTE = ROOT / "mappings/samples/failte-ireland-attractions/attractions.csv"

FAILTE_MAPPING = """\
source: failte
dmo: failte-ireland
fetcher: csv_feed
url: {url}
key: [Name, AddressLocality]
defaults: {{language: en, country: IE}}
licence: {{name: CC-BY-4.0, attribution: "Contains data from Fáilte Ireland, CC BY 4.0"}}
fields:
  name: Name
  category: {{const: attraction}}
  contact.website: {{from: Url, transform: url}}
  contact.phone: Telephone
  location.latitude: {{from: Latitude, transform: float}}
  location.longitude: {{from: Longitude, transform: float}}
  location.region: AddressRegion
  location.locality: AddressLocality
"""

LATIN_MAPPING = """\
source: {name}
dmo: test-dmo
fetcher: csv_feed
url: {url}
id: Nr
{options}
defaults: {{language: de, country: AT}}
fields:
  name: Name
  category: {{const: restaurant}}
  description: Beschreibung
  location.locality: Ort
  location.latitude: {{from: Breite, transform: float}}
"""

#: Latin-1 text behind a UTF-8 byte order mark, ';'-separated, with a quoted field holding
#: the delimiter and a line break, two ragged rows and a latitude out of range.
LATIN_ROWS = (
    "Nr;Name;Beschreibung;Ort;Breite\r\n"
    "1;Café Müller;Kaffee & Kuchen;Innsbruck;47,26\r\n"
    '2;Gasthof Bräu;"Knödel; Speck\r\nund Bier";Wörgl;47.49\r\n'
    "3;Schloß;zu viele;Felder;Hall;47.28\r\n"
    "\r\n"
    "4;Zu wenig\r\n"
    "5;Weißes Rössl;am See;St. Wolfgang;95.1\r\n"
    "6;Hütte;Almhütte;Kühtai;47.21\r\n"
)
LATIN_BODY = codecs.BOM_UTF8 + LATIN_ROWS.encode("latin-1")


def test_encoding_detection() -> None:
    assert detect_encoding("Name\nCafé".encode()) == ("utf-8", 0, "valid UTF-8")
    assert detect_encoding(codecs.BOM_UTF8 + "Café".encode()) == ("utf-8", 3, "byte order mark")
    assert detect_encoding(codecs.BOM_UTF16_LE + "Café".encode("utf-16-le"))[:2] == (
        "utf-16-le",
        2,
    )
    for text in ("Nr;Name;Ort\n1;Crème brûlée à la carte;Genève\n", "Nr;Name\n1;Dún Laoghaire\n"):
        assert detect_encoding(text.encode("latin-1")) == ("cp1252", 0, "detected"), text
    encoding, skip, how = detect_encoding(LATIN_BODY)
    assert skip == 3 and how == "detected; the UTF-8 byte order mark was wrong"
    assert LATIN_BODY[3:].decode(encoding).startswith("Nr;Name;Beschreibung;Ort;Breite\r\n1;Café")


def test_rows_know_their_lines_and_the_delimiter_is_sniffed() -> None:
    assert sniff_delimiter(LATIN_ROWS[:200]) == ";"
    assert sniff_delimiter("a,b,c\n1,2,3\n") == ","
    assert sniff_delimiter("one column\n") == ","
    rows = list(iter_rows(io.StringIO(LATIN_ROWS, newline=""), ";", '"', 0))
    assert [(row.line, len(row.fields)) for row in rows] == [
        (1, 5),  # the header
        (2, 5),
        (3, 5),  # a quoted field over two lines
        (5, 6),
        (7, 2),  # after a blank line
        (8, 5),
        (9, 5),
    ]
    assert rows[2].fields[2] == "Knödel; Speck\r\nund Bier"


def test_csv_feeds_crawl_with_ragged_rows_reported(
    pipeline_env: dict[str, str], engine: sa.Engine, tmp_path: Path
) -> None:
    pages = {
        "/attractions.csv": FAILTE.read_bytes(),
        "/latin.csv": LATIN_BODY,
        "/declared.csv": b"# export of 2026-11-01\n" + LATIN_ROWS.encode("cp1252"),
    }
    with FeedServer(pages) as server:
        result = crawl(
            pipeline_env,
            tmp_path / "mappings",
            {
                "failte": FAILTE_MAPPING.format(url=server.url("/attractions.csv")),
                "latin": LATIN_MAPPING.format(
                    name="latin", url=server.url("/latin.csv"), options=""
                ),
                "declared": LATIN_MAPPING.format(
                    name="declared",
                    url=server.url("/declared.csv"),
                    options="options: {encoding: cp1252, delimiter: ';', skip_lines: 1}",
                ),
            },
        )
    assert result.returncode == 1, result.stderr  # the ragged rows make two crawls incomplete

    failte = staged(engine, "failte")
    # 3,324 rows; 60 repeat the name and locality of an earlier row (the same derived id,
    # whitespace folded)
    assert len(failte) == 3264
    kinvara = failte["Kinvara Visitor Information Point|Kinvara"]
    assert kinvara["location"] == {
        "latitude": 53.1388910775191,
        "longitude": -8.93591557246077,
        "region": "Galway",
        "locality": "Kinvara",
        "country": "IE",
    }
    assert kinvara["contact"] == {"phone": "+353(0)91658108"}
    crete = failte["SS Crete Boom \u2013 Ballina\u2019s Concrete Ship|Ballina"]  # curly quote
    assert crete["contact"]["website"] == (
        "http://northmayo.ie/visit-ss-creteboom-concrete-ship-in-ballina/"
    )
    assert "latitude" not in failte["Western Shuttle Bus Service|Knock"]["location"]
    # a website published with three slashes is repaired by the url transform
    assert failte["Festina Lente Gardens|Bray"]["contact"]["website"] == (
        "https://www.facebook.com/festinalentegardens/?hc_ref=SEARCH"
    )
    # every repeat of an attraction is reported, naming both rows; nothing else is wrong
    repeats = error_rows(engine, "failte")
    assert len(repeats) == 60
    assert {(e["stage"], e["field"]) for e in repeats} == {("repeat", "external_id")}
    assert all(
        re.fullmatch(
            r"record \d+ repeats the id of record \d+ \(http://127\.0\.0\.1:\d+/attractions"
            r"\.csv\): merged into it, the later values winning \(on_repeat: merge\)",
            e["message"],
        )
        for e in repeats
    ), repeats[0]["message"]
    complete, stats = crawl_state(engine, "failte")
    assert complete is True
    assert (stats["scraped"], stats["invalid"]) == (3324, 0)

    for source in ("latin", "declared"):
        listings = staged(engine, source)
        assert sorted(listings) == ["1", "2", "6"], source
        assert listings["1"]["name"] == {"de": "Café Müller"}
        assert listings["1"]["location"]["latitude"] == 47.26
        assert listings["2"]["description"] == {"de": "Knödel; Speck\r\nund Bier"}
        assert listings["6"]["location"]["locality"] == "Kühtai"
        offset = 1 if source == "declared" else 0
        found = [
            (e["external_id"], e["stage"], e["field"], e["message"], e["value"])
            for e in error_rows(engine, source)
        ]
        assert found == [
            (
                "3",
                "fetch",
                f"line {5 + offset}",
                f"line {5 + offset}: 6 fields where the header has 5; the row is not read",
                repr("3;Schloß;zu viele;Felder;Hall;47.28"),
            ),
            (
                "4",
                "fetch",
                f"line {7 + offset}",
                f"line {7 + offset}: 2 fields where the header has 5; the row is not read",
                repr("4;Zu wenig"),
            ),
            (
                "5",
                "validate",
                "location.latitude",
                "95.1 is greater than the maximum of 90",
                "95.1",
            ),
        ]
        complete, stats = crawl_state(engine, source)
        assert complete is False  # a row that could not be read: nothing is withdrawn
        assert (stats["scraped"], stats["inserted"], stats["invalid"]) == (6, 3, 3)


def _rows(count: int, long_row: int | None = None) -> str:
    """A ';'-separated export of ``count`` rows; row ``long_row``'s description is longer
    than the csv module's field limit (131,072 characters)."""
    lines = ["Nr;Name;Beschreibung;Ort;Breite"]
    for n in range(1, count + 1):
        text = "x" * 140_000 if n == long_row else f"Beschreibung {n}"
        lines.append(f"{n};Haus {n};{text};Innsbruck;47.{n:02d}")
    return "\r\n".join(lines) + "\r\n"


def test_an_unreadable_page_is_a_page_error_and_withdraws_nothing(
    pipeline_env: dict[str, str], engine: sa.Engine, tmp_path: Path
) -> None:
    # Staged complete first; then "long" has a field over the csv module's limit in row 16
    # and "declared" a byte that is not UTF-8 in the 64 KiB read to sniff the delimiter.
    body = _rows(20).encode()
    options = {"long": "", "declared": "options: {encoding: utf-8}"}
    with FeedServer({"/long.csv": body, "/declared.csv": body}) as server:
        urls = {name: server.url(f"/{name}.csv") for name in options}
        mappings = {
            name: LATIN_MAPPING.format(name=name, url=urls[name], options=options[name])
            for name in options
        }
        first = crawl(pipeline_env, tmp_path / "mappings", mappings)
        assert first.returncode == 0, first.stderr
        server.set_pages(
            {
                "/long.csv": _rows(20, long_row=16).encode(),
                "/declared.csv": body.replace(b"Beschreibung 16", b"Beschreibung \xff16"),
            }
        )
        second = crawl(pipeline_env, tmp_path / "mappings", mappings)
    assert second.returncode == 1, second.stderr
    assert "long: scraped 15, inserted 0, updated 0, unchanged 15, invalid 0" in second.stdout
    assert "declared: scraped 0, inserted 0, updated 0, unchanged 0, invalid 0" in second.stdout
    for source, message in (
        (
            "long",
            "not readable as CSV after 15 rows: line 17: field larger than field limit "
            "(131072); the rest of the page is not read",
        ),
        (
            "declared",
            "not valid utf-8 after 0 rows (invalid start byte at byte 690 of a block); "
            "check options.encoding",
        ),
    ):
        assert sorted(staged(engine, source)) == sorted(str(n) for n in range(1, 21))
        complete, stats = crawl_state(engine, source)
        assert complete is False, source
        assert stats["withdrawn"] == 0, source
        [error] = error_rows(engine, source)
        assert (error["stage"], error["url"], error["message"]) == ("fetch", urls[source], message)
        listings = staging["listings"]
        with engine.connect() as conn:
            statuses = conn.execute(
                sa.select(listings.c.status).where(listings.c.source == source).distinct()
            ).scalars()
            assert list(statuses) == ["active"], source
