"""Jobs announced on SQS (moto's server on 127.0.0.1): the outbox relay, the SQS feed of the
worker, duplicates, bad messages, retries through SQS, relay crashes and partial batch
failures, SQS's own dead letter queue, and the commands, on SQLite and PostgreSQL."""

from __future__ import annotations

import importlib.util
import json
import logging
import socket
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import queue_jobs
import sqlalchemy as sa
from click.testing import CliRunner
from conftest import ROOT, run_cli
from moto_server import CREDENTIALS
from queue_helpers import make_pm, make_settings, start_worker, statuses
from sqs_server import SqsQueue, create_queue, make_client

from pipeline_core.cli import main
from pipeline_core.config import Settings
from pipeline_core.db.engine import make_engine, write_transaction
from pipeline_core.db.tables import jobs, outbox, queue
from pipeline_core.queue import enqueue
from pipeline_core.queue.job import utc
from pipeline_core.queue.relay import relay_once, relay_pending
from pipeline_core.queue.sqs import MAX_VISIBILITY_SECONDS, parse_body
from pipeline_core.queue.sqs_feed import SqsFeed
from pipeline_core.queue.store import claim
from pipeline_core.queue.worker import DatabaseFeed, Worker, process_batch

pytest_plugins = ["queue_fixtures", "sqs_fixtures"]

#: The queue set-up script of docs/reference/sqs.md.
_spec = importlib.util.spec_from_file_location(
    "create_queues", ROOT / "docs" / "examples" / "sqs" / "create_queues.py"
)
assert _spec is not None and _spec.loader is not None
EXAMPLE = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(EXAMPLE)


def sqs_settings(engine: sa.Engine, tmp_path: Path, q: SqsQueue, **extra: str) -> Settings:
    return make_settings(
        engine.url.render_as_string(hide_password=False),
        tmp_path,
        PIPELINE_ENABLE_QUEUES="true",
        PIPELINE_JOBS_QUEUE_URL=q.url,
        PIPELINE_SQS_ENDPOINT_URL=q.endpoint,
        PIPELINE_DMO_CONCURRENCY="0",
        PIPELINE_POLL_INTERVAL="0.05",
        **extra,
    )


def add(
    engine: sa.Engine, settings: Settings, job_type: str = "record", n: int = 1, **kw: Any
) -> list[int]:
    payload = kw.pop("payload", {})
    with write_transaction(engine) as conn:
        ids = [enqueue(conn, job_type, payload, settings=settings, **kw) for _ in range(n)]
    return [i for i in ids if i is not None]


def feed(engine: sa.Engine, settings: Settings, **kw: Any) -> SqsFeed:
    """An SQS feed that polls without waiting and, unless told, never sweeps the database
    (so every job it runs came through a message)."""
    kw.setdefault("wait_seconds", 0)
    kw.setdefault("sweep_every", None)
    return SqsFeed(engine, settings, **kw)


def run_worker(engine: sa.Engine, settings: Settings, jobs_feed: SqsFeed) -> Any:
    return Worker(engine, make_pm(settings), feed=jobs_feed, once=True).run()


def outbox_ids(engine: sa.Engine) -> list[int]:
    with engine.connect() as conn:
        return list(conn.execute(sa.select(outbox.c.queue_id).order_by(outbox.c.id)).scalars())


def job_row(engine: sa.Engine, job_id: int) -> Any:
    with engine.connect() as conn:
        return conn.execute(sa.select(queue).where(queue.c.id == job_id)).one()


def announced(messages: list[dict[str, Any]]) -> list[int]:
    return sorted(parse_body(m["Body"]).job_id for m in messages)


@pytest.fixture
def runs_table(engine: sa.Engine) -> sa.Engine:
    queue_jobs.create_runs_table(engine)
    return engine


# ---------------------------------------------------------------------- the happy path


def test_enqueue_relay_run_delete(
    runs_table: sa.Engine,
    tmp_path: Path,
    sqs_queue: SqsQueue,
) -> None:
    engine = runs_table
    settings = sqs_settings(engine, tmp_path, sqs_queue)
    ids = add(engine, settings, n=3)
    assert outbox_ids(engine) == ids  # written with the jobs, in their transaction
    jobs_feed = feed(engine, settings)
    counts = run_worker(engine, settings, jobs_feed)
    assert counts.completed == 3
    assert [(job, attempt) for job, attempt, *_ in queue_jobs.runs(engine)] == [(i, 1) for i in ids]
    assert jobs_feed.counts.claimed == 3
    assert jobs_feed.counts.swept == 0
    assert jobs_feed.counts.duplicates == 0
    assert outbox_ids(engine) == []
    assert sqs_queue.waiting() == 0  # every message deleted after its job finished


def test_relay_sends_the_job_id_and_type(
    engine: sa.Engine,
    tmp_path: Path,
    sqs_queue: SqsQueue,
) -> None:
    settings = sqs_settings(engine, tmp_path, sqs_queue)
    (first,) = add(engine, settings, "record")
    (second,) = add(engine, settings, "flaky", payload={"fail_while": "x"})
    counts = relay_pending(engine, sqs_queue.client, settings)
    assert (counts.sent, counts.failed, counts.dropped) == (2, 0, 0)
    assert outbox_ids(engine) == []
    bodies = sorted((json.loads(m["Body"]) for m in sqs_queue.receive_all()), key=str)
    assert bodies == [
        {"job_id": first, "type": "record"},
        {"job_id": second, "type": "flaky"},
    ]


def test_relay_drops_the_rows_of_jobs_no_longer_queued(
    engine: sa.Engine, tmp_path: Path, sqs_queue: SqsQueue
) -> None:
    settings = sqs_settings(engine, tmp_path, sqs_queue)
    claimed, waiting = add(engine, settings, n=2)
    assert [job.id for job in claim(engine, "w1", 1, settings)] == [claimed]
    with write_transaction(engine) as conn:  # its outbox row is still there
        conn.execute(sa.insert(outbox).values(queue_id=987_654))  # a job deleted since
    counts = relay_pending(engine, sqs_queue.client, settings)
    assert (counts.sent, counts.failed, counts.dropped) == (1, 0, 2)
    assert outbox_ids(engine) == []
    assert announced(sqs_queue.receive_all()) == [waiting]


def test_relay_delays_a_job_that_is_not_due(
    engine: sa.Engine,
    tmp_path: Path,
    sqs_queue: SqsQueue,
) -> None:
    settings = sqs_settings(engine, tmp_path, sqs_queue)
    add(engine, settings, run_after=datetime.now(UTC) + timedelta(hours=1))
    assert relay_pending(engine, sqs_queue.client, settings).sent == 1
    assert sqs_queue.attribute("ApproximateNumberOfMessagesDelayed") == 1  # 900 s, SQS's most
    assert sqs_queue.receive_all() == []


def test_fifo_queue_gets_group_and_deduplication_ids(
    engine: sa.Engine,
    tmp_path: Path,
    moto_endpoint: str,
) -> None:
    fifo = create_queue(moto_endpoint, fifo=True)
    settings = sqs_settings(engine, tmp_path, fifo)
    ids = add(engine, settings, n=2, run_after=datetime.now(UTC) + timedelta(hours=1))
    # The state a relay leaves when it dies after sending: the rows are sent again.
    with engine.connect() as conn:
        rows = conn.execute(sa.select(outbox).order_by(outbox.c.id)).all()
    assert relay_pending(engine, fifo.client, settings).sent == 2
    with write_transaction(engine) as conn:
        conn.execute(sa.insert(outbox), [row._asdict() for row in rows])
    assert relay_pending(engine, fifo.client, settings).sent == 2
    messages = fifo.receive_all()
    assert announced(messages) == ids  # SQS deduplicated the second sending
    assert sorted(m["Attributes"]["MessageGroupId"] for m in messages) == [f"job-{i}" for i in ids]


def test_several_relays_at_once_send_each_row_once(
    engine: sa.Engine,
    tmp_path: Path,
    sqs_queue: SqsQueue,
) -> None:
    settings = sqs_settings(engine, tmp_path, sqs_queue)
    ids = add(engine, settings, n=60)
    sent: list[int] = []

    def relay() -> None:
        sent.append(relay_pending(engine, sqs_queue.client, settings, limit=10).sent)

    threads = [threading.Thread(target=relay) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(sent) == 60
    assert outbox_ids(engine) == []
    assert announced(sqs_queue.receive_all()) == ids


# ---------------------------------------------------------------------- duplicates


def test_a_message_delivered_twice_runs_the_job_once(
    runs_table: sa.Engine,
    tmp_path: Path,
    sqs_queue: SqsQueue,
) -> None:
    engine = runs_table
    settings = sqs_settings(engine, tmp_path, sqs_queue)
    (job_id,) = add(engine, settings)
    relay_pending(engine, sqs_queue.client, settings)
    body = json.dumps({"job_id": job_id, "type": "record"})
    sqs_queue.send(body)  # SQS delivering the same announcement again
    jobs_feed = feed(engine, settings)
    run_worker(engine, settings, jobs_feed)
    sqs_queue.send(body)  # and once more, after the job completed
    run_worker(engine, settings, jobs_feed)
    assert [(job, attempt) for job, attempt, *_ in queue_jobs.runs(engine)] == [(job_id, 1)]
    assert job_row(engine, job_id).status == "completed"
    assert jobs_feed.counts.claimed == 1
    assert jobs_feed.counts.duplicates == 2
    assert sqs_queue.waiting() == 0


def test_relay_crash_between_send_and_delete_announces_twice_runs_once(
    runs_table: sa.Engine,
    tmp_path: Path,
    sqs_queue: SqsQueue,
) -> None:
    engine = runs_table
    settings = sqs_settings(engine, tmp_path, sqs_queue)
    ids = add(engine, settings, n=2)

    def crash(**_kwargs: Any) -> None:  # the relay dies once SQS has accepted the batch
        raise RuntimeError("relay killed after SendMessageBatch")

    client = sqs_queue.client
    client.meta.events.register("after-call.sqs.SendMessageBatch", crash)
    try:
        with pytest.raises(RuntimeError, match="relay killed"):
            relay_once(engine, client, settings)
    finally:
        client.meta.events.unregister("after-call.sqs.SendMessageBatch", crash)
    assert sqs_queue.attribute("ApproximateNumberOfMessages") == 2  # sent ...
    assert outbox_ids(engine) == ids  # ... and still in the outbox: rolled back
    jobs_feed = feed(engine, settings)
    run_worker(engine, settings, jobs_feed)  # relays them again, then runs
    assert [(job, attempt) for job, attempt, *_ in queue_jobs.runs(engine)] == [(i, 1) for i in ids]
    assert jobs_feed.counts.claimed == 2
    assert jobs_feed.counts.duplicates == 2
    assert outbox_ids(engine) == []
    assert sqs_queue.waiting() == 0


def test_partial_batch_failure_keeps_the_refused_rows(
    engine: sa.Engine,
    tmp_path: Path,
    sqs_queue: SqsQueue,
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = sqs_settings(engine, tmp_path, sqs_queue)
    ids = add(engine, settings, n=3)

    def refuse_second(params: dict[str, Any], **_kwargs: Any) -> None:
        # An invalid delay makes SQS refuse this one entry and accept the others.
        params["Entries"][1]["DelaySeconds"] = 901

    client = sqs_queue.client
    client.meta.events.register("before-parameter-build.sqs.SendMessageBatch", refuse_second)
    try:
        with caplog.at_level(logging.WARNING, "pipeline_core.queue.relay"):
            counts, read = relay_once(engine, client, settings)
    finally:
        client.meta.events.unregister("before-parameter-build.sqs.SendMessageBatch", refuse_second)
    assert (counts.sent, counts.failed, read) == (2, 1, 3)
    assert outbox_ids(engine) == [ids[1]]
    (line,) = [r.getMessage() for r in caplog.records]
    assert f"announcement of job {ids[1]}" in line
    assert "InvalidParameterValue" in line
    assert relay_pending(engine, client, settings).sent == 1  # the next round sends it
    assert outbox_ids(engine) == []
    assert announced(sqs_queue.receive_all()) == ids


# ---------------------------------------------------------------------- bad messages


def test_unknown_job_and_malformed_bodies_are_dropped_with_a_log_line(
    runs_table: sa.Engine,
    tmp_path: Path,
    sqs_queue: SqsQueue,
    caplog: pytest.LogCaptureFixture,
) -> None:
    engine = runs_table
    settings = sqs_settings(engine, tmp_path, sqs_queue)
    for body in (
        json.dumps({"job_id": 999_999, "type": "record"}),
        "not json",
        "[1, 2]",
        json.dumps({"job_id": "7", "type": "record"}),
        json.dumps({"job_id": 3}),
    ):
        sqs_queue.send(body)
    (job_id,) = add(engine, settings)
    jobs_feed = feed(engine, settings)
    with caplog.at_level(logging.WARNING, "pipeline_core.queue.sqs_feed"):
        counts = run_worker(engine, settings, jobs_feed)
    assert counts.completed == 1  # the worker went on
    assert [job for job, *_ in queue_jobs.runs(engine)] == [job_id]
    assert (jobs_feed.counts.unknown, jobs_feed.counts.malformed) == (1, 4)
    lines = [r.getMessage() for r in caplog.records if r.name.endswith("sqs_feed")]
    assert len(lines) == 5
    assert sum("job 999999, which is not in pipeline.queue: dropped" in line for line in lines) == 1
    assert sum("not a job announcement" in line for line in lines) == 4
    assert any("body 'not json'" in line for line in lines)
    assert sqs_queue.waiting() == 0


# ---------------------------------------------------------------------- retries


def test_a_failing_jobs_retry_is_announced_again_and_runs_after_its_backoff(
    runs_table: sa.Engine,
    tmp_path: Path,
    sqs_queue: SqsQueue,
) -> None:
    engine = runs_table
    settings = sqs_settings(engine, tmp_path, sqs_queue, PIPELINE_RETRY_BACKOFF="1.5")
    marker = tmp_path / "fail"
    marker.touch()
    (job_id,) = add(engine, settings, "flaky", payload={"fail_while": str(marker)})
    jobs_feed = feed(engine, settings)
    counts = run_worker(engine, settings, jobs_feed)
    assert (counts.completed, counts.retried) == (0, 1)
    row = job_row(engine, job_id)
    assert (row.status, row.attempts) == ("queued", 1)
    retry_at = utc(row.run_after)
    assert outbox_ids(engine) == []  # the retry's announcement was relayed ...
    assert sqs_queue.waiting() == 1  # ... and is hidden until the retry is due
    marker.unlink()
    while datetime.now(UTC) < retry_at:
        assert run_worker(engine, settings, jobs_feed).claimed == 0  # not before its time
        time.sleep(0.2)
    deadline = time.monotonic() + 10
    while job_row(engine, job_id).status == "queued" and time.monotonic() < deadline:
        run_worker(engine, settings, jobs_feed)
        time.sleep(0.1)
    assert job_row(engine, job_id).status == "completed"
    with engine.connect() as conn:
        attempts = conn.execute(
            sa.select(jobs.c.attempt, jobs.c.status, jobs.c.started_at)
            .where(jobs.c.queue_id == job_id)
            .order_by(jobs.c.attempt)
        ).all()
    assert [(a.attempt, a.status) for a in attempts] == [(1, "failed"), (2, "completed")]
    assert utc(attempts[1].started_at) >= retry_at
    assert jobs_feed.counts.swept == 0  # it came through SQS
    assert sqs_queue.waiting() == 0


def test_a_message_for_a_later_job_is_hidden_until_then_within_12_hours(
    engine: sa.Engine,
    tmp_path: Path,
    sqs_queue: SqsQueue,
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = sqs_settings(engine, tmp_path, sqs_queue)
    # Due in 4 s: enough for the adds, sends and first receive on a loaded machine.
    soon_at = datetime.now(UTC) + timedelta(seconds=4)
    soon = add(engine, settings, run_after=soon_at)
    days = add(engine, settings, run_after=datetime.now(UTC) + timedelta(days=2))
    with write_transaction(engine) as conn:
        conn.execute(sa.delete(outbox))  # announce them by hand, without a delay
    for job_id in (*soon, *days):
        sqs_queue.send(json.dumps({"job_id": job_id, "type": "record"}))
    jobs_feed = feed(engine, settings, relay=False)
    with caplog.at_level(logging.INFO, "pipeline_core.queue.sqs_feed"):
        assert jobs_feed.next_jobs("w1", 10) == []
    assert jobs_feed.counts.deferred == 2
    assert [
        r for r in caplog.records if r.name.endswith("sqs_feed")
    ] == []  # SQS took both visibility timeouts (2 days capped at 12 h)
    assert sqs_queue.attribute("ApproximateNumberOfMessagesNotVisible") == 2
    time.sleep(max(0.0, (soon_at - datetime.now(UTC)).total_seconds()) + 0.1)
    claimed: list[int] = []
    deadline = time.monotonic() + 5
    while not claimed and time.monotonic() < deadline:
        claimed = [job.id for job in jobs_feed.next_jobs("w1", 10)]
    assert claimed == soon
    assert MAX_VISIBILITY_SECONDS == 12 * 3600


# ---------------------------------------------------------------------- dead letters


def test_sqs_dead_letter_queue_through_a_redrive_policy(
    engine: sa.Engine,
    tmp_path: Path,
    moto_endpoint: str,
    db_url: str,
) -> None:
    # The queues as docs/reference/sqs.md creates them, with a small maxReceiveCount.
    client = make_client(moto_endpoint)
    name = f"jobs-{uuid.uuid4().hex[:10]}"
    url, dlq_url = EXAMPLE.create_job_queues(
        client, name, max_receive_count=2, visibility_timeout=0
    )
    main = SqsQueue(moto_endpoint, url, client)
    settings = sqs_settings(engine, tmp_path, main)
    queue_jobs.create_runs_table(engine)
    (job_id,) = add(engine, settings)
    relay_pending(engine, main.client, settings)
    # Workers that cannot reach the database leave the message: it keeps failing.
    if db_url.startswith("sqlite"):
        down = make_engine(f"sqlite:///{tmp_path / 'never-migrated' / 'pipeline.db'}")
    else:
        down = make_engine(
            engine.url.set(database="dmo_no_such_database").render_as_string(hide_password=False)
        )
    broken = feed(down, settings, relay=False)
    for _ in range(3):
        assert broken.next_jobs("w1", 10) == []
    down.dispose()
    assert broken.counts.unprocessed == 2  # received twice, then moved by SQS
    assert main.waiting() == 0
    (dead,) = main.receive_all(dlq_url)
    assert parse_body(dead["Body"]).job_id == job_id
    # The job itself is safe in the database; the database sweep still runs it.
    assert job_row(engine, job_id).status == "queued"
    healthy = feed(engine, settings, sweep_every=0.0)
    run_worker(engine, settings, healthy)
    assert job_row(engine, job_id).status == "completed"
    assert healthy.counts.swept == 1


def test_while_sqs_is_unreachable_the_worker_claims_from_the_database(
    runs_table: sa.Engine, tmp_path: Path, sqs_queue: SqsQueue, caplog: pytest.LogCaptureFixture
) -> None:
    engine = runs_table
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}"
    settings = sqs_settings(engine, tmp_path, sqs_queue)
    ids = add(engine, settings, n=2)
    down = make_client(closed)
    jobs_feed = feed(engine, settings, client=down)
    with caplog.at_level(logging.WARNING, "pipeline_core.queue"):
        counts = run_worker(engine, settings, jobs_feed)
    assert counts.completed == 2
    assert [job for job, *_ in queue_jobs.runs(engine)] == ids
    assert jobs_feed.counts.swept == 2
    assert outbox_ids(engine) == ids  # the announcements wait for SQS ...
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2  # one warning each, not one per turn of the worker
    assert lines[0].startswith("SQS refused a batch of 2 announcement(s) (EndpointConnection")
    assert lines[0].endswith("2 outbox row(s) stay for the next round")
    assert lines[1].endswith("; claiming from the database meanwhile")
    counts = relay_pending(engine, sqs_queue.client, settings)  # ... and are dropped once
    assert (counts.sent, counts.dropped) == (0, 2)  # SQS answers: their jobs ran meanwhile


# ---------------------------------------------------------------------- the worker


def test_the_worker_feed_follows_pipeline_enable_queues(
    engine: sa.Engine,
    tmp_path: Path,
    sqs_queue: SqsQueue,
) -> None:
    on = sqs_settings(engine, tmp_path, sqs_queue)
    assert isinstance(Worker(engine, make_pm(on)).feed, SqsFeed)
    off = make_settings(str(engine.url), tmp_path)
    assert isinstance(Worker(engine, make_pm(off)).feed, DatabaseFeed)
    add(engine, off)
    assert outbox_ids(engine) == []  # without SQS, the database alone


def test_commands_queue_add_relay_and_worker_through_sqs(
    engine: sa.Engine,
    worker_env: dict[str, str],
    sqs_queue: SqsQueue,
) -> None:
    queue_jobs.create_runs_table(engine)
    env = dict(
        worker_env,
        **CREDENTIALS,
        PIPELINE_ENABLE_QUEUES="true",
        PIPELINE_JOBS_QUEUE_URL=sqs_queue.url,
        PIPELINE_SQS_ENDPOINT_URL=sqs_queue.endpoint,
    )
    added = run_cli("queue", "add", "record", env=env)
    assert added.returncode == 0, added.stderr
    assert added.stdout == "queued job 1 (record)\n"
    relayed = run_cli("queue", "relay", env=env)
    assert relayed.returncode == 0, relayed.stderr
    assert relayed.stdout == (
        "relayed 1 job announcement(s) to SQS; 0 refused (kept in the outbox), 0 dropped "
        "(their jobs were no longer queued)\n"
    )
    assert outbox_ids(engine) == []
    assert sqs_queue.attribute("ApproximateNumberOfMessages") == 1
    worked = run_cli("worker", "--once", env=env)
    assert worked.returncode == 0, worked.stderr
    assert [job for job, *_ in queue_jobs.runs(engine)] == [1]
    assert job_row(engine, 1).status == "completed"
    assert sqs_queue.waiting() == 0


def test_three_worker_processes_through_sqs_run_every_job_once(
    engine: sa.Engine, worker_env: dict[str, str], sqs_queue: SqsQueue, tmp_path: Path
) -> None:
    queue_jobs.create_runs_table(engine)
    env = dict(
        worker_env,
        **CREDENTIALS,
        PIPELINE_ENABLE_QUEUES="true",
        PIPELINE_JOBS_QUEUE_URL=sqs_queue.url,
        PIPELINE_SQS_ENDPOINT_URL=sqs_queue.endpoint,
    )
    settings = sqs_settings(engine, tmp_path, sqs_queue)
    ids = add(engine, settings, n=150)
    logs = [tmp_path / f"worker-{n}.log" for n in range(3)]
    # The three relay the outbox at once, then share the messages; each exits when SQS
    # has nothing left for it.
    workers = [start_worker(env, log, "--once") for log in logs]
    for proc, log in zip(workers, logs, strict=True):
        assert proc.wait(240) == 0, log.read_text()
    runs = queue_jobs.runs(engine)
    assert sorted(job for job, *_ in runs) == ids  # every job, each once
    assert {attempt for _, attempt, *_ in runs} == {1}
    assert set(statuses(engine).values()) == {"completed"}
    assert outbox_ids(engine) == []
    # A message a worker hid for a moment (its job was being claimed by another) may
    # still be there: only ever a duplicate of a completed job.
    done = statuses(engine)
    assert all(done[parse_body(m["Body"]).job_id] == "completed" for m in sqs_queue.receive_all())


def test_process_batch_claims_from_the_database_without_polling_sqs(
    runs_table: sa.Engine, tmp_path: Path, sqs_queue: SqsQueue
) -> None:
    engine = runs_table
    settings = sqs_settings(engine, tmp_path, sqs_queue)
    (parent,) = add(engine, settings, "chain", payload={"next": 2})
    sqs_queue.send(json.dumps({"job_id": 999_999, "type": "record"}))  # left alone
    counts = process_batch(engine, make_pm(settings), batch_size=5)
    assert (counts.claimed, counts.completed, counts.next_jobs) == (1, 1, 2)
    assert [job for job, *_ in queue_jobs.runs(engine)] == [parent]
    children = [i for i in statuses(engine) if i != parent]
    assert outbox_ids(engine) == [parent, *children]  # for the workers' relay
    assert sqs_queue.attribute("ApproximateNumberOfMessages") == 1
    assert relay_pending(engine, sqs_queue.client, settings).sent == 2


def test_queue_relay_needs_pipeline_enable_queues(db_url: str, tmp_path: Path) -> None:
    env = {"PIPELINE_DATABASE_URL": db_url, "PIPELINE_HOME": str(tmp_path)}
    result = CliRunner().invoke(main, ["queue", "relay"], env=env)
    assert result.exit_code == 2
    assert "PIPELINE_ENABLE_QUEUES is false" in result.output
