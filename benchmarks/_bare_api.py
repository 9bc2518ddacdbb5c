"""The baseline of ``benchmarks.api``: the same listings query behind a bare Starlette route,
with no key, no parameter checks and no row formatting (rows straight to orjson).

``python -m benchmarks._bare_api DATABASE_URL PORT``
"""

from __future__ import annotations

import sys

import orjson
import sqlalchemy as sa
import uvicorn
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from pipeline_core.db.engine import make_engine
from pipeline_core.db.tables import staging

LISTINGS = staging["listings"]
COLUMNS = [
    LISTINGS.c[name]
    for name in (
        "id",
        "source",
        "external_id",
        "dmo",
        "category",
        "status",
        "record_hash",
        "duplicate_of",
        "record",
        "licence",
        "updated_at",
        "withdrawn_at",
    )
]


def make_app(url: str) -> Starlette:
    engine = make_engine(url)  # the engine the API gets: same pool, same driver

    def query(after: int, limit: int) -> bytes:
        stmt = sa.select(*COLUMNS).where(LISTINGS.c.id > after).order_by(LISTINGS.c.id)
        with engine.connect() as conn:
            rows = [dict(r) for r in conn.execute(stmt.limit(limit + 1)).mappings()]
        items = rows[:limit]
        following = items[-1]["id"] if len(rows) > limit else None
        return orjson.dumps({"items": items, "next": following}, option=orjson.OPT_NON_STR_KEYS)

    async def listings(request: Request) -> Response:
        after = int(request.query_params.get("after", 0))
        limit = int(request.query_params.get("limit", 50))
        body = await run_in_threadpool(query, after, limit)
        return Response(body, media_type="application/json")

    return Starlette(routes=[Route("/bare/listings", listings)])


if __name__ == "__main__":
    uvicorn.run(
        make_app(sys.argv[1]),
        host="127.0.0.1",
        port=int(sys.argv[2]),
        log_level="warning",
        timeout_keep_alive=30,
    )
