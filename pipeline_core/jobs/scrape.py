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

from pipeline_core.db.tables import errors
from pipeline_core.exceptions import (
    JobCancelled,
    JobError,
    LeaseLost,
    PermanentJobError,
    UnknownSourceError,
)
from pipeline_core.jobs.files import digest_file, record_file
from pipeline_core.jobs.payload import payload_text
from pipeline_core.jobtypes import JobContext, JobResult, NextJob
from pipeline_core.plugins import get_plugin_manager
from pipeline_core.sources import get_source
from pipeline_core.stages.archive import summary_path
from pipeline_core.stages.crawl import close_unfinished_crawl
from pipeline_core.storage import JSONL, archive_key, get_storage

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
    env = {**os.environ, **context.settings.raw}
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
    relay = threading.Thread(
        target=_relay, args=(process.stdout, name, tail), name=f"crawl-{name}", daemon=True
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
    reason ``crawl process HOW``. Nothing is withdrawn (that is the ingest's work)."""
    with context.engine.begin() as conn:
        close_unfinished_crawl(conn, crawl_id, f"crawl process {how}")


def scrape(payload: Mapping[str, Any], context: JobContext) -> JobResult:
    """Archive the raw records of ``payload["source"]``; the next job transforms them."""
    name = payload_text(payload, "source", "scrape")
    pm = get_plugin_manager(context.settings)
    try:
        source = get_source(pm.sources(), name)
    except UnknownSourceError as exc:  # removed since it was queued: it will not come back
        raise PermanentJobError(f"scrape job: {exc}", source=name) from None
    storage = get_storage(context.settings)
    sweep_orphaned_folders()
    with tempfile.TemporaryDirectory(prefix=f"{FOLDER_PREFIX}{os.getpid()}-") as folder:
        path = Path(folder) / "raw.jsonl"
        summary = run_archive_crawl(name, path, context)
        digest = digest_file(path)
        crawl_id = int(summary["crawl_id"])
        started = datetime.fromisoformat(summary["started_at"])
        key = archive_key("raw", name, started.astimezone(UTC).date(), f"crawl-{crawl_id}.jsonl")
        url = storage.put_file(key, path, JSONL)
    with context.engine.begin() as conn:
        # The crawl's page errors belong to this job.
        conn.execute(
            sa.update(errors)
            .where(errors.c.crawl_id == crawl_id, errors.c.job_id.is_(None))
            .values(job_id=context.job_id)
        )
        file_id = record_file(
            conn,
            kind="raw",
            source=name,
            url=url,
            digest=digest,
            crawl_id=crawl_id,
            job_id=context.job_id,
        )
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
