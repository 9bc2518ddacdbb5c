"""The ``scrape`` job: crawl a source in a child process and archive its raw records.

Payload ``{"source": NAME}``. The crawl runs as ``python -m pipeline_core.cli crawl NAME
-s PIPELINE_ARCHIVE_PATH=FILE -s PIPELINE_WORKER_PID=PID`` (the same runtime as
``dmo-pipeline crawl``), in a child process: whatever the crawl does, even dying, cannot
take the worker down, and the crawl stops when the worker dies (a worker killed with
SIGKILL leaves no crawl running: :mod:`pipeline_core.scrapy.worker_watch`). The child
opens and closes the ``pipeline.crawls`` row and records page errors; this job uploads the
file to storage, records it in ``pipeline.files`` (kind ``raw``) and names ``transform`` of
that file as the next job. A crawl this job stops (the worker shuts down, the job's lease
was lost) has its crawl row closed as not complete.
"""

from __future__ import annotations

import collections
import contextvars
import hashlib
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import orjson
import sqlalchemy as sa

from pipeline_core.db.tables import crawls, errors
from pipeline_core.exceptions import (
    JobCancelled,
    JobError,
    LeaseLost,
)
from pipeline_core.jobs.files import digest_file, record_file
from pipeline_core.jobs.payload import payload_text
from pipeline_core.jobtypes import JobContext, JobResult, NextJob
from pipeline_core.log_context import context_environment
from pipeline_core.log_format import relay_json_line
from pipeline_core.metrics import observe_crawl
from pipeline_core.plugins import get_plugin_manager
from pipeline_core.sources import get_source
from pipeline_core.stages.archive import mark_archived, summary_path
from pipeline_core.stages.crawl import close_unfinished_crawl
from pipeline_core.storage import JSONL, Storage, archive_key, get_storage

logger = logging.getLogger(__name__)

#: Lines of the crawl's output kept for the error message of a crawl that died.
TAIL_LINES = 30
#: Seconds between two looks at the crawl process (and at the job's cancellation).
WAIT_STEP = 0.2
#: Seconds a stopped crawl process gets to exit after SIGTERM before it is killed.
STOP_WAIT = 5.0
#: Why this job stopped its crawl, as the crawl row's finish reason says it.
SHUT_DOWN = "the worker shut down"
LEASE_LOST = "the job's lease was lost"
#: Name of a scrape's temporary folder: ``dmo-scrape-PID-…``, PID the worker's process.
FOLDER_PREFIX = "dmo-scrape-"
#: Seconds a dead worker's folder must have been left untouched before it is removed.
ORPHAN_AGE = 600.0
#: Name of the folder where a crawl's archive waits to be stored: ``dmo-archive-JOB-…``.
PENDING_PREFIX = "dmo-archive-"
#: Seconds an archive waits for its store before it is removed (a day).
PENDING_AGE = 86_400.0
#: Longest pause between two tries to store an archive.
STORE_WAIT_MAX = 30.0


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # somebody else's process
        return True
    return True


def _last_touched(folder: Path) -> float:
    times = [folder.stat().st_mtime]
    for entry in folder.iterdir():
        try:
            times.append(entry.stat().st_mtime)
        except OSError:
            pass
    return max(times)


def sweep_orphaned_folders(parent: Path | None = None, now: float | None = None) -> list[Path]:
    """Remove the temporary folders of scrapes whose worker is gone (killed outright, so it
    could not clean up), untouched for :data:`ORPHAN_AGE` seconds; return them.

    A folder is named after its worker's process id; the age check keeps a folder whose
    worker only looks dead from here (another PID namespace sharing the folder).
    """
    parent = Path(tempfile.gettempdir()) if parent is None else parent
    now = time.time() if now is None else now
    removed = []
    for folder in parent.glob(f"{FOLDER_PREFIX}*-*"):
        pid_text = folder.name.removeprefix(FOLDER_PREFIX).split("-", 1)[0]
        if not pid_text.isdigit() or not folder.is_dir() or _alive(int(pid_text)):
            continue
        try:
            if now - _last_touched(folder) < ORPHAN_AGE:
                continue
            shutil.rmtree(folder)
        except OSError as exc:
            logger.warning("could not remove the orphaned scrape folder %s: %s", folder, exc)
            continue
        removed.append(folder)
    if removed:
        logger.info(
            "removed %d temporary scrape folder(s) of workers that are gone: %s",
            len(removed),
            ", ".join(folder.name for folder in removed),
        )
    return removed


def _relay(stream: IO[bytes], source: str, tail: collections.deque[str]) -> None:
    for raw in stream:
        line = raw.decode("utf-8", "replace").rstrip()
        if line:
            tail.append(line)
            if not relay_json_line(line):
                logger.info("%s crawl | %s", source, line)


def _death(returncode: int) -> str:
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = str(-returncode)
        return f"was killed by signal {name}"
    return f"exited with code {returncode}"


def _stop(process: subprocess.Popen[bytes]) -> None:
    """End the crawl process: SIGTERM (Scrapy closes its spider), SIGKILL after
    :data:`STOP_WAIT` seconds; wait for it, so no crawl outlives its job."""
    process.terminate()
    try:
        process.wait(timeout=STOP_WAIT)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def run_archive_crawl(name: str, path: Path, context: JobContext) -> dict[str, Any]:
    """Crawl ``name`` into ``path`` in a child process; return the archive's summary.

    The child's output is relayed to this process's log, line by line. The job's lease is
    extended while the crawl runs. Raises :class:`JobError` when the child died before
    closing its crawl, and :class:`JobCancelled` (after stopping the child and closing its
    crawl row) when the worker cancels the job. When the job stops the crawl for another
    reason (a heartbeat raised :class:`LeaseLost`, the handler was interrupted) the child
    is stopped, its crawl row closed as not complete, and the exception propagates.
    """
    command = [
        sys.executable,
        "-m",
        "pipeline_core.cli",
        "crawl",
        name,
        "--no-progress",
        "-s",
        f"PIPELINE_ARCHIVE_PATH={path}",
        # The crawl watches this process and stops when it dies (killed outright, this
        # worker could not stop it): pipeline_core.scrapy.worker_watch.
        "-s",
        f"PIPELINE_WORKER_PID={os.getpid()}",
    ]
    # The child reads the same settings as this job, whatever the worker's environment.
    env = {**os.environ, **context.settings.raw, **context_environment()}
    tail: collections.deque[str] = collections.deque(maxlen=TAIL_LINES)
    beat = max(1.0, min(30.0, context.settings.lease_seconds / 3))
    logger.info("scrape of %s: crawling in a child process", name)
    # A session of its own: a Ctrl-C or signal meant for the worker does not reach the
    # crawl; the worker decides (it waits for the crawl, or stops it on cancellation).
    process = subprocess.Popen(
        command,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    assert process.stdout is not None
    relay = threading.Thread(  # in this job's context: its lines name the job
        target=contextvars.copy_context().run,
        args=(_relay, process.stdout, name, tail),
        name=f"crawl-{name}",
        daemon=True,
    )
    relay.start()
    stopped: str | None = None  # why this job stops the crawl before it ends, if it does
    try:
        last_beat = time.monotonic()
        while True:
            try:
                process.wait(timeout=WAIT_STEP)
                break
            except subprocess.TimeoutExpired:
                if context.cancelled.is_set():
                    stopped = SHUT_DOWN
                    break
                if time.monotonic() - last_beat >= beat:
                    last_beat = time.monotonic()
                    context.heartbeat()
    except LeaseLost:
        stopped = LEASE_LOST
        raise
    except BaseException as exc:
        stopped = f"its job raised {type(exc).__name__}"
        raise
    finally:
        if process.poll() is None:  # this job was cancelled or interrupted: so is the crawl
            _stop(process)
        returncode = process.returncode
        relay.join(timeout=10)
        process.stdout.close()
        summary = _summary(path)
        if stopped is not None:
            _close_stopped_crawl(context, summary.get("crawl_id"), f"was stopped: {stopped}")
    crawl_id = summary.get("crawl_id")
    if stopped == SHUT_DOWN:
        raise JobCancelled(
            f"scrape of {name}: the worker shut down before the crawl finished; the crawl "
            f"process (crawl {crawl_id or '?'}) was stopped and nothing was archived"
        )
    if summary.get("state") != "finished" or returncode not in (0, 1):
        if crawl_id is not None:
            _close_dead_crawl(context, crawl_id, _death(returncode))
        last = "\n".join(tail) or "(no output)"
        raise JobError(
            f"scrape of {name}: the crawl process {_death(returncode)} before it finished "
            f"(crawl {crawl_id or '?'}); nothing was archived. Its last output:\n{last}"
        )
    return summary


def _summary(path: Path) -> dict[str, Any]:
    """The summary the crawl wrote beside ``path`` (it names its crawl row), or ``{}``."""
    try:
        summary: dict[str, Any] = orjson.loads(summary_path(path).read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return {}
    return summary


def _close_stopped_crawl(context: JobContext, crawl_id: int | None, how: str) -> None:
    """Close the row of a crawl this job stopped, as not complete; a failure is logged, so
    it never hides why the job stopped (the database may be what failed)."""
    if crawl_id is None:  # stopped before it opened its crawl row
        return
    try:
        _close_dead_crawl(context, crawl_id, how)
    except Exception:
        logger.exception("scrape: closing crawl %s (crawl process %s) failed", crawl_id, how)


def _close_dead_crawl(context: JobContext, crawl_id: int, how: str) -> None:
    """Close the row of a crawl whose process ended without closing it: not complete, the
    reason ``crawl process HOW``, and not archived (no file). Nothing is withdrawn (that is
    the ingest's work)."""
    with context.engine.begin() as conn:
        if close_unfinished_crawl(conn, crawl_id, f"crawl process {how}"):
            conn.execute(
                sa.update(crawls).where(crawls.c.id == crawl_id).values(stats={"archived": False})
            )


def pending_folder(context: JobContext) -> Path:
    """Where a crawl's archive waits until it is stored: named after the job (and its
    database and chain), so the next attempt of the same job on this machine finds it and
    stores it instead of crawling again."""
    who = f"{context.settings.database_url}|{context.job_id}|{context.correlation_id}"
    digest = hashlib.sha256(who.encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"{PENDING_PREFIX}{context.job_id}-{digest}"


def sweep_pending_folders(parent: Path | None = None, now: float | None = None) -> list[Path]:
    """Remove archives that waited :data:`PENDING_AGE` seconds for a store that never came
    (their job was dead-lettered or retried by hand elsewhere); return them."""
    parent = Path(tempfile.gettempdir()) if parent is None else parent
    now = time.time() if now is None else now
    removed = []
    for folder in parent.glob(f"{PENDING_PREFIX}*"):
        try:
            if not folder.is_dir() or now - _last_touched(folder) < PENDING_AGE:
                continue
            shutil.rmtree(folder)
        except OSError as exc:
            logger.warning("could not remove the stale archive folder %s: %s", folder, exc)
            continue
        removed.append(folder)
    return removed


def store_archive(storage: Storage, key: str, path: Path, context: JobContext, where: str) -> str:
    """Store ``path`` at ``key``, trying again while storage is away: after 1 s, then twice
    as long each time up to :data:`STORE_WAIT_MAX`, for ``PIPELINE_STORAGE_RETRY_SECONDS``
    in all (the job's lease heartbeated meanwhile). Returns the file's URL; raises
    :class:`JobError` when the time is up (the file stays for the next attempt)."""
    deadline = time.monotonic() + context.settings.storage_retry_seconds
    wait, tries = 1.0, 0
    while True:
        tries += 1
        try:
            return storage.put_file(key, path, JSONL)
        except Exception as exc:
            left = deadline - time.monotonic()
            if left <= 0 or context.cancelled.is_set():
                raise JobError(
                    f"{where}: storing the archive failed {tries} time(s) over "
                    f"{context.settings.storage_retry_seconds:g} s "
                    f"(PIPELINE_STORAGE_RETRY_SECONDS); the file is kept at {path}, and the "
                    f"next attempt stores it without crawling again: "
                    f"{type(exc).__name__}: {exc}"
                ) from exc
            pause = min(wait, left)
            logger.warning(
                "%s: storing the archive failed (try %d), trying again in %.3g s: %s",
                where,
                tries,
                pause,
                exc,
            )
            end = time.monotonic() + pause
            while (rest := end - time.monotonic()) > 0 and not context.cancelled.is_set():
                context.heartbeat()
                context.cancelled.wait(min(rest, 5.0))
            wait = min(wait * 2, STORE_WAIT_MAX)


def _first_page_error(context: JobContext, crawl_id: int) -> str:
    with context.engine.connect() as conn:
        message = conn.execute(
            sa.select(errors.c.message)
            .where(errors.c.crawl_id == crawl_id, errors.c.stage == "fetch")
            .order_by(errors.c.id)
            .limit(1)
        ).scalar()
    return message or "?"


def scrape(payload: Mapping[str, Any], context: JobContext) -> JobResult:
    """Archive the raw records of ``payload["source"]``; the next job transforms them.

    A crawl that fetched nothing because its pages failed fails the attempt (retried, then
    dead-lettered and notified); one that fetched part of the source completes, not
    complete, with a warning (its ingest withdraws nothing). The archive is stored with
    :func:`store_archive`; until then it waits in :func:`pending_folder`, so an attempt
    that failed to store it (or whose worker died) is followed by one that stores the
    same file: a crawl is never repeated because storage was away.
    """
    name = payload_text(payload, "source", "scrape")
    pm = get_plugin_manager(context.settings)
    source = get_source(pm.sources(), name)  # unknown: dead-lettered at once (runner)
    storage = get_storage(context.settings)
    sweep_orphaned_folders()
    sweep_pending_folders()
    pending = pending_folder(context)
    path = pending / "raw.jsonl"
    summary = _summary(path) if path.is_file() else {}
    if summary.get("state") == "finished":
        logger.warning(
            "scrape of %s: attempt %d stores crawl %s, archived by an earlier attempt of job "
            "%d whose store failed; the source is not crawled again",
            name,
            context.attempt,
            summary.get("crawl_id"),
            context.job_id,
        )
    else:
        with tempfile.TemporaryDirectory(prefix=f"{FOLDER_PREFIX}{os.getpid()}-") as folder:
            fresh = Path(folder) / "raw.jsonl"
            began = time.monotonic()
            summary = run_archive_crawl(name, fresh, context)
            observe_crawl(name, time.monotonic() - began)
            crawl_id = int(summary["crawl_id"])
            page_errors = int(summary.get("page_errors", 0))
            if page_errors and digest_file(fresh).lines == 0:
                with context.engine.begin() as conn:
                    _claim_errors(conn, crawl_id, context.job_id)
                raise JobError(
                    f"scrape of {name}: nothing was fetched, {page_errors} page(s) failed "
                    f"(crawl {crawl_id}; the first: {_first_page_error(context, crawl_id)})",
                    source=name,
                )
            pending.mkdir(parents=True, exist_ok=True)
            os.replace(fresh, path)
            os.replace(summary_path(fresh), summary_path(path))
    digest = digest_file(path)
    crawl_id = int(summary["crawl_id"])
    started = datetime.fromisoformat(summary["started_at"])
    key = archive_key("raw", name, started.astimezone(UTC).date(), f"crawl-{crawl_id}.jsonl")
    url = store_archive(storage, key, path, context, f"scrape of {name} (crawl {crawl_id})")
    with context.engine.begin() as conn:
        _claim_errors(conn, crawl_id, context.job_id)
        file_id = record_file(
            conn,
            kind="raw",
            source=name,
            url=url,
            digest=digest,
            crawl_id=crawl_id,
            job_id=context.job_id,
        )
        mark_archived(conn, crawl_id, url)
    shutil.rmtree(pending, ignore_errors=True)
    stats = {
        "source": name,
        "crawl_id": crawl_id,
        "file_id": file_id,
        "records": digest.lines,
        "size": digest.size,
        "complete": bool(summary.get("complete")),
        "page_errors": int(summary.get("page_errors", 0)),
        "finish_reason": summary.get("finish_reason"),
    }
    if not stats["complete"]:
        stats["warning"] = (
            f"crawl {crawl_id} is not complete ({stats['page_errors']} page error(s), finish "
            f"reason {stats['finish_reason']}): its ingest stages what was fetched and "
            "withdraws nothing"
        )
        logger.warning("scrape of %s: %s", name, stats["warning"])
    logger.info(
        "scrape of %s: crawl %s archived %d records (%d bytes, %s) to %s as file %d",
        name,
        crawl_id,
        digest.lines,
        digest.size,
        "complete" if stats["complete"] else "NOT complete",
        url,
        file_id,
    )
    return JobResult(
        stats, [NextJob("transform", {"file_id": file_id, "source": source.name}, dmo=source.dmo)]
    )


def _claim_errors(conn: sa.Connection, crawl_id: int, job_id: int) -> None:
    """The crawl's page errors belong to this job."""
    conn.execute(
        sa.update(errors)
        .where(errors.c.crawl_id == crawl_id, errors.c.job_id.is_(None))
        .values(job_id=job_id)
    )
