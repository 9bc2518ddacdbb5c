"""The ``transform`` job: map, hash and validate an archived raw file with the current mapping.

Payload ``{"file_id": ID}`` of a ``raw`` file (the ``scrape`` job adds ``"source"``, which only
names the source in error rows and notifications: the file's row is what counts).
Every raw record gives one line of the
normalised file (JSON Lines, kind ``normalised``)::

    {"external_id": "L1", "url": ..., "raw_hash": ..., "record_hash": ..., "record": {...}}
    {"external_id": "L2", "url": ..., "error": "validate"}      # seen, but not valid
    {"external_id": null, "url": ..., "error": "map"}           # no id: crawl not complete

Invalid records become ``pipeline.errors`` rows (stage ``map``, ``hash`` or ``validate``) naming the
source, record and field, with this job's id. The source's mapping is read afresh, so a
transform run again over an old raw file after a mapping fix needs no new crawl. The next
job is ``ingest`` of the normalised file.
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

from pipeline_core.db.tables import errors
from pipeline_core.exceptions import JobError
from pipeline_core.items import RawRecord
from pipeline_core.jobs.files import (
    crawl_record,
    digest_file,
    load_crawl,
    load_file,
    record_file,
)
from pipeline_core.jobs.payload import payload_id
from pipeline_core.jobtypes import JobContext, JobResult, NextJob
from pipeline_core.model import raw_hash
from pipeline_core.plugins import get_plugin_manager
from pipeline_core.sources import get_source
from pipeline_core.stages.errors import ErrorSink
from pipeline_core.stages.session import StageSession
from pipeline_core.storage import JSONL, archive_key, get_storage

logger = logging.getLogger(__name__)

#: Records between progress lines (and lease heartbeats).
PROGRESS_EVERY = 10_000


def transform(payload: Mapping[str, Any], context: JobContext) -> JobResult:
    """Normalise the raw file ``payload["file_id"]``; the next job ingests the result."""
    file_id = payload_id(payload, "file_id", "transform")
    with context.engine.connect() as conn:
        raw_file = load_file(conn, file_id, "raw", "transform")
        context.source = raw_file.source  # named in the error row if this attempt fails
        crawl = crawl_record(load_crawl(conn, raw_file.crawl_id, "transform"))
    pm = get_plugin_manager(context.settings)
    source = get_source(pm.sources(), raw_file.source)
    mapping = pm.compiled_mapping(source)
    salt = pm.mapping_fingerprint(source)
    session = StageSession(
        context.engine,
        mapping,
        fetcher=source.fetcher,
        origin=source.origin,
        hold_errors=True,  # written at the end, in place of an earlier attempt's
    )
    session.errors = ErrorSink(source.name, crawl_id=crawl.id, job_id=context.job_id)
    storage = get_storage(context.settings)
    counts = {"records": 0, "valid": 0, "invalid": 0, "without_id": 0}
    with tempfile.TemporaryDirectory(prefix="dmo-transform-") as folder:
        path = Path(folder) / "normalised.jsonl"
        checksum = hashlib.sha256()
        with storage.open(storage.key_of(raw_file.url)) as raw, path.open("wb") as out:
            for number, line in enumerate(raw, 1):
                checksum.update(line)
                try:
                    entry = orjson.loads(line)
                    record_payload = entry["payload"]
                except (orjson.JSONDecodeError, KeyError, TypeError):
                    where = f"transform of file {file_id} ({source.name}): line {number}"
                    raise _not_archived(line, f"{where} of {raw_file.url}") from None
                out.write(_normalise(session, record_payload, entry.get("url") or "", salt, counts))
                if number % PROGRESS_EVERY == 0:
                    context.heartbeat()
                    logger.info(
                        "transform of file %d (%s): %d records, %d invalid",
                        file_id,
                        source.name,
                        number,
                        counts["invalid"],
                    )
        if checksum.hexdigest() != raw_file.sha256:
            raise JobError(
                f"transform of file {file_id} ({source.name}): {raw_file.url} does not match "
                f"its SHA-256 in pipeline.files; the archive was changed or damaged"
            )
        digest = digest_file(path)
        key = archive_key(
            "normalised",
            source.name,
            crawl.started_at.date(),
            f"crawl-{crawl.id}-job-{context.job_id}.jsonl",
        )
        url = storage.put_file(key, path, JSONL)
    with context.engine.begin() as conn:
        # An earlier attempt of this job may have written its errors: they are replaced.
        conn.execute(
            sa.delete(errors).where(
                errors.c.job_id == context.job_id,
                errors.c.stage.in_(("map", "hash", "validate")),
            )
        )
        error_rows = session.errors.flush(conn)
        normalised_id = record_file(
            conn,
            kind="normalised",
            source=source.name,
            url=url,
            digest=digest,
            crawl_id=crawl.id,
            job_id=context.job_id,
        )
    stats = {"source": source.name, "file_id": normalised_id, "errors": error_rows, **counts}
    logger.info(
        "transform of file %d (%s): %d records, %d valid, %d invalid, %d without id -> file %d",
        file_id,
        source.name,
        counts["records"],
        counts["valid"],
        counts["invalid"],
        counts["without_id"],
        normalised_id,
    )
    return JobResult(
        stats,
        [NextJob("ingest", {"file_id": normalised_id, "source": source.name}, dmo=source.dmo)],
    )


def _not_archived(line: bytes, where: str) -> JobError:
    """The error for a line of a raw file (at ``where``) that is not an archived record: it
    names the record when its id can be read, and the ``payload`` it lacks."""
    try:
        entry = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        return JobError(f"{where} is not an archived record: {exc}")
    if not isinstance(entry, dict):
        return JobError(f"{where} is not an archived record: it is not a JSON object")
    external_id = entry.get("external_id")
    return JobError(
        f'{where} is not an archived record: it has no "payload"',
        external_id=external_id if isinstance(external_id, str) else None,
        field="payload",
    )


def _normalise(
    session: StageSession, payload: Any, url: str, salt: bytes, counts: dict[str, int]
) -> bytes:
    """One normalised line for one raw record (map → hash → validate)."""
    counts["records"] += 1
    assert session.mapping is not None
    external_id = session.mapping.external_id(payload)
    item = session.map(RawRecord(session.source, external_id, payload, url, None))
    if item is None:
        counts["invalid"] += 1
        counts["without_id"] += external_id is None
        line: dict[str, Any] = {"external_id": external_id, "url": url, "error": "map"}
        return orjson.dumps(line) + b"\n"
    if not session.compute_hash(item):  # no canonical JSON: a lone surrogate, a huge int
        counts["invalid"] += 1
        line = {"external_id": item.external_id, "url": url, "error": "hash"}
        return orjson.dumps(line) + b"\n"
    item.state = "changed"  # validate everything: the file does not depend on staging
    if not session.validate(item):
        counts["invalid"] += 1
        line = {"external_id": item.external_id, "url": url, "error": "validate"}
        return orjson.dumps(line) + b"\n"
    counts["valid"] += 1
    line = {
        "external_id": item.external_id,
        "url": url,
        "raw_hash": raw_hash(payload, salt),
        "record_hash": item.record_hash,
        "record": item.record,
    }
    if item.warnings:
        line["warnings"] = item.warnings
    return orjson.dumps(line) + b"\n"
