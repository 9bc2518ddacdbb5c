"""The ``read_upload`` job: read an uploaded feed file into a raw archive file.

Payload ``{"file_id": ID}`` of an ``upload`` file (``POST /files``). The file is read with
its source's ``options.format`` by the readers of ``csv_feed``, ``xml_feed`` and
``json_api``; each record becomes one line of a raw file (kind ``raw``) as a scrape
writes it, under a crawl of its own, and the next job is ``transform`` of that file. An
upload is the source's whole feed: a crawl with no unreadable record is complete, so the
ingest withdraws listings the file no longer holds (within ``PIPELINE_WITHDRAW_LIMIT``).
"""

from __future__ import annotations

import csv
import logging
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import orjson

from pipeline_core.exceptions import JobError
from pipeline_core.items import RawRecord
from pipeline_core.jobs.files import digest_file, load_file, record_file
from pipeline_core.jobs.payload import payload_id
from pipeline_core.jobtypes import JobContext, JobResult, NextJob
from pipeline_core.mapping import CompiledMapping, make_getter
from pipeline_core.plugins import get_plugin_manager
from pipeline_core.sources import Source, get_source
from pipeline_core.stages.archive import ArchiveSession
from pipeline_core.storage import JSONL, archive_key, get_storage

logger = logging.getLogger(__name__)


class _Unreadable(Exception):
    """The file cannot be read further: a page error of the upload's crawl."""


def iter_upload(body: bytes, source: Source, session: ArchiveSession, url: str) -> Iterator[Any]:
    """The records of an uploaded file, by its source's format; a bad row is an error of the
    crawl (the others are read), a file that cannot be read further raises _Unreadable."""
    from pipeline_core.records.csv_read import (
        as_record,
        detect_encoding,
        iter_rows,
        open_text,
        sniff_delimiter,
    )
    from pipeline_core.records.xml_read import Namer, UnsafeXML, iter_records

    options = source.mapping.doc.get("options", {})
    fmt = options.get("format")
    if fmt == "csv":
        encoding, skip, _ = (
            (options["encoding"], 0, "declared") if "encoding" in options else detect_encoding(body)
        )
        text = open_text(body, encoding, skip)
        try:
            delimiter = options.get("delimiter") or sniff_delimiter(text.read(64 * 1024))
            text.seek(0)
            rows = iter_rows(
                text, delimiter, options.get("quotechar", '"'), options.get("skip_lines", 0)
            )
            header = options.get("columns")
            if header is None:
                first = next(rows, None)
                if first is None:
                    raise _Unreadable("no header row")
                header = [name.strip() for name in first.fields]
            for row in rows:
                if len(row.fields) != len(header):
                    session.record_error(
                        f"line {row.line}: {len(row.fields)} fields where the header has "
                        f"{len(header)}; the row is not read",
                        url,
                        field=f"line {row.line}",
                        value=delimiter.join(row.fields),
                    )
                    continue
                yield as_record(header, row.fields)
        except (UnicodeDecodeError, csv.Error) as exc:
            raise _Unreadable(f"not readable as {encoding} CSV: {exc}") from None
    elif fmt == "xml":
        path = [p for p in str(source.mapping.doc.get("records", "")).strip("/").split("/") if p]
        try:
            yield from iter_records(body, path, Namer(options.get("namespaces")))
        except UnsafeXML as exc:
            raise _Unreadable(f"refused: {exc}") from None
        except Exception as exc:  # lxml's XMLSyntaxError
            raise _Unreadable(f"not well-formed XML: {exc}") from None
    elif fmt == "json":
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise _Unreadable(f"not valid JSON: {exc}") from None
        records = make_getter(str(source.mapping.doc.get("records", "$")))(data)
        if not isinstance(records, list):
            raise _Unreadable(f"no list of records at {source.mapping.doc.get('records', '$')!r}")
        yield from records
    elif fmt == "jsonl":
        for number, line in enumerate(body.splitlines(), 1):
            if not line.strip():
                continue
            try:
                yield orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                session.record_error(
                    f"line {number}: not valid JSON: {exc}", url, field=f"line {number}"
                )
    else:
        raise _Unreadable(f"options.format {fmt!r} is not csv, xml, json or jsonl")


def read_upload(payload: Mapping[str, Any], context: JobContext) -> JobResult:
    """Read the uploaded file ``payload["file_id"]``; the next job transforms its records."""
    file_id = payload_id(payload, "file_id", "read_upload")
    with context.engine.connect() as conn:
        upload = load_file(conn, file_id, "upload", "read_upload")
    context.source = upload.source
    pm = get_plugin_manager(context.settings)
    source = get_source(pm.sources(), upload.source)
    if source.fetcher != "upload":
        raise JobError(
            f"read_upload of file {file_id}: source {source.name} is not fed by uploads "
            f"(its fetcher is {source.fetcher})",
            source=source.name,
        )
    mapping = CompiledMapping(source.mapping, pm.transforms())
    storage = get_storage(context.settings)
    body = storage.read(storage.key_of(upload.url))
    with tempfile.TemporaryDirectory(prefix="dmo-upload-") as folder:
        path = Path(folder) / "raw.jsonl"
        session = ArchiveSession(
            context.engine, source.name, source.dmo, source.fetcher, source.origin, path
        )
        session.errors.job_id = context.job_id
        session.open()
        reason = "finished"
        try:
            for record in iter_upload(body, source, session, upload.url):
                session.archive(
                    RawRecord(source.name, mapping.external_id(record), record, upload.url)
                )
        except _Unreadable as exc:
            session.page_error(f"upload file {file_id}: {exc}", upload.url)
        except BaseException:
            reason = "failed"
            raise
        finally:
            stats = session.close(reason)
        assert session.crawl is not None
        crawl = session.crawl
        key = archive_key(
            "raw", source.name, crawl.started_at.date(), f"crawl-{crawl.id}-upload-{file_id}.jsonl"
        )
        url = storage.put_file(key, path, JSONL)
        digest = digest_file(path)
    with context.engine.begin() as conn:
        raw_id = record_file(
            conn,
            kind="raw",
            source=source.name,
            url=url,
            digest=digest,
            crawl_id=crawl.id,
            job_id=context.job_id,
        )
    logger.info(
        "read_upload of file %d (%s): %d records -> raw file %d",
        file_id,
        source.name,
        session.archived,
        raw_id,
    )
    return JobResult(
        {"source": source.name, "file_id": raw_id, "crawl_id": crawl.id, **stats},
        [NextJob("transform", {"file_id": raw_id, "source": source.name}, dmo=source.dmo)],
    )
