"""File routes: archived files and their content, streamed from storage."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa
from starlette.responses import StreamingResponse

from pipeline_core.api.endpoints import Call, Endpoint
from pipeline_core.api.rows import not_found, page, row_json, source_scope
from pipeline_core.api.schemas import AFTER, FILE, ID, SLUG, limit_param, page_of
from pipeline_core.db.tables import files
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


ENDPOINTS = [
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
