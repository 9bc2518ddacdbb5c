"""One image run over a source's listings: what to fetch, fetching, converting, storing.

:class:`ImageRun` collects the source's image rows (the ``pending`` ones, or all of them
with ``refresh``), groups them by URL (a URL used by several listings is fetched once),
and works the URLs in a thread pool of ``PIPELINE_IMAGE_CONCURRENCY`` threads. A thread
downloads (conditionally when the URL was stored before), hashes the bytes, and hands them
to a process pool (``PIPELINE_IMAGE_PROCESSES``) that checks and converts them
(:func:`~pipeline_core.images.convert.convert`), then stores the outputs. The thread that
called :meth:`ImageRun.run` only writes the rows, one transaction per URL, so a failure
never undoes another image's rows.

A URL that failed less than ``PIPELINE_IMAGE_RETRY_AFTER`` seconds ago is not fetched
again (its rows get the known reason), a listing image keeps one error row per URL (a new
failure updates it), and a host name that does not resolve is looked up once per run
(:class:`~pipeline_core.images.fetch.HostLookups`).

Memory stays bounded whatever the image count: at most ``concurrency`` URLs are in flight
(each holds at most ``PIPELINE_IMAGE_MAX_BYTES`` downloaded plus its decoded pixels, which
``PIPELINE_IMAGE_MAX_PIXELS`` bounds), and a finished URL keeps only its row values.

Content is deduplicated by SHA-256: outputs are stored under
``images/<hash[:2]>/<hash>/<recipe>/<name>.<ext>``, and bytes already stored with the same
recipe (by another URL, listing or source, in this run or before, and still in storage)
are not converted or written again. Outputs nothing names any more are deleted by
:mod:`~pipeline_core.images.cleanup`.
"""

from __future__ import annotations

import hashlib
import logging
import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import (
    FIRST_COMPLETED,
    Future,
    ProcessPoolExecutor,
    ThreadPoolExecutor,
    wait,
)
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from pipeline_core.config import Settings
from pipeline_core.exceptions import ImageError, JobCancelled
from pipeline_core.frequency import as_utc
from pipeline_core.images import rows
from pipeline_core.images.convert import EXTENSIONS, Converted, Recipe, convert
from pipeline_core.images.fetch import HostLookups, fetch
from pipeline_core.stages.errors import ErrorSink
from pipeline_core.storage import Storage
from pipeline_core.storage.keys import check_key

logger = logging.getLogger(__name__)

#: Seconds between lease heartbeats while a run is going.
HEARTBEAT_EVERY = 5.0


def recipe_of(settings: Settings) -> Recipe:
    """The conversion recipe the settings describe."""
    images = settings.images
    return Recipe(
        images.variants,
        images.jpeg_quality,
        images.webp_quality,
        images.max_pixels,
        images.original_max,
        images.webp_method,
    )


def recipe_id(recipe: Recipe) -> str:
    """A short digest of the recipe: part of the storage keys, so changed settings make new
    objects instead of overwriting ones that caches hold as immutable."""
    return hashlib.sha256(repr(recipe).encode()).hexdigest()[:12]


def image_key(content_hash: str, recipe: str, name: str, fmt: str) -> str:
    """``images/<hash[:2]>/<hash>/<recipe>/<name>.<ext>``."""
    return check_key(f"images/{content_hash[:2]}/{content_hash}/{recipe}/{name}.{EXTENSIONS[fmt]}")


@dataclass(frozen=True)
class Planned:
    """What a run would do with one URL (``--dry-run``)."""

    url: str
    action: str  # download | conditional | reuse
    listings: tuple[str, ...]


@dataclass
class Outcome:
    """What happened to one URL."""

    url: str
    action: str  # reused, not_modified, unchanged, stored, deduplicated, failed, failed_before
    #: Columns of the URL's ``pipeline.images`` row to write (None: nothing changed).
    url_row: dict[str, Any] | None
    #: Columns of its ``listing_images`` rows.
    filled: dict[str, Any]
    downloaded: int = 0
    written: int = 0


@dataclass
class _Stats:
    counts: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys(
            (
                "urls",
                "images",
                "reused",
                "not_modified",
                "unchanged",
                "stored",
                "deduplicated",
                "failed",
                "failed_before",
                "objects_written",
                "bytes_downloaded",
                "rows_written",
            ),
            0,
        )
    )


def _filled(row: dict[str, Any]) -> dict[str, Any]:
    return {"status": "stored", "error": None} | {k: row[k] for k in rows.FILLED}


def _failed(reason: str) -> dict[str, Any]:
    return {k: None for k in rows.FILLED} | {"status": "failed", "error": reason}


def _escaped(text: str | None) -> str | None:
    """As :class:`ErrorSink` writes an id, field or URL (a NUL as ``\\x00``)."""
    return None if text is None else text.replace("\x00", "\\x00")


class ImageRun:
    """The image work of one source (see the module's docstring)."""

    def __init__(
        self,
        engine: sa.Engine,
        settings: Settings,
        storage: Storage,
        source: str,
        *,
        job_id: int | None = None,
        heartbeat: Callable[[], None] = lambda: None,
        cancelled: threading.Event | None = None,
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.storage = storage
        self.source = source
        self.job_id = job_id
        self.heartbeat = heartbeat
        self.cancelled = cancelled or threading.Event()
        self.recipe = recipe_of(settings)
        self.spec = recipe_id(self.recipe)
        self._lock = threading.Lock()
        self._contents: dict[str, Future[dict[str, Any]]] = {}
        self._pool: ProcessPoolExecutor | None = None
        self._lookups = HostLookups()
        #: This source's image error rows: (listing, field, URL) → id (see :meth:`_apply`).
        self._errors: dict[tuple[str | None, str | None, str | None], int] = {}

    # ------------------------------------------------------------------ planning

    def _work_list(
        self, refresh: bool
    ) -> tuple[dict[str, list[rows.Target]], dict[str, dict[str, Any]]]:
        with self.engine.connect() as conn:
            found = rows.targets(conn, self.source, refresh=refresh)
            by_url: dict[str, list[rows.Target]] = {}
            for target in found:
                by_url.setdefault(target.url, []).append(target)
            return by_url, rows.known(conn, list(by_url))

    def _usable(self, row: dict[str, Any] | None) -> bool:
        return bool(row and row["status"] == "stored" and row["spec"] == self.spec)

    def _backing_off(self, row: dict[str, Any] | None) -> bool:
        """True when ``row`` is a URL that failed less than ``PIPELINE_IMAGE_RETRY_AFTER``
        seconds ago (it is not fetched again yet)."""
        wait = self.settings.images.retry_after
        if not (wait and row and row["status"] == "failed" and row["fetched_at"]):
            return False
        failed_at = as_utc(row["fetched_at"])
        return datetime.now(UTC) - failed_at < timedelta(seconds=wait)

    def plan(self, *, refresh: bool = True) -> list[Planned]:
        """What :meth:`run` would fetch, without fetching or writing anything."""
        by_url, known = self._work_list(refresh)
        out = []
        for url, targets in by_url.items():
            row = known.get(url)
            if self._backing_off(row):
                action = "failed"
            elif not self._usable(row):
                action = "download"
            else:
                action = "conditional" if refresh else "reuse"
            listings = tuple(dict.fromkeys(t.external_id for t in targets))
            out.append(Planned(url, action, listings))
        return out

    # ------------------------------------------------------------------ running

    def run(self, *, refresh: bool = False) -> dict[str, int]:
        """Process the source's images; returns the counts of what happened."""
        by_url, known = self._work_list(refresh)
        stats = _Stats().counts
        stats["urls"] = len(by_url)
        stats["images"] = sum(len(t) for t in by_url.values())
        if not by_url:
            return stats
        with self.engine.connect() as conn:
            self._errors = rows.image_errors(conn, self.source)
        concurrency = self.settings.images.concurrency
        last_beat = time.monotonic()
        try:
            with ThreadPoolExecutor(concurrency, thread_name_prefix="image-fetch") as threads:
                urls = iter(by_url)
                running: set[Future[Outcome]] = set()
                for outcome in self._completed(threads, urls, known, running, refresh):
                    self._apply(outcome, by_url[outcome.url], stats, refresh)
                    if time.monotonic() - last_beat > HEARTBEAT_EVERY:
                        self.heartbeat()
                        last_beat = time.monotonic()
        finally:
            if self._pool is not None:
                self._pool.shutdown(cancel_futures=True)
                self._pool = None
        logger.info(
            "images of %s: %d URLs, %d stored, %d deduplicated, %d not modified, %d reused, "
            "%d failed",
            self.source,
            stats["urls"],
            stats["stored"],
            stats["deduplicated"],
            stats["not_modified"],
            stats["reused"],
            stats["failed"],
        )
        return stats

    def _completed(
        self,
        threads: ThreadPoolExecutor,
        urls: Iterator[str],
        known: dict[str, dict[str, Any]],
        running: set[Future[Outcome]],
        refresh: bool,
    ) -> Iterator[Outcome]:
        """Outcomes as they finish, with at most ``concurrency`` URLs in flight."""
        limit = self.settings.images.concurrency
        while True:
            if self.cancelled.is_set():
                for future in running:
                    future.cancel()
                raise JobCancelled(f"image job of {self.source} cancelled")
            for url in urls:
                running.add(threads.submit(self._work, url, known.get(url), refresh))
                if len(running) >= limit:
                    break
            if not running:
                return
            done, _ = wait(running, timeout=1.0, return_when=FIRST_COMPLETED)
            for future in done:
                running.discard(future)
                yield future.result()

    def _work(self, url: str, row: dict[str, Any] | None, refresh: bool) -> Outcome:
        """Fetch, check, convert and store one URL (in a fetch thread)."""
        usable = self._usable(row)
        if usable and not refresh:
            assert row is not None
            return Outcome(url, "reused", None, _filled(row))
        if self._backing_off(row):
            assert row is not None
            return Outcome(url, "failed_before", None, _failed(row["error"]))
        images = self.settings.images
        try:
            fetched = fetch(
                url,
                etag=row["etag"] if usable and row else None,
                last_modified=row["last_modified"] if usable and row else None,
                max_bytes=images.max_bytes,
                timeout=images.timeout,
                allowed_hosts=self.settings.allowed_hosts,
                name_servers=self.settings.name_servers,
                lookups=self._lookups,
            )
            now = datetime.now(UTC)
            if fetched.status == 304:
                assert row is not None
                same = (fetched.etag, fetched.last_modified) == (row["etag"], row["last_modified"])
                changed: dict[str, Any] = {
                    "etag": fetched.etag,
                    "last_modified": fetched.last_modified,
                }
                return Outcome(url, "not_modified", None if same else changed, _filled(row))
            data = fetched.data
            content_hash = hashlib.sha256(data).hexdigest()
            validators: dict[str, Any] = {
                "etag": fetched.etag,
                "last_modified": fetched.last_modified,
                "fetched_at": now,
            }
            if usable and row and row["content_hash"] == content_hash:
                return Outcome(url, "unchanged", validators, _filled(row), len(data))
            size = len(data)
            content, action, written = self._content(content_hash, data)
            del data, fetched  # only the row values outlive this call
            url_row = content | validators | {"status": "stored", "error": None}
            return Outcome(url, action, url_row, _filled(content), size, written)
        except ImageError as exc:
            reason = str(exc)
            url_row = _failed(reason) | {
                "etag": None,
                "last_modified": None,
                "format": None,
                "spec": None,
                "fetched_at": datetime.now(UTC),
            }
            return Outcome(url, "failed", url_row, _failed(reason))

    def _content(self, content_hash: str, data: bytes) -> tuple[dict[str, Any], str, int]:
        """The stored facts of this content: converted and stored now, or found stored
        before (by this run or an earlier one). Returns them, the action and the objects
        written."""
        with self._lock:
            future = self._contents.get(content_hash)
            owner = future is None
            if future is None:
                future = self._contents[content_hash] = Future()
        if not owner:
            return future.result(), "deduplicated", 0
        try:
            with self.engine.connect() as conn:
                existing = rows.stored_content(conn, content_hash, self.spec)
            if existing is not None and not self.storage.exists(existing["original_key"]):
                existing = None  # deleted as unused meanwhile: made again
            if existing is not None:
                columns = ("format", "spec", *rows.FILLED)
                content = {k: existing[k] for k in columns}
                future.set_result(content)
                return content, "deduplicated", 0
            converted = self._convert(data)
            content = self._store(content_hash, converted)
        except BaseException as exc:
            future.set_exception(exc)
            raise
        future.set_result(content)
        return content, "stored", len(converted.outputs)

    def _convert(self, data: bytes) -> Converted:
        with self._lock:
            if self._pool is None:
                processes = self.settings.images.processes or os.cpu_count() or 1
                self._pool = ProcessPoolExecutor(
                    processes, mp_context=multiprocessing.get_context("spawn")
                )
            pool = self._pool
        return pool.submit(convert, data, self.recipe).result()

    def _store(self, content_hash: str, converted: Converted) -> dict[str, Any]:
        cache = self.settings.images.cache_control
        keys = {}
        for output in converted.outputs:
            key = image_key(content_hash, self.spec, output.name, output.format)
            self.storage.put_bytes(key, output.data, output.content_type, cache_control=cache)
            keys[output.name] = {
                "key": key,
                "format": output.format,
                "content_type": output.content_type,
                "width": output.width,
                "height": output.height,
                "bytes": len(output.data),
            }
        original = keys.pop("original")
        return {
            "format": converted.source_format,
            "spec": self.spec,
            "width": original["width"],
            "height": original["height"],
            "bytes": original["bytes"],
            "content_hash": content_hash,
            "original_key": original["key"],
            "variants": keys,
        }

    def _apply(
        self, outcome: Outcome, targets: list[rows.Target], stats: dict[str, int], refresh: bool
    ) -> None:
        """Write one URL's rows (one transaction): its ``pipeline.images`` row, its
        listings' image rows, and the error row of each listing image when it failed.

        A listing image has one error row however often its URL fails: a new failure
        updates that row (message, job, time); a URL not fetched again because it failed
        recently (``failed_before``) adds a row only for a listing image that has none."""
        stats[outcome.action] += 1
        stats["objects_written"] += outcome.written
        stats["bytes_downloaded"] += outcome.downloaded
        filled = outcome.filled
        failed = outcome.action in ("failed", "failed_before")
        if outcome.action == "failed":
            ids = [t.id for t in targets]
        elif failed:  # rows already failed for this reason are not written again
            ids = [t.id for t in targets if (t.status, t.error) != ("failed", filled["error"])]
        else:  # a row already stored with this content is not written again
            ids = [
                t.id
                for t in targets
                if t.status != "stored" or t.content_hash != filled["content_hash"]
            ]
        sink = ErrorSink(self.source, job_id=self.job_id)
        for target in targets if failed else ():
            field = f"images.{target.position}.url"
            key = (_escaped(target.external_id), field, _escaped(outcome.url))
            if outcome.action == "failed_before" and key in self._errors:
                continue
            sink.add(
                "image",
                f"image {outcome.url} of listing {target.external_id}: {filled['error']}",
                external_id=target.external_id,
                field=field,
                url=outcome.url,
            )
        if outcome.url_row is None and not ids and not sink.pending:
            return
        with self.engine.begin() as conn:
            if outcome.url_row is not None:
                rows.save_url(conn, outcome.url, outcome.url_row)
            stats["rows_written"] += rows.fill(conn, ids, filled)
            new = []
            for error in sink.take():
                key = (error["external_id"], error["field"], error["url"])
                if key in self._errors:
                    rows.update_error(conn, self._errors[key], error)
                else:
                    new.append(error)
            ErrorSink.write(conn, new)
        for error in new:  # known from now on (their ids are not needed: one run, one row)
            self._errors[(error["external_id"], error["field"], error["url"])] = 0
