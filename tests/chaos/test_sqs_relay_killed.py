"""Chaos: the SQS relay is killed between sending and deleting, twice in a row, and the
messages then reach the workers twice (or three times) and out of order: each job runs
once.

A fault-injecting proxy (:mod:`faulty_proxy`) stands between the pipeline and moto's SQS:
when a relay's ``SendMessageBatch`` has been accepted by SQS, the proxy SIGKILLs the relay
process before it sees the answer (so it never deletes its outbox rows), and it hands out
the messages of each ``ReceiveMessage`` answer last first.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import queue_jobs
import sqlalchemy as sa
from faulty_proxy import Call, FaultyProxy, reversed_messages
from moto_server import CREDENTIALS, moto_endpoint  # noqa: F401  (a fixture)
from queue_helpers import make_settings, start_worker, statuses
from sqs_server import SqsQueue, create_queue

from pipeline_core.db.engine import write_transaction
from pipeline_core.db.tables import jobs, outbox
from pipeline_core.queue.enqueue import enqueue
from pipeline_core.queue.sqs import parse_body

pytestmark = pytest.mark.slow
pytest_plugins = ["queue_fixtures"]

JOBS = 25


def _sent_job_ids(call: Call) -> list[int]:
    entries = json.loads(call.body)["Entries"]
    return [parse_body(entry["MessageBody"]).job_id for entry in entries]


def test_a_relay_killed_twice_between_send_and_delete_runs_each_job_once(
    engine: sa.Engine,
    worker_env: dict[str, str],
    moto_endpoint: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    queue_jobs.create_runs_table(engine)
    sqs_queue: SqsQueue = create_queue(moto_endpoint)
    relays: list[subprocess.Popen[bytes]] = []
    killed: list[int] = []
    reordered: list[list[int]] = []

    def kill_the_relay(call: Call) -> None:
        # SQS has accepted the batch; its relay dies before it hears so
        if call.action == "SendMessageBatch" and len(killed) < 2 and relays:
            relay = relays[-1]
            killed.append(relay.pid)
            os.kill(relay.pid, signal.SIGKILL)
            relay.wait(30)

    def reverse(call: Call, body: bytes) -> bytes:
        out = reversed_messages(call, body)
        if out is not body:
            ids = [parse_body(m["Body"]).job_id for m in json.loads(out)["Messages"]]
            if len(ids) > 1:
                reordered.append(ids)
        return out

    settings = make_settings(
        engine.url.render_as_string(hide_password=False),
        tmp_path,
        PIPELINE_ENABLE_QUEUES="true",
        PIPELINE_JOBS_QUEUE_URL=sqs_queue.url,
    )
    with write_transaction(engine) as conn:
        ids = [enqueue(conn, "record", {"n": n}, settings=settings) for n in range(JOBS)]
    with FaultyProxy(moto_endpoint, after=kill_the_relay, rewrite=reverse) as proxy:
        env = dict(
            worker_env,
            **CREDENTIALS,
            PIPELINE_ENABLE_QUEUES="true",
            PIPELINE_JOBS_QUEUE_URL=sqs_queue.url,
            PIPELINE_SQS_ENDPOINT_URL=proxy.endpoint,
        )
        for n in range(2):
            with (tmp_path / f"relay-{n}.log").open("wb") as log:
                relays.append(
                    subprocess.Popen(
                        [sys.executable, "-m", "pipeline_core.cli", "queue", "relay"],
                        env=env,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                    )
                )
            assert relays[-1].wait(60) == -signal.SIGKILL
        assert killed == [relay.pid for relay in relays]
        sends = [call for call in proxy.calls if call.action == "SendMessageBatch"]
        assert [_sent_job_ids(call) for call in sends] == [ids[:10], ids[:10]]
        assert sqs_queue.attribute("ApproximateNumberOfMessages") == 20  # sent twice ...
        with engine.connect() as conn:  # ... and never deleted from the outbox
            rows = conn.execute(sa.select(outbox.c.queue_id).order_by(outbox.c.id)).scalars()
            assert list(rows) == ids
        # Two workers relay the outbox a third time, then share 45 messages for 25 jobs
        logs = [tmp_path / f"worker-{n}.log" for n in range(2)]
        workers = [start_worker(env, log, "--once") for log in logs]
        for worker, log in zip(workers, logs, strict=True):
            assert worker.wait(120) == 0, log.read_text()
        sent = [job for call in proxy.calls[len(sends) :] for job in _sent(call)]
    assert sorted(sent) == sorted(ids)  # the third announcement of each
    runs = queue_jobs.runs(engine)
    assert [(job, attempt) for job, attempt, *_ in runs] == [(job, 1) for job in ids]
    assert statuses(engine) == {job: "completed" for job in ids}
    with engine.connect() as conn:
        history = conn.execute(
            sa.select(jobs.c.queue_id, jobs.c.attempt, jobs.c.status).order_by(jobs.c.queue_id)
        ).all()
        assert conn.execute(sa.select(sa.func.count()).select_from(outbox)).scalar() == 0
    assert [tuple(row) for row in history] == [(job, 1, "completed") for job in ids]
    assert reordered, "no answer held more than one message to reorder"
    # What SQS still holds is only duplicates of completed jobs
    for message in sqs_queue.receive_all():
        assert statuses(engine)[parse_body(message["Body"]).job_id] == "completed"
    print(
        f"\nchaos: relay killed twice between send and delete; {len(sent) + 20} messages "
        f"for {JOBS} jobs, {len(reordered)} answers reordered; each job ran once"
    )


def _sent(call: Call) -> list[int]:
    return _sent_job_ids(call) if call.action == "SendMessageBatch" else []
