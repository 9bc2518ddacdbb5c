"""Running job handlers as the worker does: a queued job, a JobContext, the next jobs queued."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from pipeline_core.config import Settings, load_settings
from pipeline_core.db.tables import files, staging
from pipeline_core.jobtypes import JobContext, JobResult
from pipeline_core.plugins import get_plugin_manager
from pipeline_core.queue import enqueue
from pipeline_core.storage import get_storage


def job_settings(db_url: str, storage_url: str, **extra: str) -> Settings:
    """Settings of a worker on the test database and storage (fetches only on 127.0.0.1)."""
    env = {
        "PIPELINE_DATABASE_URL": db_url,
        "PIPELINE_STORAGE_URL": storage_url,
        "PIPELINE_ALLOWED_HOSTS": "127.0.0.1",
        "PIPELINE_BATCH_SIZE": "50",
        "LOG_LEVEL": "INFO",
        # The feeds' photos are on hosts that do not exist: no image job after an ingest
        # (the image tests turn it back on with PIPELINE_DISABLE_PLUGINS="").
        "PIPELINE_DISABLE_PLUGINS": "builtin-image-jobs",
    }
    return load_settings(env | extra)


@dataclass
class Ran:
    """One job run: its queue id, result, and the ids of the jobs it queued."""

    job_id: int
    result: JobResult
    next_ids: list[int]


def queue_job(
    engine: sa.Engine, settings: Settings, job_type: str, payload: Mapping[str, Any]
) -> int:
    with engine.begin() as conn:
        job_id = enqueue(conn, job_type, payload, settings=settings)
    assert job_id is not None
    return job_id


def run_job(
    engine: sa.Engine,
    settings: Settings,
    job_type: str,
    payload: Mapping[str, Any],
    job_id: int | None = None,
) -> Ran:
    """Queue (unless ``job_id`` is given) and run one job through its registered handler."""
    if job_id is None:
        job_id = queue_job(engine, settings, job_type, payload)
    handler = get_plugin_manager(settings).job_types()[job_type].handler
    context = JobContext(
        job_id=job_id,
        type=job_type,
        attempt=1,
        correlation_id="chain",
        dmo=None,
        worker="test",
        settings=settings,
        engine=engine,
    )
    result = handler(payload, context)
    assert isinstance(result, JobResult)
    next_ids = []
    with engine.begin() as conn:
        for job in result.next_jobs:
            queued = enqueue(conn, job.type, job.payload, settings=settings, dmo=job.dmo)
            assert queued is not None
            next_ids.append(queued)
    return Ran(job_id, result, next_ids)


def file_row(engine: sa.Engine, file_id: int) -> dict[str, Any]:
    with engine.connect() as conn:
        return dict(conn.execute(sa.select(files).where(files.c.id == file_id)).mappings().one())


def stored_bytes(settings: Settings, url: str) -> bytes:
    storage = get_storage(settings)
    return storage.read(storage.key_of(url))


def check_file_row(settings: Settings, row: dict[str, Any], data: bytes) -> None:
    """The files row describes the stored bytes exactly."""
    assert row["size"] == len(data)
    assert row["sha256"] == hashlib.sha256(data).hexdigest()
    assert row["record_count"] == data.count(b"\n")
    assert row["content_type"] == "application/x-ndjson"


def staging_counts(engine: sa.Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {
            name: conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
            for name, table in staging.items()
        }


def staging_rows(engine: sa.Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every staging row, sorted: equal snapshots mean nothing was written."""
    with engine.connect() as conn:
        return {
            name: sorted(tuple(str(v) for v in row) for row in conn.execute(sa.select(table)).all())
            for name, table in staging.items()
        }


def kill_second_batch(observer: sa.Engine) -> tuple[Any, dict[str, Any]]:
    """A ``before_cursor_execute`` listener that kills the PostgreSQL connection of a
    stage write in the middle of its second batch (listings and child rows written, not
    committed), and the dict it fills: ``before`` (staging as committed just before),
    ``listings_in_batch`` (what the dying transaction saw) and ``pid``. ``observer`` is
    another engine, which sees only what was committed."""
    merges = 0
    seen: dict[str, Any] = {}

    def listener(conn: sa.Connection, cursor: Any, statement: str, *_: Any) -> None:
        nonlocal merges
        if "pid" in seen:
            return
        if statement.lstrip().startswith("INSERT INTO staging.listings"):
            merges += 1
        elif merges == 2:  # batch 2's listings and child rows are written, not committed
            seen["before"] = staging_rows(observer)
            driver = conn.connection.driver_connection  # no event: straight to psycopg
            seen["listings_in_batch"] = driver.execute(  # type: ignore[union-attr]
                "SELECT count(*) FROM staging.listings"
            ).fetchone()[0]
            pid = driver.info.backend_pid  # type: ignore[union-attr]
            with observer.connect() as admin:
                admin.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
                while admin.execute(
                    sa.text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid"), {"pid": pid}
                ).scalar_one():
                    admin.commit()  # pg_stat_activity is a snapshot per transaction
                    time.sleep(0.01)
            seen["pid"] = pid

    return listener, seen
