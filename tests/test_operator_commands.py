"""What an operator needs from the command line (issue 18, item 8): ``queue list`` with totals,
filters and running jobs' leases, ``queue show``, ``errors``, ``crawls``, ``queue retry
--again`` and ``--all-dead [--source]``, and ``queue relay --forever`` as a service. The
commands are thin over :mod:`pipeline_core.operations`; they run in this process through
click's runner, the relay as a real process stopped with SIGTERM."""

from __future__ import annotations

import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from conftest import ROOT
from moto_server import moto_endpoint  # noqa: F401  (a fixture)
from queue_helpers import make_settings, wait_for
from sqs_server import create_queue

from pipeline_core.cli import main
from pipeline_core.db.tables import crawls, outbox, queue
from pipeline_core.plugins import get_plugin_manager
from pipeline_core.queue.enqueue import enqueue
from pipeline_core.queue.worker import process_batch


def cli(env: dict[str, str], *args: str) -> str:
    result = CliRunner(env=env).invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture
def env(db_url: str, tmp_path: Path) -> dict[str, str]:
    return {
        "PIPELINE_DATABASE_URL": db_url,
        "PIPELINE_STORAGE_URL": str(tmp_path / "files"),
        "PIPELINE_ENABLE_QUEUES": "false",
        "LOG_LEVEL": "WARNING",
    }


def test_list_show_errors_crawls_and_retries(
    env: dict[str, str], db_url: str, engine: sa.Engine, tmp_path: Path
) -> None:
    settings = make_settings(db_url, tmp_path)
    with engine.begin() as conn:
        gone = enqueue(conn, "scrape", {"source": "gone"}, settings=settings, dmo="dmo-a")
        noop = enqueue(conn, "noop", {}, settings=settings, dmo="dmo-b", correlation_id="c-1")
        running = enqueue(conn, "noop", {"source": "busy"}, settings=settings)
        conn.execute(
            sa.insert(crawls).values(
                source="busy",
                started_at=datetime(2026, 12, 1, 6, 0, tzinfo=UTC),
                finished_at=datetime(2026, 12, 1, 6, 5, tzinfo=UTC),
                finish_reason="finished",
                complete=False,
                stats={"scraped": 12, "complete": True, "archived": False},
            )
        )
    assert gone is not None and noop is not None and running is not None
    with engine.begin() as conn:  # held by a worker elsewhere
        conn.execute(
            sa.update(queue)
            .where(queue.c.id == running)
            .values(
                run_after=datetime.now(UTC) + timedelta(hours=1),
            )
        )
    counts = process_batch(engine, get_plugin_manager(settings), batch_size=5)
    assert (counts.completed, counts.dead_lettered) == (1, 1)
    started = datetime(2026, 12, 7, 4, 0, tzinfo=UTC)
    with engine.begin() as conn:
        conn.execute(
            sa.update(queue)
            .where(queue.c.id == running)
            .values(
                status="running",
                attempts=1,
                lease_owner="host:42:abc",
                updated_at=started,
                lease_expires_at=started + timedelta(minutes=1),
            )
        )

    listed = cli(env, "queue", "list").splitlines()
    assert [line.split()[:4] for line in listed[1:4]] == [
        [str(running), "noop", "running", "1/5"],
        [str(noop), "noop", "completed", "1/5"],
        [str(gone), "scrape", "failed*", "1/5"],
    ]
    assert listed[1].endswith(
        "worker host:42:abc, started 2026-12-07 04:00:00, lease until 2026-12-07 04:01:00"
    )
    assert listed[-1] == "3 job(s): 0 queued, 1 running, 1 completed, 1 failed (1 dead-lettered)"
    by_type = cli(env, "queue", "list", "--type", "scrape").splitlines()
    assert [line.split()[0] for line in by_type[1:-2]] == [str(gone)]
    assert by_type[-1] == "1 job(s): 0 queued, 0 running, 0 completed, 1 failed (1 dead-lettered)"
    by_source = cli(env, "queue", "list", "--source", "busy").splitlines()
    assert [line.split()[0] for line in by_source[1:-1]] == [str(running)]
    by_dmo = cli(env, "queue", "list", "--dmo", "dmo-b").splitlines()
    assert [line.split()[0] for line in by_dmo[1:-1]] == [str(noop)]

    shown = cli(env, "queue", "show", str(gone)).splitlines()
    assert shown[0] == f"job {gone} (scrape): failed (dead-lettered)"
    assert shown[1] == 'payload: {"source":"gone"}'
    assert shown[2] == "dmo: dmo-a  priority: 0  dedup key: -"
    assert shown[3].startswith("correlation id: ") and len(shown[3]) == 16 + 32
    assert shown[4].startswith("attempts: 1 of 5; run after ")
    assert shown[5].startswith("  attempt 1: failed on ")
    assert (
        "UnknownSourceError: no source named 'gone' (known: datatourisme-poi, example-city, "
        "example-harbour, example-lakeside, failte-ireland-attractions, odh-events); "
    ) in shown[5]
    assert shown[7].startswith(f"error 1 [job] gone: scrape job {gone}, attempt 1 of 5: ")
    assert shown[8] == "traceback of the last failed attempt:"
    assert shown[9] == "Traceback (most recent call last):"
    assert shown[-1].startswith("pipeline_core.exceptions.UnknownSourceError: no source named")
    assert cli(env, "queue", "show", str(noop)).splitlines()[3] == "correlation id: c-1"

    errors = cli(env, "errors", "--job", str(gone)).splitlines()
    assert len(errors) == 2
    assert errors[1].split()[3:6] == ["gone", "job", "-"]
    assert cli(env, "errors", "--source", "nowhere") == "no errors\n"
    crawled = cli(env, "crawls", "--source", "busy").splitlines()
    assert crawled[1].split() == [
        "1", "busy", "2026-12-01", "06:00:00", "2026-12-01", "06:05:00", "finished", "no", "NO",
        "scraped", "12",
    ]  # fmt: skip

    assert cli(env, "queue", "retry", "--again", str(noop)) == (
        f"job {noop} runs again as job {running + 1}\n"
    )
    assert cli(env, "queue", "show", str(noop)).splitlines()[-2:] == [
        "next jobs in its chain:",
        f"  job {running + 1} (noop): queued",
    ]
    assert cli(env, "queue", "retry", "--all-dead", "--source", "elsewhere") == (
        "queued again 0 dead-lettered job(s)\n"
    )
    assert cli(env, "queue", "retry", "--all-dead", "--source", "gone") == (
        f"queued again 1 dead-lettered job(s): {gone}\n"
    )
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(
                queue.c.id,
                queue.c.status,
                queue.c.attempts,
                queue.c.max_attempts,
                queue.c.correlation_id,
            ).order_by(queue.c.id)
        ).all()
    assert [tuple(r)[:4] for r in rows] == [
        (gone, "queued", 1, 6),
        (noop, "completed", 1, 5),
        (running, "running", 1, 5),
        (running + 1, "queued", 0, 5),
    ]
    assert rows[3].correlation_id == "c-1"
    refused = CliRunner(env=env).invoke(main, ["queue", "retry", "--again", str(running)])
    assert refused.exit_code == 1
    assert refused.output.splitlines()[-1] == (
        f"Error: job {running} is running: only a finished job can be run again"
    )


@pytest.mark.parametrize(
    "db_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
def test_relay_forever_runs_until_sigterm(
    env: dict[str, str],
    db_url: str,
    engine: sa.Engine,
    tmp_path: Path,
    moto_endpoint: str,  # noqa: F811
) -> None:
    sqs = create_queue(moto_endpoint)
    env = dict(
        env,
        PIPELINE_ENABLE_QUEUES="true",
        PIPELINE_JOBS_QUEUE_URL=sqs.url,
        PIPELINE_SQS_ENDPOINT_URL=moto_endpoint,
        PIPELINE_POLL_INTERVAL="0.1",
        LOG_LEVEL="INFO",
    )
    settings = make_settings(db_url, tmp_path, **{k: v for k, v in env.items() if "QUEUE" in k})
    with engine.begin() as conn:
        first = enqueue(conn, "noop", {}, settings=settings)
    process = subprocess.Popen(
        [sys.executable, "-m", "pipeline_core.cli", "queue", "relay", "--forever"],
        env={**env, "PATH": "/usr/bin:/bin", **_aws()},
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:

        def drained() -> bool:
            with engine.connect() as conn:
                return not conn.execute(sa.select(outbox.c.id)).first()

        wait_for("the outbox to drain", drained)
        with engine.begin() as conn:  # a job queued later is announced too
            second = enqueue(conn, "noop", {}, settings=settings)
        wait_for("the outbox to drain again", drained)
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, err
    assert out == (
        "relayed 2 job announcement(s) to SQS; 0 refused (kept in the outbox), 0 dropped "
        "(their jobs were no longer queued)\n"
    )
    assert "relay started: announcing queued jobs on SQS every 0.1 s" in err
    assert sorted(m["Body"] for m in sqs.receive_all()) == sorted(
        f'{{"job_id":{i},"type":"noop"}}' for i in (first, second)
    )


def _aws() -> dict[str, str]:
    from moto_server import CREDENTIALS

    return dict(CREDENTIALS)
