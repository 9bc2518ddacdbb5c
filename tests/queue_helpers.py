"""Helpers of the queue tests: settings, the plugin manager with the test job types,
worker processes, polling, and a webhook server on 127.0.0.1."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest
import queue_jobs
import sqlalchemy as sa
from conftest import ROOT

from pipeline_core.config import Settings, load_settings
from pipeline_core.db.engine import write_transaction
from pipeline_core.db.tables import queue
from pipeline_core.plugins import PipelineManager, get_plugin_manager
from pipeline_core.queue.store import rescue_expired
from pipeline_core.testing.server import LoopbackHTTPServer

TESTS = Path(__file__).resolve().parent


def make_settings(db_url: str, tmp_path: Path, **extra: str) -> Settings:
    return load_settings(
        {
            "PIPELINE_DATABASE_URL": db_url,
            "PIPELINE_STORAGE_URL": str(tmp_path / "files"),
            "PIPELINE_ALLOWED_HOSTS": "127.0.0.1",
            **extra,
        }
    )


def make_pm(settings: Settings) -> PipelineManager:
    """The plugin manager with the test job types registered as a plugin."""
    pm = get_plugin_manager(settings)
    pm.register(queue_jobs, name="queue-test-jobs")
    return pm


def start_worker(env: dict[str, str], log: Path, *args: str) -> subprocess.Popen[bytes]:
    """``dmo-pipeline worker ARGS`` as a child process, its output in ``log``."""
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "pipeline_core.cli", "worker", *args],
            env=env,
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def wait_for(what: str, check: Callable[[], Any], timeout: float = 60.0) -> Any:
    """Poll ``check`` until it returns something true; fail naming ``what``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    pytest.fail(f"timed out after {timeout} s waiting for {what}")


def statuses(engine: sa.Engine) -> dict[int, str]:
    with engine.connect() as conn:
        return dict(conn.execute(sa.select(queue.c.id, queue.c.status)).all())  # type: ignore[arg-type]


class WebhookServer:
    """An HTTP server on 127.0.0.1 that records the JSON bodies POSTed to it (and answers
    each ``delay`` seconds later)."""

    def __init__(self, delay: float = 0.0) -> None:
        received: list[tuple[str, dict[str, Any]]] = []
        self.received = received

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                received.append((self.path, json.loads(self.rfile.read(length))))
                time.sleep(delay)  # a slow receiver
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = LoopbackHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"


@contextmanager
def rescuing(engine: sa.Engine, settings: Settings) -> Iterator[list[int]]:
    """Another worker, rescuing every expired lease it sees while the block runs; yields
    the number of jobs each of its passes queued again."""
    stop = threading.Event()
    rescued: list[int] = []

    def rescuer() -> None:
        while not stop.is_set():
            rescued.append(rescue_expired(engine, settings).retried)
            time.sleep(0.05)

    thread = threading.Thread(target=rescuer)
    thread.start()
    try:
        yield rescued
    finally:
        stop.set()
        thread.join()


def expire_leases(engine: sa.Engine, *job_ids: int) -> None:
    """Put the leases of ``job_ids`` in the past (their worker seems to hang): a condition
    set, rather than a sleep longer than a sub-second lease."""
    with write_transaction(engine) as conn:
        conn.execute(
            sa.update(queue)
            .where(queue.c.id.in_(job_ids))
            .values(lease_expires_at=datetime.now(UTC) - timedelta(seconds=5))
        )


def expire_and_rescue(engine: sa.Engine, settings: Settings, job_id: int) -> bool:
    """Expire ``job_id``'s lease (its worker seems to hang) and run another worker's rescue
    pass; True when that pass queued the job again."""
    with write_transaction(engine) as conn:
        conn.execute(
            sa.update(queue)
            .where(queue.c.id == job_id)
            .values(lease_expires_at=datetime.now(UTC) - timedelta(seconds=5))
        )
    return rescue_expired(engine, settings).retried == 1
