"""``queue add`` (and the API, through the same :func:`add_job`): every option is checked the
same way on SQLite and PostgreSQL, a payload that can never work is refused at enqueue, and
one found only when it runs (its source was removed since) is dead-lettered at its first
attempt instead of retried."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner, Result
from queue_helpers import make_settings as settings_for

from pipeline_core.cli import main
from pipeline_core.db.tables import errors, outbox, queue
from pipeline_core.exceptions import InvalidJobError
from pipeline_core.plugins import get_plugin_manager
from pipeline_core.queue.enqueue import add_job, enqueue
from pipeline_core.queue.worker import process_batch

BAD: list[tuple[str, dict[str, Any], dict[str, Any], str]] = [
    (
        "nope",
        {},
        {},
        "type: no job type 'nope'; registered: image, ingest, noop, promote, read_upload, scrape, "
        "transform",
    ),
    ("scrape", {}, {}, "payload: scrape job: payload needs 'source' (text), got None"),
    (
        "scrape",
        {"source": "gone"},
        {},
        "payload: scrape job: no source named 'gone' (known: datatourisme-poi, example-city, "
        "example-harbour, example-lakeside, failte-ireland-attractions, odh-events); a mapping "
        "file elsewhere is found when its folder is in PIPELINE_SOURCES_PATH (folders separated "
        "by ':')",
    ),
    ("scrape", {"source": 7}, {}, "payload: scrape job: payload needs 'source' (text), got 7"),
    (
        "transform",
        {"file_id": 99},
        {},
        "payload: transform job: there is no file 99 in pipeline.files",
    ),
    (
        "ingest",
        {"file_id": True},
        {},
        "payload: ingest job: payload needs 'file_id' (a positive id), got True",
    ),
    (
        "scrape",
        {"source": "odh-events", "note": "a\x00b"},
        {},
        "payload: payload.note: holds a NUL character (\\u0000)",
    ),
    (
        "scrape",
        {"source": "odh-events", "n": 2**70},
        {},
        "payload: payload.n: 1180591620717411303424 is too large a number",
    ),
    ("scrape", [1], {}, "payload: must be a JSON object ({...}), got list"),
    (
        "scrape",
        {"source": "odh-events"},
        {"priority": 99999999999999999999},
        "priority: 99999999999999999999 is out of range (-2147483648 to 2147483647)",
    ),
    (
        "scrape",
        {"source": "odh-events"},
        {"dmo": "d" * 101},
        "dmo: 101 characters, at most 100",
    ),
    (
        "scrape",
        {"source": "odh-events"},
        {"dedup_key": "k" * 301},
        "dedup_key: 301 characters, at most 300",
    ),
    ("scrape", {"source": "odh-events"}, {"dmo": "a\x00"}, "dmo: holds a NUL character (\\u0000)"),
    ("scrape", {"source": "odh-events"}, {"dmo": "  "}, "dmo: is empty"),
]


def test_a_bad_option_is_refused_alike_on_both_databases(
    db_url: str, engine: sa.Engine, tmp_path: Path
) -> None:
    settings = settings_for(db_url, tmp_path, PIPELINE_ENABLE_QUEUES="false")
    pm = get_plugin_manager(settings)
    refused = []
    for job_type, payload, options, _ in BAD:
        with pytest.raises(InvalidJobError) as raised, engine.begin() as conn:
            add_job(conn, pm.job_types(), job_type, payload, settings=settings, **options)
        refused.append(str(raised.value))
    assert refused == [message for *_, message in BAD]
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(queue)).scalar_one() == 0


def test_the_lower_function_checks_the_columns_too(
    db_url: str, engine: sa.Engine, tmp_path: Path
) -> None:
    """``enqueue`` itself (next jobs, the scheduler) refuses what a column cannot hold."""
    settings = settings_for(db_url, tmp_path)
    with pytest.raises(InvalidJobError, match=r"^max_attempts: 0 is out of range \(1 to"):
        with engine.begin() as conn:
            enqueue(conn, "scrape", {"source": "x"}, settings=settings, max_attempts=0)
    with pytest.raises(InvalidJobError, match=r"^correlation_id: 101 characters, at most 100$"):
        with engine.begin() as conn:
            enqueue(conn, "scrape", {}, settings=settings, correlation_id="c" * 101)


def add(env: dict[str, str], payload: str, *args: str) -> Result:
    """``dmo-pipeline queue add scrape --payload PAYLOAD ARGS`` in this process."""
    return CliRunner(env=env).invoke(main, ["queue", "add", "scrape", "--payload", payload, *args])


def test_queue_add_prints_one_error_line(pipeline_env: dict[str, str], engine: sa.Engine) -> None:
    for args, line in [
        (
            ["--priority", "99999999999999999999"],
            "Error: Invalid value for --priority: 99999999999999999999 is out of range "
            "(-2147483648 to 2147483647)",
        ),
        (
            ["--dmo", "x" * 101],
            "Error: Invalid value for --dmo: 101 characters, at most 100",
        ),
    ]:
        result = add(pipeline_env, '{"source": "odh-events"}', *args)
        assert result.exit_code == 2
        assert [x for x in result.stderr.splitlines() if "Error" in x] == [line]
        assert "Traceback" not in result.stderr
    unknown = add(pipeline_env, '{"source": "gone"}')
    assert unknown.exit_code == 2
    assert unknown.stderr.splitlines()[-1].startswith(
        "Error: Invalid value for --payload: scrape job: no source named 'gone' (known: "
    )
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(queue)).scalar_one() == 0
        assert conn.execute(sa.select(sa.func.count()).select_from(outbox)).scalar_one() == 0


def test_a_job_for_a_source_belongs_to_its_dmo_unless_told(
    pipeline_env: dict[str, str], engine: sa.Engine
) -> None:
    """As the scheduler's jobs do: logs, events and DMO-scoped keys see the job."""
    assert add(pipeline_env, '{"source": "odh-events"}').exit_code == 0
    assert add(pipeline_env, '{"source": "odh-events"}', "--dmo", "other").exit_code == 0
    with engine.connect() as conn:
        dmos = conn.execute(sa.select(queue.c.dmo).order_by(queue.c.id)).scalars().all()
    assert dmos == ["open-data-hub-south-tyrol", "other"]


def test_a_job_that_can_never_work_is_dead_lettered_at_its_first_attempt(
    db_url: str, engine: sa.Engine, tmp_path: Path
) -> None:
    """Queued before its source was removed (or by code that skips the checks): the first
    attempt fails permanently, no retry."""
    settings = settings_for(db_url, tmp_path)
    with engine.begin() as conn:
        scrape = enqueue(conn, "scrape", {"source": "removed-since"}, settings=settings)
        transform = enqueue(conn, "transform", {"file_id": 41}, settings=settings)
    counts = process_batch(engine, get_plugin_manager(settings), batch_size=5)
    assert (counts.claimed, counts.dead_lettered, counts.retried) == (2, 2, 0)
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(queue.c.id, queue.c.status, queue.c.dead_lettered, queue.c.attempts).order_by(
                queue.c.id
            )
        ).all()
        error_rows = conn.execute(
            sa.select(errors.c.job_id, errors.c.source, errors.c.stage).order_by(errors.c.id)
        ).all()
    assert [tuple(r) for r in rows] == [
        (scrape, "failed", True, 1),
        (transform, "failed", True, 1),
    ]
    assert [tuple(r) for r in error_rows] == [
        (scrape, "removed-since", "job"),
        (transform, "", "job"),
    ]
