"""Crawl one source from fixture files into a database and read back what was staged.

The engine of the test kit (:mod:`pipeline_core.testing.pytest_plugin`, fixture
``dmo_crawl``), usable without pytest::

    crawler = SourceCrawler(workdir, "sqlite:////tmp/kit/pipeline.db")
    result = crawler("harbourtown", feed="tests/fixtures", start="/page-1.json")
    result.listings["1001"].record["name"]     # {"en": "Harbourtown Lighthouse"}

Each call serves ``feed`` (a folder, or request path → bytes) with the crawler's
:class:`~pipeline_core.testing.server.FeedServer` on 127.0.0.1 (one port for all its
calls, stopped by :meth:`SourceCrawler.close`), points the source at it
(the spider argument ``start_url``), runs ``dmo-pipeline crawl`` in a child process (a
Scrapy crawl needs a fresh Twisted reactor) and reads the source's staged listings, with
their child rows, this crawl's ``pipeline.errors`` rows and its stats from the database.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa

from pipeline_core.db import make_engine
from pipeline_core.db.tables import crawls, errors, staging
from pipeline_core.mapping import load_mapping_file
from pipeline_core.testing.server import FeedServer

#: Columns of a child row that only link it to its listing.
_LINK_COLUMNS = {"id", "listing_id"}
#: Columns of a ``pipeline.errors`` row in :attr:`CrawlResult.errors`.
ERROR_COLUMNS = ("external_id", "stage", "field", "message", "value", "url")


class SourceCrawlError(AssertionError):
    """The crawl did not run (unknown source, broken mapping, failed child process)."""


@dataclass(frozen=True)
class StagedListing:
    """One row of ``staging.listings`` with its canonical record and child rows.

    ``rows`` maps each child table (``locations``, ``contact_info``, ``attributes``,
    ``opening_hours`` …) to its rows as dicts, without ``id`` and ``listing_id``; tables
    without rows for this listing are left out.
    """

    external_id: str
    status: str
    category: str
    record: dict[str, Any]
    record_hash: str
    rows: dict[str, list[dict[str, Any]]]


@dataclass(frozen=True)
class CrawlResult:
    """What one crawl of a source left in the database, and how it ran."""

    #: Staged listings of the source (active and withdrawn), by external id.
    listings: dict[str, StagedListing]
    #: This crawl's ``pipeline.errors`` rows: dicts of :data:`ERROR_COLUMNS`.
    errors: list[dict[str, Any]]
    #: This crawl's stats: ``scraped``, ``inserted``, ``updated``, ``unchanged``,
    #: ``invalid``, ``duplicates``, ``withdrawn``, ``rows_written``, ``errors``,
    #: ``finish_reason``, ``complete``.
    stats: dict[str, Any]
    #: Request paths the fixture server received, in order.
    requests: list[str]
    #: The ``dmo-pipeline crawl`` line of counts, and its log (stderr).
    output: str
    log: str
    #: The database crawled into.
    database_url: str
    #: ``pipeline.crawls.id`` of this crawl.
    crawl_id: int = 0

    @property
    def active(self) -> dict[str, StagedListing]:
        """The staged listings that are not withdrawn."""
        return {k: v for k, v in self.listings.items() if v.status == "active"}


def default_start(url: str | None) -> str:
    """Request path of a source's first page on the fixture server.

    ``https://api.example.org/v2/items?page=1`` → ``/v2/items?page=1``; a ``file:`` URL or a
    relative path → ``/`` and the file's name (``file:feed/page-1.json`` → ``/page-1.json``).
    """
    if not url:
        return "/"
    parts = urlsplit(url)
    if parts.scheme in ("http", "https"):
        return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return "/" + Path(parts.path if parts.scheme == "file" else url).name


class SourceCrawler:
    """Crawls sources into one database from fixture files on one loopback server.

    ``workdir`` holds the crawl's ``PIPELINE_HOME``, storage and copied mapping files;
    ``cwd`` is where the child process runs (the project folder, for in-repo spiders);
    ``env`` adds environment variables to every crawl.
    """

    def __init__(
        self,
        workdir: str | Path,
        database_url: str,
        cwd: str | Path | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.database_url = database_url
        self.cwd = Path(cwd) if cwd is not None else self.workdir
        self.env = dict(env or {})
        self._migrated = False
        self._server: FeedServer | None = None

    # ------------------------------------------------------------------ environment
    def environment(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        """The child process's environment: no inherited ``PIPELINE_*`` setting, the kit's
        database, home and storage, loopback allowed, then ``env`` and ``extra``."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("PIPELINE_")}
        env.update(
            PIPELINE_DATABASE_URL=self.database_url,
            PIPELINE_HOME=str(self.workdir / "home"),
            PIPELINE_STORAGE_URL=str(self.workdir / "files"),
            PIPELINE_ALLOWED_HOSTS="127.0.0.1",
            LOG_LEVEL=os.environ.get("LOG_LEVEL", "INFO"),
        )
        env.update(self.env)
        env.update(extra or {})
        return env

    def _mapping_file(self, path: Path, env: dict[str, str]) -> str:
        """Make the source of a mapping file crawlable; return its name."""
        doc = load_mapping_file(path)
        folder = self.workdir / "sources" / doc.source
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, folder / path.name)
        paths = [p for p in env.get("PIPELINE_SOURCES_PATH", "").split(os.pathsep) if p]
        env["PIPELINE_SOURCES_PATH"] = os.pathsep.join([*paths, str(folder)])
        return doc.source

    def _source_url(self, name: str, env: dict[str, str]) -> str | None:
        from pipeline_core.config import load_settings
        from pipeline_core.plugins import get_plugin_manager
        from pipeline_core.sources import get_source

        settings = load_settings(env)
        return get_source(get_plugin_manager(settings).sources(), name).mapping.resolved_url()

    def _ensure_schema(self) -> None:
        """PostgreSQL databases are migrated here; SQLite ones by the crawl itself."""
        if self._migrated or sa.make_url(self.database_url).get_backend_name() == "sqlite":
            return
        from pipeline_core.db.migrate import upgrade

        upgrade(self.database_url)
        self._migrated = True

    # ------------------------------------------------------------------ fixture server
    def serve(self, feed: str | Path | Mapping[str, bytes]) -> FeedServer:
        """The crawler's fixture server, serving ``feed`` from now on. It is started on
        first use and keeps its port, so the URLs of a second crawl are those of the
        first (records that hold their page's URL stay unchanged)."""
        if not isinstance(feed, Mapping) and not Path(feed).is_dir():
            raise SourceCrawlError(f"fixture folder {feed} does not exist")
        if self._server is None:
            self._server = FeedServer().start()
        self._server.set_pages(feed if isinstance(feed, Mapping) else {})
        self._server.folder = None if isinstance(feed, Mapping) else Path(feed).resolve()
        return self._server

    @property
    def server(self) -> FeedServer | None:
        """The fixture server, once a call started it."""
        return self._server

    def close(self) -> None:
        """Stop the fixture server (the pytest fixture does it after the test)."""
        if self._server is not None:
            self._server.stop()
            self._server = None

    # ------------------------------------------------------------------ crawl
    def __call__(
        self,
        source: str | Path,
        feed: str | Path | Mapping[str, bytes],
        start: str | None = None,
        *,
        settings: Mapping[str, str] | None = None,
        env: Mapping[str, str] | None = None,
        timeout: float = 300,
    ) -> CrawlResult:
        """Crawl ``source`` (a source name, or the path of a mapping file) from ``feed``.

        ``start`` is the request path of the first page on the fixture server (default:
        :func:`default_start` of the source's URL); ``settings`` are Scrapy settings
        (``-s``); ``env`` adds environment variables for this crawl.
        """
        child_env = self.environment(env)
        if isinstance(source, Path) or str(source).endswith((".yaml", ".yml")):
            name = self._mapping_file(Path(source), child_env)
        else:
            name = str(source)
        if start is None:
            start = default_start(self._source_url(name, child_env))
        self._ensure_schema()
        server = self.serve(feed)
        args = [sys.executable, "-m", "pipeline_core.cli", "crawl", name, "--no-progress"]
        for key, value in (settings or {}).items():
            args += ["-s", f"{key}={value}"]
        args += ["-a", f"start_url={server.url(start if start.startswith('/') else '/' + start)}"]
        before = self._last_crawl_id(name)
        first_request = len(server.requests)
        done = subprocess.run(
            args,
            env=child_env,
            cwd=self.cwd,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        requests = list(server.requests[first_request:])
        crawl_id = self._last_crawl_id(name)
        if crawl_id is None or crawl_id == before:
            tail = "\n".join(done.stderr.strip().splitlines()[-20:])
            raise SourceCrawlError(f"crawl of {name} did not run (exit {done.returncode}):\n{tail}")
        listings, error_rows, stats = self.read(name, crawl_id)
        return CrawlResult(
            listings=listings,
            errors=error_rows,
            stats=stats,
            requests=requests,
            output=done.stdout,
            log=done.stderr,
            database_url=self.database_url,
            crawl_id=crawl_id,
        )

    # ------------------------------------------------------------------ read back
    def _engine(self) -> sa.Engine:
        return make_engine(self.database_url, poolclass=sa.pool.NullPool)

    def _last_crawl_id(self, name: str) -> int | None:
        engine = self._engine()
        try:
            with engine.connect() as conn:
                if not sa.inspect(conn).has_table("crawls", schema="pipeline"):
                    return None
                value = conn.execute(
                    sa.select(sa.func.max(crawls.c.id)).where(crawls.c.source == name)
                ).scalar_one()
        finally:
            engine.dispose()
        return int(value) if value is not None else None

    def read(
        self, name: str, crawl_id: int
    ) -> tuple[dict[str, StagedListing], list[dict[str, Any]], dict[str, Any]]:
        """Staged listings of ``name``, and the errors and stats of crawl ``crawl_id``."""
        listings = staging["listings"]
        children = {k: t for k, t in staging.items() if k != "listings"}
        engine = self._engine()
        try:
            with engine.connect() as conn:
                rows = conn.execute(
                    sa.select(listings).where(listings.c.source == name).order_by(listings.c.id)
                ).mappings()
                by_id = {row["id"]: row for row in rows}
                child_rows: dict[int, dict[str, list[dict[str, Any]]]] = {i: {} for i in by_id}
                for table_name, table in children.items():
                    order = [table.c.id] if "id" in table.c else []
                    query = (
                        sa.select(table)
                        .where(table.c.listing_id.in_(list(by_id)))
                        .order_by(table.c.listing_id, *order)
                    )
                    for child in conn.execute(query).mappings():
                        values = {k: v for k, v in child.items() if k not in _LINK_COLUMNS}
                        child_rows[child["listing_id"]].setdefault(table_name, []).append(values)
                error_rows = [
                    dict(row)
                    for row in conn.execute(
                        sa.select(*(errors.c[c] for c in ERROR_COLUMNS))
                        .where(errors.c.crawl_id == crawl_id)
                        .order_by(errors.c.id)
                    ).mappings()
                ]
                crawl = conn.execute(
                    sa.select(crawls.c.stats, crawls.c.finish_reason, crawls.c.complete).where(
                        crawls.c.id == crawl_id
                    )
                ).one()
        finally:
            engine.dispose()
        staged = {
            row["external_id"]: StagedListing(
                external_id=row["external_id"],
                status=row["status"],
                category=row["category"],
                record=row["record"],
                record_hash=row["record_hash"],
                rows=child_rows[listing_id],
            )
            for listing_id, row in by_id.items()
        }
        stats = dict(crawl.stats or {})
        stats.setdefault("finish_reason", crawl.finish_reason)
        stats.setdefault("complete", bool(crawl.complete))
        return staged, error_rows, stats
