"""The test kit for source authors: a pytest plugin (entry point ``pytest11``).

Installed with dmo-pipeline, it gives every test session the fixture ``dmo_crawl``::

    def test_my_source(dmo_crawl):
        result = dmo_crawl("my-source", feed=Path(__file__).parent / "fixtures")
        assert result.stats["complete"]
        assert result.listings["42"].record["name"] == {"en": "Town Museum"}

``dmo_crawl(source, feed, start=None, *, settings=None, env=None)`` serves ``feed`` (a
folder of fixture files, or request path → bytes) on 127.0.0.1, crawls ``source`` (a
registered source's name, or the path of a mapping file) from it into the test's
temporary database and returns a :class:`~pipeline_core.testing.source_crawl.CrawlResult`.
Calls in one test share the database, so a second call sees the first one's listings.

The database is SQLite in the test's ``tmp_path``. With ``--dmo-postgres=URL`` (a server
URL whose user may create databases), each test gets a temporary PostgreSQL database
instead, dropped after the test. Override the fixture ``dmo_database_url`` to use a
database of your own. ``-p no:dmo_pipeline`` turns the plugin off.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

# The plugin loads in every pytest session where dmo-pipeline is installed: SQLAlchemy and
# the crawler are imported when a fixture is used, not at start-up.
if TYPE_CHECKING:
    import sqlalchemy as sa

    from pipeline_core.testing.source_crawl import SourceCrawler


def pytest_addoption(parser: pytest.Parser) -> None:
    """The ``--dmo-postgres`` option (also the ``dmo_postgres`` ini setting)."""
    group = parser.getgroup("dmo-pipeline", "dmo-pipeline test kit")
    help_text = (
        "crawl into a temporary PostgreSQL database per test, created on the server at this "
        "URL (postgresql://user@host:port/db) and dropped after the test; default: SQLite"
    )
    group.addoption("--dmo-postgres", metavar="URL", default=None, help=help_text)
    parser.addini("dmo_postgres", help_text, default="")


def _admin_engine(url: str) -> sa.Engine:
    import sqlalchemy as sa

    return sa.create_engine(
        sa.make_url(url).set(drivername="postgresql+psycopg"),
        isolation_level="AUTOCOMMIT",
        poolclass=sa.pool.NullPool,
    )


@pytest.fixture
def dmo_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """URL of the test's temporary database: SQLite in ``tmp_path``, or a new PostgreSQL
    database with ``--dmo-postgres``."""
    server = request.config.getoption("--dmo-postgres") or request.config.getini("dmo_postgres")
    if not server:
        yield f"sqlite:///{tmp_path / 'dmo-db' / 'pipeline.db'}"
        return
    import sqlalchemy as sa

    name = f"dmo_kit_{uuid.uuid4().hex[:12]}"
    admin = _admin_engine(server)
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name}")
    url = sa.make_url(server).set(drivername="postgresql+psycopg", database=name)
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.dispose()


@pytest.fixture
def dmo_crawl(
    request: pytest.FixtureRequest, tmp_path: Path, dmo_database_url: str
) -> Iterator[SourceCrawler]:
    """Crawl a source from fixture files into the test's database; see the module doc."""
    from pipeline_core.testing.source_crawl import SourceCrawler

    crawler = SourceCrawler(tmp_path / "dmo-crawl", dmo_database_url, cwd=request.config.rootpath)
    try:
        yield crawler
    finally:
        crawler.close()
