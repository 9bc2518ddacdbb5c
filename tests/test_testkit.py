"""The test kit for source authors: the ``dmo_crawl`` fixture of the pytest plugin.

The plugin is loaded through its ``pytest11`` entry point (as in any project that installs
dmo-pipeline); here ``dmo_database_url`` is overridden with the suite's ``db_url``, so each
test runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import PG_ADMIN_URL, ROOT
from test_plugins import LAKESIDE_CATEGORIES

from pipeline_core.testing.source_crawl import SourceCrawler, SourceCrawlError, default_start

TUTORIAL = ROOT / "docs" / "examples" / "tutorial"
LAKESIDE_FEED = (
    ROOT / "plugins/dmo-pipeline-example/src/dmo_pipeline_example/mappings/samples/example-lakeside"
)


@pytest.fixture
def dmo_database_url(db_url: str) -> str:
    """The kit's database: the suite's clean database, on each backend."""
    return db_url


def test_mapping_file_crawled_from_fixtures(dmo_crawl: SourceCrawler) -> None:
    result = dmo_crawl(TUTORIAL / "harbourtown.yaml", feed=TUTORIAL / "feed")

    assert result.errors == []
    assert result.requests == ["/page-1.json", "/page-2.json"]
    assert result.stats == {
        "scraped": 5,
        "inserted": 5,
        "updated": 0,
        "unchanged": 0,
        "invalid": 0,
        "duplicates": 0,
        "withdrawn": 0,
        "rows_written": 28,
        "repeated": 0,
        "errors": 0,
        "finish_reason": "finished",
        "complete": True,
    }
    assert sorted(result.listings) == ["1001", "1002", "1003", "1004", "1005"]
    lighthouse = result.listings["1001"]
    assert (lighthouse.status, lighthouse.category) == ("active", "attraction")
    assert lighthouse.record["location"]["latitude"] == 53.2707
    assert lighthouse.rows["locations"] == [
        {
            "street": "Pier Road 1",
            "postal_code": "H91 X2Y3",
            "locality": "Harbourtown",
            "region": None,
            "country": "IE",
            "latitude": 53.2707,
            "longitude": -9.0568,
        }
    ]
    assert lighthouse.rows["contact_info"] == [
        {"kind": "phone", "value": "+353 91 555 0100"},
        {"kind": "website", "value": "https://www.example.org/lighthouse"},
    ]
    assert [(r["weekday"], r["opens"], r["closes"]) for r in lighthouse.rows["opening_hours"]] == [
        (0, "10:00", "17:00"),
        (5, "09:30", "18:00"),
    ]
    assert "opening_dates" not in lighthouse.rows


def test_changed_feed_second_crawl_and_error_rows(dmo_crawl: SourceCrawler) -> None:
    dmo_crawl(TUTORIAL / "harbourtown.yaml", feed=TUTORIAL / "feed")
    assert dmo_crawl.server is not None
    port = dmo_crawl.server.port
    pages = {
        "/page-1.json": (TUTORIAL / "feed" / "page-1.json").read_bytes(),
        "/page-2.json": (TUTORIAL / "updated" / "page-2.json").read_bytes(),
    }

    result = dmo_crawl(TUTORIAL / "harbourtown.yaml", feed=pages, start="/page-1.json")

    counts = {k: result.stats[k] for k in ("unchanged", "updated", "invalid", "withdrawn")}
    assert counts == {"unchanged": 3, "updated": 1, "invalid": 1, "withdrawn": 1}
    assert result.listings["1005"].status == "withdrawn"
    assert sorted(result.active) == ["1001", "1002", "1003", "1004"]
    (error,) = result.errors
    assert error == {
        "external_id": "1006",
        "stage": "validate",
        "field": "location.latitude",
        "message": "95.27 is greater than the maximum of 90",
        "value": "95.27",
        "url": error["url"],
    }
    # One server per test: the second crawl's pages have the first one's URLs.
    assert error["url"] == f"http://127.0.0.1:{port}/page-2.json"


def test_installed_plugin_source(dmo_crawl: SourceCrawler) -> None:
    result = dmo_crawl("example-lakeside", feed=LAKESIDE_FEED)

    assert result.requests == ["/page-1.json", "/page-2.json"]
    assert {k: v.category for k, v in result.listings.items()} == LAKESIDE_CATEGORIES
    assert result.listings["LS-001"].rows["attributes"][0] == {"name": "stars", "value": "4"}
    again = dmo_crawl("example-lakeside", feed=LAKESIDE_FEED)
    assert (again.stats["unchanged"], again.stats["inserted"]) == (8, 0)
    assert again.requests == ["/page-1.json", "/page-2.json"]  # this call's requests only
    dmo_crawl.close()
    assert dmo_crawl.server is None


def test_unknown_source_is_an_error_with_the_message(dmo_crawl: SourceCrawler) -> None:
    with pytest.raises(SourceCrawlError) as info:
        dmo_crawl("no-such-source", feed={"/x.json": b"[]"}, start="/x.json")

    assert "crawl of no-such-source did not run (exit 1)" in str(info.value)
    assert "Error: no source named 'no-such-source' (known: " in str(info.value)


@pytest.mark.parametrize(
    ("url", "start"),
    [
        ("https://api.example.org/v2/items?page=1", "/v2/items?page=1"),
        ("https://api.example.org", "/"),
        ("file:///srv/feed/page-1.json", "/page-1.json"),
        ("feed/page-1.json", "/page-1.json"),
        (None, "/"),
    ],
)
def test_default_start(url: str | None, start: str) -> None:
    assert default_start(url) == start


KIT_TEST = """
from pathlib import Path

def test_crawl(dmo_crawl, dmo_database_url):
    result = dmo_crawl(Path({mapping!r}), feed=Path({feed!r}))
    assert sorted(result.listings) == ["1001", "1002", "1003", "1004", "1005"]
    assert result.database_url == dmo_database_url
    print("DATABASE", dmo_database_url.split(":")[0])
"""


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_plugin_in_another_project(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """A project of its own loads the plugin through the entry point: no conftest needed;
    ``--dmo-postgres`` gives each test a temporary PostgreSQL database."""
    if backend == "postgres":
        request.getfixturevalue("pg_template")  # skips without a server
    test_file = tmp_path / "test_kit.py"
    test_file.write_text(
        KIT_TEST.format(mapping=str(TUTORIAL / "harbourtown.yaml"), feed=str(TUTORIAL / "feed"))
    )
    args = [sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider", str(test_file)]
    if backend == "postgres":
        args.append(f"--dmo-postgres={PG_ADMIN_URL}")
    done = subprocess.run(args, cwd=tmp_path, capture_output=True, text=True, timeout=300)

    assert done.returncode == 0, done.stdout + done.stderr
    scheme = "sqlite" if backend == "sqlite" else "postgresql+psycopg"
    assert f"DATABASE {scheme}" in done.stdout
    assert "1 passed" in done.stdout.splitlines()[-1]
