"""The ``ingest`` job: stage-write a normalised file in batches.

Payload ``{"file_id": ID}`` of a ``normalised`` file (``"source"`` as for ``transform``).
Records are compared with what is
staged by record hash (unchanged ones cost no write) and written in batches of
``PIPELINE_BATCH_SIZE``, each batch one transaction. A failed batch is rolled back whole
and fails the job; running it again ends in the same staging state, since the batches
written before are now unchanged. At the end, as a crawl does: listings not seen are
withdrawn if the originating crawl was complete (and is the source's newest crawl), the
crawl row gets the counts, ``pipeline.sources`` its last-crawl times, and
``pipeline.configs.last_scrape_at`` of a stored-config source the crawl's start time.
"""

from __future__ import annotations

import hashlib
import logging
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import orjson
import sqlalchemy as sa

from pipeline_core.db.tables import configs, crawls, files
from pipeline_core.exceptions import JobError
from pipeline_core.items import ListingItem
from pipeline_core.jobs.files import (
    ArchivedFile,
    count_errors,
    crawl_record,
    load_crawl,
    load_file,
)
from pipeline_core.jobs.images import images_after_ingest
from pipeline_core.jobs.payload import payload_id
from pipeline_core.jobtypes import JobContext, JobResult
from pipeline_core.plugins import get_plugin_manager
from pipeline_core.stages.archive import is_orphan
from pipeline_core.stages.session import StageSession
from pipeline_core.storage import get_storage
from pipeline_core.storage.base import Storage

logger = logging.getLogger(__name__)

#: Records between progress lines (and lease heartbeats).
PROGRESS_EVERY = 10_000


def ingest(payload: Mapping[str, Any], context: JobContext) -> JobResult:
    """Stage the normalised file ``payload["file_id"]``. Last of the built-in chain."""
    file_id = payload_id(payload, "file_id", "ingest")
    engine = context.engine
    with engine.connect() as conn:
        normalised = load_file(conn, file_id, "normalised", "ingest")
        context.source = normalised.source  # named in the error row if this attempt fails
        crawl_row = load_crawl(conn, normalised.crawl_id, "ingest")
        is_newest = _is_newest(conn, normalised.source, crawl_row["id"])
        scrape_job = conn.execute(
            sa.select(files.c.job_id)
            .where(files.c.crawl_id == crawl_row["id"], files.c.kind == "raw")
            .order_by(files.c.id)
            .limit(1)
        ).scalar()
        prior_errors = count_errors(
            conn, crawl_row["id"], [scrape_job, normalised.job_id, context.job_id]
        )
    crawl = crawl_record(crawl_row)
    scrape_stats = dict(crawl_row["stats"] or {})
    scrape_stats = dict(scrape_stats.get("scrape", scrape_stats))
    scrape_complete = bool(scrape_stats.get("complete", crawl_row["complete"]))
    if not is_newest:
        logger.info(
            "ingest of file %d: crawl %d is not the newest crawl of %s, so nothing is "
            "withdrawn and the source's last-crawl times stay",
            file_id,
            crawl.id,
            normalised.source,
        )

    pm = get_plugin_manager(context.settings)
    has_images = "image" in pm.job_types()
    known_source = pm.sources().get(normalised.source)  # its on_repeat rule, if still there
    session = StageSession(
        engine,
        None,
        source=normalised.source,
        fetcher="",
        origin="",
        batch_size=context.settings.batch_size,
        hook=pm.hook,
        withdraw_limit=context.settings.withdraw_limit,
        on_repeat=known_source.mapping.doc.get("on_repeat") if known_source else None,
    )
    session.errors.job_id = context.job_id
    session.prior_errors = prior_errors
    session.open(crawl)
    storage = get_storage(context.settings)
    batches = 0
    folder = tempfile.TemporaryDirectory(prefix="dmo-ingest-")
    try:
        local = _checked_copy(storage, normalised, Path(folder.name), file_id)
        with local.open("rb") as handle:
            for number, line in enumerate(handle, 1):
                item = _item(session, _entry(line, number, file_id, normalised))
                if item is not None and session.validate(session.hash(item)):
                    session.stage(item)
                    batches += item.state == "changed" and not session.pending
                if number % PROGRESS_EVERY == 0:
                    context.heartbeat()
                    _progress(file_id, session, number)
        session.flush()
    except sa.exc.DBAPIError as exc:
        first = str(exc.orig or exc).strip().splitlines()[0] if str(exc.orig or exc) else ""
        raise JobError(
            f"ingest of file {file_id} ({normalised.source}): a stage-write batch failed and "
            f"was rolled back, so staging is as it was before that batch ({batches} batches "
            f"of {session.batch_size} were written); running the job again finishes it: "
            f"{type(exc.orig or exc).__name__}: {first}"
        ) from exc
    finally:
        folder.cleanup()
    try:
        stats = session.close(
            "finished",
            source_complete=scrape_complete and is_newest,
            update_source=is_newest,
            extra_stats={"scrape": scrape_stats, "file_id": file_id},
        )
        with engine.begin() as conn:
            conn.execute(
                sa.update(configs)
                .where(
                    configs.c.name == normalised.source,
                    sa.or_(
                        configs.c.last_scrape_at.is_(None),
                        configs.c.last_scrape_at < crawl.started_at,
                    ),
                )
                .values(last_scrape_at=crawl.started_at)
            )
        with engine.connect() as conn:  # listings with new or changed images: image job
            next_jobs = images_after_ingest(conn, normalised.source) if has_images else []
    except sa.exc.DBAPIError as exc:
        raise JobError(
            f"ingest of file {file_id} ({normalised.source}): every record is staged, but "
            "closing the crawl (withdrawal, crawl row, last-scrape time) failed and was rolled "
            f"back; running the job again finishes it: {type(exc.orig or exc).__name__}"
        ) from exc
    return JobResult(
        {k: v for k, v in stats.items() if k != "scrape"} | {"crawl_id": crawl.id}, next_jobs
    )


def _checked_copy(storage: Storage, normalised: ArchivedFile, folder: Path, file_id: int) -> Path:
    """A local copy of the normalised file, whose SHA-256 is the one ``pipeline.files``
    recorded; else :class:`JobError` before anything is staged (a changed or damaged file
    is never half-staged)."""
    path = folder / "normalised.jsonl"
    checksum = hashlib.sha256()
    with storage.open(storage.key_of(normalised.url)) as source, path.open("wb") as out:
        for chunk in iter(lambda: source.read(1 << 20), b""):
            checksum.update(chunk)
            out.write(chunk)
    if checksum.hexdigest() != normalised.sha256:
        raise JobError(
            f"ingest of file {file_id} ({normalised.source}): {normalised.url} does not match "
            "its SHA-256 in pipeline.files; the archive was changed or damaged, nothing was "
            "staged"
        )
    return path


#: JSON's names of the values a line may hold instead of an object.
_JSON_KINDS = {list: "array", str: "string", int: "number", float: "number", bool: "boolean"}
_JSON_KINDS[type(None)] = "null"


def _entry(line: bytes, number: int, file_id: int, normalised: ArchivedFile) -> dict[str, Any]:
    """One line of a normalised file as its JSON object; a :class:`JobError` naming the file
    and the line number when it is not JSON or not a JSON object."""
    where = f"ingest of file {file_id} ({normalised.source}): {normalised.url} line {number}"
    try:
        entry = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        raise JobError(f"{where} is not JSON: {exc}") from None
    if not isinstance(entry, dict):
        kind = _JSON_KINDS.get(type(entry), type(entry).__name__)
        raise JobError(f"{where} is a JSON {kind}, not an object")
    return entry


def _is_newest(conn: sa.Connection, source: str, crawl_id: int) -> bool:
    """Whether crawl ``crawl_id`` is the newest of ``source`` that counts: a later crawl
    whose archive was never stored (its upload failed, its worker died) staged nothing, so
    it does not stop this one's withdrawals."""
    newer = (
        conn.execute(
            sa.select(crawls.c.id, crawls.c.finished_at, crawls.c.stats).where(
                crawls.c.source == source, crawls.c.id > crawl_id
            )
        )
        .mappings()
        .all()
    )
    if not newer:
        return True
    stored = set(
        conn.execute(
            sa.select(files.c.crawl_id).where(
                files.c.crawl_id.in_([row["id"] for row in newer]), files.c.kind == "raw"
            )
        ).scalars()
    )
    return all(is_orphan(dict(row), row["id"] in stored) for row in newer)


def _item(session: StageSession, entry: dict[str, Any]) -> ListingItem | None:
    """The listing of one normalised line, or None (counted) for a record that failed."""
    session.stats["scraped"] += 1
    external_id = entry.get("external_id")
    if external_id is None:  # no id: the crawl cannot be complete
        session.idless += 1
        session.stats["invalid"] += 1
        return None
    session.unseen.discard(external_id)  # seen, even when invalid
    record = entry.get("record")
    if record is None:
        session.stats["invalid"] += 1
        return None
    return ListingItem(
        session.source,
        external_id,
        record,
        entry.get("url") or "",
        raw_hash=entry.get("raw_hash"),
        warnings=entry.get("warnings"),
        position=session.stats["scraped"],
    )


def _progress(file_id: int, session: StageSession, number: int) -> None:
    stats = session.stats
    logger.info(
        "ingest of file %d (%s): %d records; inserted %d, updated %d, unchanged %d",
        file_id,
        session.source,
        number,
        stats["inserted"],
        stats["updated"],
        stats["unchanged"],
    )
