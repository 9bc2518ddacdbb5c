"""``dmo-pipeline doctor``: exit 0 on a healthy setup; with the database down, storage
read-only, a job stuck past its lease, dead letters waiting or a source overdue it names
each problem and its fix, and exits 1."""

from __future__ import annotations

import os
import socket
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
import sqlalchemy as sa
from conftest import run_cli
from moto_server import moto_endpoint  # noqa: F401  (a fixture)

from pipeline_core.db.tables import crawls, queue

NAMES = [
    "database",
    "schema",
    "queue mode",
    "storage",
    "plugins",
    "leases",
    "dead letters",
    "schedule",
]


def _doctor(env: dict[str, str]) -> tuple[int, dict[str, dict[str, Any]]]:
    done = run_cli("doctor", "--json", env=env)
    document = orjson.loads(done.stdout)
    assert document["ok"] is (done.returncode == 0)
    return done.returncode, {check["name"]: check for check in document["checks"]}


def _failed(checks: dict[str, dict[str, Any]]) -> list[str]:
    return [name for name, check in checks.items() if not check["ok"]]


def test_a_healthy_setup_passes(pipeline_env: dict[str, str]) -> None:
    done = run_cli("doctor", env=pipeline_env)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert [line.split(":")[0] for line in lines[:-1]] == [f"ok   {name}" for name in NAMES]
    assert lines[-1] == "all checks passed"
    code, checks = _doctor(pipeline_env)
    assert (code, list(checks), _failed(checks)) == (0, NAMES, [])


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_database_down_is_named_with_its_fix(pipeline_env: dict[str, str]) -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = pipeline_env | {"PIPELINE_DATABASE_URL": f"postgresql://postgres@127.0.0.1:{port}/dmo"}
    code, checks = _doctor(env)
    assert code == 1
    database = checks["database"]
    assert database["detail"].startswith(
        f"cannot reach postgresql+psycopg://postgres@127.0.0.1:{port}/dmo: "
    )
    assert "Connection refused" in database["detail"]
    assert database["fix"].startswith("start the database server, or point PIPELINE_DATABASE_URL")
    assert _failed(checks) == ["database", "plugins", "leases", "dead letters", "schedule"]
    assert checks["leases"]["detail"] == "needs the database"
    assert checks["storage"]["ok"] is True


@pytest.fixture
def read_only(tmp_path: Path) -> Iterator[Path]:
    """A storage folder nobody may write to (root ignores modes: the folder is immutable)."""
    folder = tmp_path / "read-only-files"
    folder.mkdir()
    folder.chmod(0o555)
    if os.geteuid() == 0:
        subprocess.run(["chattr", "+i", str(folder)], check=True)
    yield folder
    if os.geteuid() == 0:
        subprocess.run(["chattr", "-i", str(folder)], check=True)
    folder.chmod(0o755)


def test_read_only_storage_is_named_with_its_fix(
    pipeline_env: dict[str, str], read_only: Path
) -> None:
    code, checks = _doctor(pipeline_env | {"PIPELINE_STORAGE_URL": str(read_only)})
    assert (code, _failed(checks)) == (1, ["storage"])
    storage = checks["storage"]
    assert storage["detail"].startswith(f"cannot write to {read_only.as_uri()}: PermissionError")
    assert storage["fix"].startswith("make the folder writable by the user that runs dmo-pipeline")


def test_a_job_stuck_past_its_lease_dead_letters_and_an_overdue_source(
    engine: sa.Engine, pipeline_env: dict[str, str]
) -> None:
    now = datetime.now(UTC)
    with engine.begin() as conn:
        stuck = conn.execute(
            sa.insert(queue)
            .values(
                type="scrape",
                payload={"source": "example-city"},
                status="running",
                attempts=1,
                lease_owner="host-a:4242:dead",
                lease_expires_at=now - timedelta(minutes=10),
            )
            .returning(queue.c.id)
        ).scalar_one()
        conn.execute(  # a running job whose lease holds is fine
            sa.insert(queue).values(
                type="noop",
                payload={},
                status="running",
                attempts=1,
                lease_owner="host-b:1:alive",
                lease_expires_at=now + timedelta(minutes=10),
            )
        )
        conn.execute(
            sa.insert(queue).values(
                type="transform", payload={}, status="failed", dead_lettered=True, attempts=5
            )
        )
        conn.execute(  # example-city is daily: its last crawl, 3 days ago, is overdue
            sa.insert(crawls).values(source="example-city", started_at=now - timedelta(days=3))
        )
    code, checks = _doctor(pipeline_env)
    assert (code, _failed(checks)) == (1, ["leases", "dead letters", "schedule"])
    assert checks["leases"]["detail"] == (
        f"1 job(s) still running past their lease: job {stuck} (scrape, worker host-a:4242:dead)"
    )
    assert checks["leases"]["fix"].startswith("start a worker (`dmo-pipeline worker`)")
    assert checks["dead letters"]["detail"] == "1 dead-lettered job(s) wait: 1 transform"
    assert "dmo-pipeline queue retry ID" in checks["dead letters"]["fix"]
    assert checks["schedule"]["detail"].startswith(
        "1 source(s) overdue: example-city (last scrape "
    )
    assert checks["schedule"]["fix"].startswith("run `dmo-pipeline scheduler`")
    text = run_cli("doctor", env=pipeline_env)
    assert text.returncode == 1
    assert "FAIL leases: 1 job(s) still running past their lease" in text.stdout
    assert text.stdout.splitlines()[-1] == "3 check(s) failed"


def test_sqs_queue_mode_and_its_redrive_policy(moto_endpoint: str) -> None:  # noqa: F811
    from sqs_server import create_queue

    from pipeline_core.config import load_settings
    from pipeline_core.operations.doctor import check_queue_mode

    dead = create_queue(moto_endpoint)
    arn = dead.client.get_queue_attributes(QueueUrl=dead.url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    policy = orjson.dumps({"deadLetterTargetArn": arn, "maxReceiveCount": "5"}).decode()
    guarded = create_queue(moto_endpoint, RedrivePolicy=policy)
    bare = create_queue(moto_endpoint)

    def checks(url: str, endpoint: str = moto_endpoint) -> list[tuple[str, bool]]:
        settings = load_settings(
            {
                "PIPELINE_ENABLE_QUEUES": "true",
                "PIPELINE_JOBS_QUEUE_URL": url,
                "PIPELINE_SQS_ENDPOINT_URL": endpoint,
                "PIPELINE_AWS_TIMEOUT": "2",
            }
        )
        found = check_queue_mode(settings)
        assert all(c.fix for c in found if not c.ok)
        return [(c.name, c.ok) for c in found]

    assert checks(guarded.url) == [("queue mode", True), ("redrive policy", True)]
    assert checks(bare.url) == [("queue mode", True), ("redrive policy", False)]
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{sock.getsockname()[1]}"
    assert checks(bare.url, closed) == [("queue mode", False)]
