"""``dmo-pipeline queue add|list|process|retry`` and ``worker --once``: their output."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import queue_jobs
import sqlalchemy as sa
from conftest import run_cli
from queue_helpers import statuses

from pipeline_core.db.tables import queue

pytest_plugins = ["queue_fixtures"]


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result.stdout


def test_queue_commands(worker_env: dict[str, str], engine: sa.Engine, tmp_path: Path) -> None:
    env = dict(
        worker_env,
        PIPELINE_RETRY_BACKOFF="0.000001",
        PIPELINE_RETRY_BACKOFF_MAX="0.000001",
        LOG_LEVEL="WARNING",
    )
    queue_jobs.create_runs_table(engine)
    flag = tmp_path / "fail"
    flag.touch()

    assert (
        ok(
            run_cli(
                "queue",
                "add",
                "noop",
                "--payload",
                '{"a": 1}',
                "--dmo",
                "visit-a",
                "--priority",
                "2",
                env=env,
            )
        )
        == "queued job 1 (noop)\n"
    )
    assert ok(run_cli("queue", "add", "record", "--dedup-key", "k", env=env)) == (
        "queued job 2 (record)\n"
    )
    assert ok(run_cli("queue", "add", "record", "--dedup-key", "k", env=env)) == (
        "not queued: a record job with dedup key 'k' is already queued\n"
    )
    later = ok(run_cli("queue", "add", "noop", "--run-after", "3600", env=env))
    assert re.fullmatch(r"queued job \d+ \(noop\)\n", later)
    payload = json.dumps({"fail_while": str(flag), "source": "src-a"})
    added = ok(run_cli("queue", "add", "flaky", "--payload", payload, env=env))
    assert re.fullmatch(r"queued job \d+ \(flaky\)\n", added)
    j3, j4 = int(later.split()[2]), int(added.split()[2])
    bad = run_cli("queue", "add", "noop", "--payload", "[1]", env=env)
    assert bad.returncode == 2
    assert "Invalid value for --payload: must be a JSON object ({...})" in bad.stderr
    unknown = run_cli("queue", "add", "nope", env=env)
    assert unknown.returncode == 2
    assert (
        "Invalid value for TYPE: no job type 'nope'; registered: beats-while-away, chain, "
        "exits, flaky, ingest, noop, promote, read_upload, record, scrape, " in unknown.stderr
    )
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(
                queue.c.id, queue.c.dmo, queue.c.priority, queue.c.max_attempts, queue.c.dedup_key
            ).order_by(queue.c.id)
        ).all()
    assert [tuple(r) for r in rows] == [
        (1, "visit-a", 2, 5, None),
        (2, None, 0, 5, "k"),
        (j3, None, 0, 5, None),
        (j4, None, 0, 3, None),  # the flaky type's own max_attempts
    ]

    listed = ok(run_cli("queue", "list", env=env)).splitlines()
    assert listed[0].split() == ["id", "type", "status", "tries", "run", "after", "dmo", "error"]
    assert listed[-1] == "4 job(s): 4 queued, 0 running, 0 completed, 0 failed (0 dead-lettered)"
    assert [line.split()[:4] for line in listed[1:-1]] == [
        [str(j4), "flaky", "queued", "0/3"],
        [str(j3), "noop", "queued", "0/5"],
        ["2", "record", "queued", "0/5"],
        ["1", "noop", "queued", "0/5"],
    ]
    assert listed[4].split()[6] == "visit-a"

    assert ok(run_cli("queue", "process", "--batch-size", "2", env=env)) == (
        "claimed 2: completed 2, retried 0, dead-lettered 0, stale 0, released 0; "
        "rescued 0 expired lease(s); 0 next job(s) queued\n"
    )
    # Job 3 is not due; flaky fails three times and is dead-lettered.
    worker = run_cli("worker", "--once", env=dict(env, LOG_LEVEL="INFO"))
    assert worker.returncode == 0, worker.stderr
    assert re.search(
        r"stopped: claimed 3: completed 0, retried 2, dead-lettered 1, stale 0, released 0;",
        worker.stderr,
    ), worker.stderr
    assert f"job {j4} (flaky) failed for good after 3 of 3 attempts" in worker.stderr
    assert statuses(engine) == {1: "completed", 2: "completed", j3: "queued", j4: "failed"}

    dead = ok(run_cli("queue", "list", "--dead", env=env)).splitlines()
    assert [line.split()[:4] for line in dead[1:2]] == [[str(j4), "flaky", "failed*", "3/3"]]
    assert dead[1].endswith(f"RuntimeError: flaky job {j4} failed on purpose")
    assert dead[2] == "* dead-lettered: `dmo-pipeline queue retry ID` queues it again"
    completed = ok(run_cli("queue", "list", "--status", "completed", env=env)).splitlines()
    assert [line.split()[2] for line in completed[1:-1]] == ["completed", "completed"]

    flag.unlink()
    assert ok(run_cli("queue", "retry", str(j4), env=env)) == (
        f"job {j4} (flaky) queued again: 3 more attempt(s), up to attempt 6\n"
    )
    again = run_cli("queue", "retry", str(j4), env=env)
    assert again.returncode == 1
    assert again.stderr == (
        f"Error: job {j4} is queued, not failed: only failed jobs can be retried\n"
    )
    assert "claimed 1: completed 1," in ok(run_cli("queue", "process", env=env))
    assert statuses(engine)[j4] == "completed"
    assert [r[:2] for r in queue_jobs.runs(engine)] == [(2, 1), *((j4, n) for n in range(1, 5))]
