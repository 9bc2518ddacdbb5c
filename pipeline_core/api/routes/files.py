"""File routes: archived files and their content, streamed from storage."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response, StreamingResponse

from pipeline_core.api.endpoints import Call, Endpoint, json_response
from pipeline_core.api.problems import Problem, field_problem
from pipeline_core.api.routes.audit import audit
from pipeline_core.api.rows import not_found, page, row_json, source_scope
from pipeline_core.api.schemas import AFTER, FILE, ID, SLUG, limit_param, page_of
from pipeline_core.db.tables import files
from pipeline_core.operations.uploads import (
    StreamDigest,
    UploadRefused,
    check_upload,
    store_upload,
)
from pipeline_core.sources import Source
from pipeline_core.storage import get_storage

#: Bytes read from storage per chunk of a streamed answer.
CHUNK = 1 << 16


def list_files(call: Call) -> dict[str, Any]:
    """Archived files (``pipeline.files``), newest first."""
    q = call.query
    with call.state.engine.connect() as conn:
        query = sa.select(files).where(source_scope(call, conn, files.c.source))
        if q.get("source"):
            query = query.where(files.c.source == q["source"])
        if q.get("kind"):
            query = query.where(files.c.kind == q["kind"])
        if q.get("after"):
            query = query.where(files.c.id < q["after"])
        rows = conn.execute(query.order_by(files.c.id.desc()).limit(q["limit"] + 1)).mappings()
        return page([row_json(r) for r in rows], q["limit"])


def _file(call: Call) -> Any:
    file_id = call.path["id"]
    with call.state.engine.connect() as conn:
        row = (
            conn.execute(
                sa.select(files).where(
                    files.c.id == file_id, source_scope(call, conn, files.c.source)
                )
            )
            .mappings()
            .first()
        )
    if row is None:
        raise not_found("file", file_id)
    return row


def get_file(call: Call) -> dict[str, Any]:
    """One archived file's row."""
    return row_json(_file(call))


def file_content(call: Call) -> StreamingResponse:
    """The file's bytes, streamed from storage in chunks (never loaded whole)."""
    row = _file(call)
    storage = get_storage(call.state.settings)
    key = storage.key_of(row["url"])

    def chunks() -> Iterator[bytes]:
        with storage.open(key) as handle:
            while chunk := handle.read(CHUNK):
                yield chunk

    return StreamingResponse(
        chunks(),
        media_type=row["content_type"],
        headers={"Content-Length": str(row["size"]), "X-Content-SHA256": row["sha256"]},
    )


async def upload_file(call: Call) -> Response:
    """Upload a feed file for a source fed by uploads (``fetcher: upload``): the body is the
    file, streamed to storage with its SHA-256; its bytes must be its source's format. The
    answer names the file row and the queued ``read_upload`` job (read → transform →
    ingest)."""
    source = await run_in_threadpool(_upload_source, call)
    limit = call.state.settings.api_max_upload
    declared = call.request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise Problem(413, f"upload of {declared} bytes is over PIPELINE_API_MAX_UPLOAD ({limit})")
    digest = StreamDigest()
    with tempfile.TemporaryDirectory(prefix="dmo-upload-") as folder:
        path = Path(folder) / "upload"
        with path.open("wb") as out:
            async for chunk in call.request.stream():
                digest.update(chunk)
                if digest.size > limit:
                    raise Problem(
                        413,
                        f"upload is over PIPELINE_API_MAX_UPLOAD ({limit} bytes); nothing was kept",
                    )
                out.write(chunk)
        filename = call.query.get("filename")
        try:
            fmt = await run_in_threadpool(check_upload, source, filename, digest.head, path)
        except UploadRefused as exc:
            problem = [{"in": "body", "name": "", "detail": str(exc)}]
            raise Problem(415, str(exc), errors=problem) from None
        stored = await run_in_threadpool(
            store_upload,
            call.state.engine,
            call.state.plugin_manager(),
            source,
            path,
            digest.digest(),
            fmt,
            filename,
        )
    with call.state.engine.connect() as conn:
        row = conn.execute(sa.select(files).where(files.c.id == stored.file_id)).mappings().one()
    done = {"file": row_json(row), "job_id": stored.job_id}
    await run_in_threadpool(
        audit, call, call.state.engine, "file.uploaded", stored.file_id, dmo=source.dmo, after=done
    )
    return json_response({"file": row_json(row), "job_id": stored.job_id}, 201)


def _upload_source(call: Call) -> Source:
    name = call.query["source"]
    sources = call.state.sources()
    source = sources.get(name)
    if source is None or (call.dmo is not None and source.dmo != call.dmo):
        raise field_problem(422, "query", "source", f"no source named {name!r}")
    if source.fetcher != "upload":
        raise field_problem(
            422, "query", "source", f"source {name!r} is not fed by uploads (fetcher upload)"
        )
    return source


ENDPOINTS = [
    Endpoint(
        "POST",
        "/files",
        upload_file,
        "Upload a feed file for a source fed by uploads",
        "files",
        role="operator",
        raw=True,
        query={"source": SLUG, "filename": {"type": "string", "maxLength": 200}},
        body={"type": "string", "format": "binary"},
        response={
            "type": "object",
            "required": ["file", "job_id"],
            "properties": {"file": FILE, "job_id": {"type": "integer"}},
        },
        status=201,
        errors=(413, 415, 422),
        required_query=("source",),
    ),
    Endpoint(
        "GET",
        "/files",
        list_files,
        "List archived files",
        "files",
        query={"source": SLUG, "kind": SLUG, "after": AFTER, "limit": limit_param()},
        response=page_of(FILE),
    ),
    Endpoint(
        "GET",
        "/files/{id}",
        get_file,
        "An archived file",
        "files",
        path_params={"id": ID},
        response=FILE,
        errors=(404,),
    ),
    Endpoint(
        "GET",
        "/files/{id}/content",
        file_content,
        "An archived file's content",
        "files",
        path_params={"id": ID},
        response={"type": "string", "format": "binary"},
        errors=(404,),
        media_type="*/*",
    ),
]
