"""The benchmark's feed server, run in its own process so it never shares the crawl's GIL.

:func:`serve` is the target of a ``multiprocessing`` process: it generates the feed,
paginates it, serves it with :class:`~pipeline_core.testing.FeedServer` (which binds
127.0.0.1 only), sends what it serves back over a pipe and runs until told to stop.
"""

from __future__ import annotations

import time
from multiprocessing.connection import Connection
from typing import Any

from benchmarks.datagen import NEXT_KEY, RECORDS_KEY, generate, invalid_indices
from pipeline_core.testing import FeedServer, paginate_json

#: Path of the feed's first page, relative to the server.
FIRST_PAGE = "/listings?page=1"


def serve(n: int, seed: int, per_page: int, conn: Connection) -> None:
    """Generate ``n`` records, serve them in pages, report, and serve until ``conn`` speaks.

    Sends one dict: ``url`` (first page), ``pages``, ``bytes``, ``invalid`` (count of
    records broken on purpose) and ``generate_seconds``; on failure ``error`` instead.
    """
    try:
        started = time.perf_counter()
        records = generate(n, seed)
        pages = paginate_json(
            records, per_page=per_page, records_key=RECORDS_KEY, next_key=NEXT_KEY
        )
        generated = time.perf_counter() - started
        del records
        server = FeedServer(pages)
        server.start()
    except Exception as exc:  # reported to the parent, which stops the benchmark
        conn.send({"error": f"{type(exc).__name__}: {exc}"})
        return
    info: dict[str, Any] = {
        "url": server.url(FIRST_PAGE),
        "pages": len(pages),
        "bytes": sum(len(body) for body in pages.values()),
        "invalid": len(invalid_indices(n)),
        "generate_seconds": generated,
    }
    conn.send(info)
    try:
        conn.recv()  # any message, or the parent going away, stops the server
    except EOFError:
        pass
    finally:
        server.stop()
