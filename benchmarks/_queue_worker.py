"""Child process of the queue benchmark: one worker of dmo-pipeline or of procrastinate.

Run as ``python -m benchmarks._queue_worker dmo|procrastinate --ready FILE --go FILE --out
FILE [--database-url URL]``. It sets its worker up (imports, plugins, engine or
connection pool), writes ``--ready``, waits for the parent to create ``--go`` (so every
worker starts at the same moment), runs until no job is due, and writes JSON to ``--out``:
``start`` and ``end`` (``time.time()``, comparable across processes) and the worker's
counts. Set-up time is left out of the measurement for both queues alike.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from pathlib import Path
from typing import Any

#: Schema of procrastinate's tables in the benchmark database.
PROCRASTINATE_SCHEMA = "procrastinate"


def _wait_for(path: Path) -> None:
    while not path.exists():
        time.sleep(0.001)


def run_dmo(ready: Path, go: Path) -> dict[str, Any]:
    """One dmo-pipeline worker (``dmo-pipeline worker --once``, in this process)."""
    from pipeline_core.db.engine import make_engine
    from pipeline_core.plugins import get_plugin_manager
    from pipeline_core.queue.worker import Worker

    pm = get_plugin_manager()
    engine = make_engine(pm.settings.database_url)
    with engine.connect():  # open the pool's first connection before the clock starts
        pass
    worker = Worker(engine, pm, once=True)
    ready.touch()
    _wait_for(go)
    start = time.time()
    counts = worker.run()
    end = time.time()
    engine.dispose()
    return {"start": start, "end": end, "counts": counts.as_dict()}


def procrastinate_app(database_url: str) -> Any:
    """The procrastinate app of the benchmark: one async no-op task, its tables in the
    ``procrastinate`` schema of the benchmark database."""
    import procrastinate
    import sqlalchemy as sa

    conninfo = sa.make_url(database_url).set(drivername="postgresql")
    app = procrastinate.App(
        connector=procrastinate.PsycopgConnector(
            conninfo=conninfo.render_as_string(hide_password=False),
            kwargs={"options": f"-c search_path={PROCRASTINATE_SCHEMA}"},
        )
    )

    @app.task(name="noop")
    async def noop() -> None:
        return None

    return app


def run_procrastinate(ready: Path, go: Path, database_url: str) -> dict[str, Any]:
    """One procrastinate worker: ``run_worker_async(wait=False)``, one job at a time."""
    app = procrastinate_app(database_url)

    async def main() -> dict[str, Any]:
        async with app.open_async():
            await app.check_connection_async()
            ready.touch()
            while not go.exists():
                await asyncio.sleep(0.001)
            start = time.time()
            await app.run_worker_async(
                wait=False, concurrency=1, install_signal_handlers=False, listen_notify=False
            )
            end = time.time()
        return {"start": start, "end": end, "counts": {}}

    return asyncio.run(main())


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks._queue_worker")
    parser.add_argument("system", choices=["dmo", "procrastinate"])
    parser.add_argument("--ready", type=Path, required=True)
    parser.add_argument("--go", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()
    if args.system == "dmo":
        result = run_dmo(args.ready, args.go)
    else:
        result = run_procrastinate(args.ready, args.go, args.database_url)
    args.out.write_text(json.dumps(result), "utf-8")


if __name__ == "__main__":
    main()
