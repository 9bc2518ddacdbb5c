"""The database queue in one process: claim order, DMO limit, claim by id, leases and
rescue, the owner/attempt guard, next jobs, retries with backoff, dead letters, the
``job_failed`` hook (webhook on 127.0.0.1), retry by hand, release and the outbox."""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import queue_jobs
import sqlalchemy as sa
from queue_helpers import (
    WebhookServer,
    expire_and_rescue,
    expire_leases,
    make_pm,
    make_settings,
    rescuing,
    statuses,
    wait_for,
)

from pipeline_core.config import Settings
from pipeline_core.db.engine import write_transaction
from pipeline_core.db.tables import errors, jobs, outbox, queue
from pipeline_core.exceptions import LeaseLost, QueueError
from pipeline_core.hookspecs import hookimpl
from pipeline_core.jobtypes import JobContext, JobResult, JobType, NextJob
from pipeline_core.queue import enqueue
from pipeline_core.queue.backoff import backoff_cap
from pipeline_core.queue.finish import finish
from pipeline_core.queue.job import Outcome, utc
from pipeline_core.queue.store import (
    claim,
    claim_ids,
    heartbeat,
    release,
    rescue_expired,
    retry_job,
)
from pipeline_core.queue.worker import Worker, process_batch

pytest_plugins = ["queue_fixtures"]


def add(
    engine: sa.Engine, settings: Settings, job_type: str = "noop", n: int = 1, **kw: Any
) -> list[int]:
    payload = kw.pop("payload", {})
    with write_transaction(engine) as conn:
        ids = [enqueue(conn, job_type, payload, settings=settings, **kw) for _ in range(n)]
    return [i for i in ids if i is not None]


def ok(job, **stats) -> Outcome:
    now = datetime.now(UTC)
    return Outcome(job, now, now, dict(stats))


def row(engine: sa.Engine, job_id: int):
    with engine.connect() as conn:
        return conn.execute(sa.select(queue).where(queue.c.id == job_id)).one()


def attempts_of(engine: sa.Engine, job_id: int) -> list[tuple[int, str]]:
    with engine.connect() as conn:
        return [
            tuple(r)
            for r in conn.execute(
                sa.select(jobs.c.attempt, jobs.c.status)
                .where(jobs.c.queue_id == job_id)
                .order_by(jobs.c.id)
            )
        ]


def test_claim_takes_due_jobs_by_priority_then_age(engine: sa.Engine, tmp_path: Path) -> None:
    settings = make_settings(str(engine.url), tmp_path, PIPELINE_DMO_CONCURRENCY="0")
    low = add(engine, settings, n=2)
    high = add(engine, settings, priority=5)
    later = add(engine, settings, run_after=datetime.now(UTC) + timedelta(hours=1))

    first = claim(engine, "w1", 2, settings)
    assert [job.id for job in first] == [high[0], low[0]]
    assert [(job.attempt, job.owner) for job in first] == [(1, "w1"), (1, "w1")]
    assert [job.id for job in claim(engine, "w2", 10, settings)] == [low[1]]
    assert claim(engine, "w3", 10, settings) == []
    assert statuses(engine) == {
        high[0]: "running",
        low[0]: "running",
        low[1]: "running",
        later[0]: "queued",
    }
    held = row(engine, high[0])
    assert (held.lease_owner, held.attempts) == ("w1", 1)
    assert utc(held.lease_expires_at) > datetime.now(UTC) + timedelta(seconds=50)


def test_dmo_concurrency_limit(engine: sa.Engine, tmp_path: Path) -> None:
    settings = make_settings(str(engine.url), tmp_path, PIPELINE_DMO_CONCURRENCY="2")
    a = add(engine, settings, n=5, dmo="visit-a")
    b = add(engine, settings, n=3, dmo="visit-b")
    free = add(engine, settings, n=3)

    first = claim(engine, "w1", 100, settings)
    assert sorted(job.id for job in first) == sorted([*a[:2], *b[:2], *free])
    # Both DMOs are at their limit: nothing more, by claim or by id.
    assert claim(engine, "w2", 100, settings) == []
    by_id = claim_ids(engine, [a[2], b[2]], "w2", settings)
    assert by_id.claimed == []
    assert by_id.skipped == {a[2]: "dmo limit", b[2]: "dmo limit"}

    # One of visit-a finishes: exactly one more of visit-a may run.
    done = next(job for job in first if job.id == a[0])
    assert finish(engine, [ok(done)], settings).completed == 1
    second = claim(engine, "w2", 100, settings)
    assert [job.id for job in second] == [a[2]]


def test_claim_ids_claims_only_queued_due_jobs(engine: sa.Engine, tmp_path: Path) -> None:
    settings = make_settings(str(engine.url), tmp_path)
    due = add(engine, settings, n=3)
    later = add(engine, settings, run_after=datetime.now(UTC) + timedelta(hours=1))
    running = claim_ids(engine, [due[0]], "w1", settings)
    assert [job.id for job in running.claimed] == [due[0]]

    result = claim_ids(engine, [due[0], due[1], due[1], later[0], 999_999], "w2", settings)
    assert [job.id for job in result.claimed] == [due[1]]
    assert result.claimed[0].owner == "w2"
    assert result.skipped == {due[0]: "running", later[0]: "not due", 999_999: "not found"}
    assert statuses(engine)[due[2]] == "queued"


def test_a_stale_lease_owner_cannot_finish_a_rescued_job(engine: sa.Engine, tmp_path: Path) -> None:
    settings = make_settings(str(engine.url), tmp_path)
    (job_id,) = add(engine, settings, "chain", payload={"next": 2}, dmo="visit-a")
    (old,) = claim(engine, "old-worker", 1, settings)
    expire_leases(engine, job_id)

    rescued = rescue_expired(engine, settings)
    assert (rescued.retried, rescued.dead_lettered) == (1, 0)
    assert statuses(engine)[job_id] == "queued"
    (new,) = claim(engine, "new-worker", 1, settings)
    assert new.attempt == 2

    # The old worker comes back: its outcome, heartbeat and release all match nothing.
    late = ok(old)
    late.next_jobs = [NextJob("record", {"n": 1})]
    stale = finish(engine, [late], settings)
    assert (stale.completed, stale.stale, stale.next_jobs) == (0, 1, 0)
    assert heartbeat(engine, [old], settings) == set()
    assert release(engine, [old], settings) == 0
    current = row(engine, job_id)
    assert (current.status, current.lease_owner, current.attempts) == ("running", "new-worker", 2)

    done = finish(engine, [ok(new)], settings)
    assert (done.completed, done.stale) == (1, 0)
    assert finish(engine, [ok(new)], settings).stale == 1  # never completed twice
    assert attempts_of(engine, job_id) == [(1, "expired"), (2, "completed")]
    assert statuses(engine) == {job_id: "completed"}  # no next jobs from the stale outcome
    with engine.connect() as conn:
        (message,) = conn.execute(sa.select(errors.c.message)).scalars()
    assert message == (
        f"chain job {job_id}, attempt 1 of 5: lease expired: worker old-worker stopped heartbeating"
    )


def test_next_jobs_are_queued_with_the_completion(engine: sa.Engine, tmp_path: Path) -> None:
    settings = make_settings(str(engine.url), tmp_path, PIPELINE_DMO_CONCURRENCY="0")
    (parent_id,) = add(engine, settings, "chain", dmo="visit-a", correlation_id="corr-1")
    (parent,) = claim(engine, "w1", 1, settings)
    outcome = ok(parent, n=2)
    outcome.next_jobs = [
        NextJob("record", {"n": 0}),
        NextJob("record", {"n": 1}, dmo="visit-b", priority=3),
        NextJob("record", {"n": 2}, dedup_key="one"),
        NextJob("record", {"n": 3}, dedup_key="one"),  # already queued: skipped
    ]
    counts = finish(engine, [outcome], settings)
    assert (counts.completed, counts.next_jobs) == (1, 3)
    with engine.connect() as conn:
        children = conn.execute(
            sa.select(
                queue.c.type,
                queue.c.payload,
                queue.c.dmo,
                queue.c.correlation_id,
                queue.c.priority,
                queue.c.status,
            )
            .where(queue.c.id != parent_id)
            .order_by(queue.c.id)
        ).all()
        (stats,) = conn.execute(sa.select(jobs.c.stats)).scalars()
    assert [tuple(c) for c in children] == [
        ("record", {"n": 0}, "visit-a", "corr-1", 0, "queued"),
        ("record", {"n": 1}, "visit-b", "corr-1", 3, "queued"),
        ("record", {"n": 2}, "visit-a", "corr-1", 0, "queued"),
    ]
    assert stats == {"n": 2}


def test_a_failing_job_backs_off_is_dead_lettered_notified_and_retried_by_hand(
    engine: sa.Engine,
    tmp_path: Path,
    webhook: WebhookServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    hook_url = f"{webhook.url}/hooks/secret-token-123"
    settings = make_settings(
        str(engine.url),
        tmp_path,
        PIPELINE_MAX_RETRIES="4",
        PIPELINE_RETRY_BACKOFF="0.1",
        PIPELINE_RETRY_BACKOFF_MAX="0.3",
        PIPELINE_WEBHOOK_URL=hook_url,
    )
    pm = make_pm(settings)
    queue_jobs.create_runs_table(engine)
    flag = tmp_path / "fail"
    flag.touch()
    (job_id,) = add(
        engine,
        settings,
        "flaky",
        payload={"fail_while": str(flag), "source": "src-a"},
        max_attempts=4,
        dmo="visit-a",
    )
    caplog.set_level(logging.INFO)

    delays = []
    for attempt in range(1, 5):
        wait_for(f"attempt {attempt} to be due", lambda: statuses(engine)[job_id] == "queued")
        due = row(engine, job_id)
        wait_for("run_after", lambda due=due: datetime.now(UTC) >= utc(due.run_after), 5)
        counts = process_batch(engine, pm, batch_size=5)
        assert counts.claimed == 1
        after = row(engine, job_id)
        assert after.attempts == attempt
        if attempt < 4:
            assert (counts.retried, after.status) == (1, "queued")
            delays.append((utc(after.run_after) - utc(after.updated_at)).total_seconds())
        else:
            assert (counts.dead_lettered, after.status, after.dead_lettered) == (1, "failed", True)
    for attempt, delay in enumerate(delays, start=1):
        cap = backoff_cap(attempt, settings)
        assert cap / 2 - 0.01 <= delay <= cap + 0.01, (attempt, delay, cap)
    assert [backoff_cap(n, settings) for n in (1, 2, 3)] == [0.1, 0.2, 0.3]

    error = f"RuntimeError: flaky job {job_id} failed on purpose"
    assert after.last_error == error
    assert attempts_of(engine, job_id) == [(n, "failed") for n in range(1, 5)]
    with engine.connect() as conn:
        error_rows = conn.execute(
            sa.select(
                errors.c.source,
                errors.c.stage,
                errors.c.job_id,
                errors.c.message,
                errors.c.traceback_digest,
            ).order_by(errors.c.id)
        ).all()
    assert [r[:3] for r in error_rows] == [("src-a", "job", job_id)] * 4
    assert error_rows[0].message == f"flaky job {job_id}, attempt 1 of 4: {error}"
    assert len({r.traceback_digest for r in error_rows}) == 1
    assert len(error_rows[0].traceback_digest) == 64

    # job_failed fired once: the webhook got one POST, without the payload's other keys.
    assert webhook.received == [
        (
            "/hooks/secret-token-123",
            {
                "event": "job_failed",
                "job": {
                    "id": job_id,
                    "type": "flaky",
                    "attempts": 4,
                    "max_attempts": 4,
                    "dmo": "visit-a",
                    "correlation_id": after.correlation_id,
                    "source": "src-a",
                },
                "error": error,
            },
        )
    ]
    assert "secret-token-123" not in caplog.text
    assert "webhook http://127.0.0.1/*** notified of job" in caplog.text
    assert f"job {job_id} (flaky) failed for good after 4 of 4 attempts" in caplog.text

    # Retry by hand: a fresh budget (the type's max_attempts, 3), attempts kept.
    flag.unlink()
    again = retry_job(engine, job_id, settings, 3)
    assert (again.status, again.dead_lettered, again.attempts, again.max_attempts) == (
        "queued",
        False,
        4,
        7,
    )
    assert process_batch(engine, pm).completed == 1
    assert row(engine, job_id).status == "completed"
    assert attempts_of(engine, job_id)[-1] == (5, "completed")
    assert len(webhook.received) == 1
    with pytest.raises(QueueError, match=f"job {job_id} is completed, not failed"):
        retry_job(engine, job_id, settings, 3)
    with pytest.raises(QueueError, match="no job 424242"):
        retry_job(engine, 424242, settings, 3)


def test_a_refused_webhook_is_logged_masked_and_the_worker_goes_on(
    engine: sa.Engine, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = make_settings(
        str(engine.url),
        tmp_path,
        PIPELINE_ALLOWED_HOSTS="",
        PIPELINE_WEBHOOK_URL="http://127.0.0.1:9/hook?token=abc123",
        PIPELINE_MAX_RETRIES="1",
    )
    pm = make_pm(settings)
    add(engine, settings, "missing-type")
    add(engine, settings, "noop")
    counts = process_batch(engine, pm)
    assert (counts.claimed, counts.completed, counts.dead_lettered) == (2, 1, 1)
    assert "abc123" not in caplog.text
    refused = "webhook http://127.0.0.1/*** refused: http://127.0.0.1/***: host 127.0.0.1 resolves"
    assert refused in caplog.text


def test_unknown_job_type_is_dead_lettered_at_once(engine: sa.Engine, tmp_path: Path) -> None:
    settings = make_settings(str(engine.url), tmp_path)
    pm = make_pm(settings)
    (bad,) = add(engine, settings, "no-such-type")
    (good,) = add(engine, settings, "noop")
    counts = process_batch(engine, pm)
    assert (counts.completed, counts.dead_lettered, counts.retried) == (1, 1, 0)
    failed = row(engine, bad)
    assert (failed.status, failed.dead_lettered, failed.attempts) == ("failed", True, 1)
    assert failed.last_error.startswith(
        "unknown job type 'no-such-type': no installed plugin registers it (registered: "
    )
    assert statuses(engine)[good] == "completed"


def test_rescue_dead_letters_a_job_out_of_attempts(engine: sa.Engine, tmp_path: Path) -> None:
    settings = make_settings(str(engine.url), tmp_path)
    (job_id,) = add(engine, settings, max_attempts=1)
    claim(engine, "gone", 1, settings)
    expire_leases(engine, job_id)
    counts = rescue_expired(engine, settings)
    assert (counts.retried, counts.dead_lettered) == (0, 1)
    assert counts.dead[0].job["id"] == job_id
    dead = row(engine, job_id)
    assert (dead.status, dead.dead_lettered) == ("failed", True)
    assert attempts_of(engine, job_id) == [(1, "expired")]


def test_a_payload_source_too_long_for_its_column_is_cut_and_rescue_goes_on(
    engine: sa.Engine, tmp_path: Path
) -> None:
    # The error row of a rescued attempt takes the payload's source; one longer than
    # pipeline.errors.source (100 characters, enforced by PostgreSQL) failed the whole
    # rescue pass, every pass, so no expired job was ever queued again.
    settings = make_settings(str(engine.url), tmp_path)
    (long_source,) = add(engine, settings, payload={"source": "s" * 150})
    (other,) = add(engine, settings)
    claim(engine, "gone", 2, settings)
    expire_leases(engine, long_source, other)
    counts = rescue_expired(engine, settings)
    assert (counts.retried, counts.dead_lettered) == (2, 0)
    assert statuses(engine) == {long_source: "queued", other: "queued"}
    with engine.connect() as conn:
        sources = conn.execute(
            sa.select(errors.c.job_id, errors.c.source).order_by(errors.c.job_id)
        ).all()
    assert sources == [(long_source, "s" * 99 + "…"), (other, "")]


def test_two_retries_at_once_queue_a_failed_job_once(engine: sa.Engine, tmp_path: Path) -> None:
    settings = make_settings(
        str(engine.url),
        tmp_path,
        PIPELINE_ENABLE_QUEUES="true",
        PIPELINE_JOBS_QUEUE_URL="http://127.0.0.1:1/queue/jobs",
    )
    pm = make_pm(settings)
    (job_id,) = add(engine, settings, "no-such-type")
    process_batch(engine, pm)  # dead-lettered at once
    with engine.begin() as conn:
        conn.execute(sa.delete(outbox))
    start = threading.Barrier(2)
    results: list[str] = []

    def retry() -> None:
        start.wait()
        try:
            results.append(f"queued {retry_job(engine, job_id, settings, 1).status}")
        except QueueError as exc:
            results.append(str(exc))

    threads = [threading.Thread(target=retry) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [
        f"job {job_id} is queued, not failed: only failed jobs can be retried",
        "queued queued",
    ]
    assert statuses(engine) == {job_id: "queued"}
    with engine.connect() as conn:
        assert conn.execute(sa.select(outbox.c.queue_id)).scalars().all() == [job_id]


def test_outcomes_committed_before_the_database_went_away_are_not_committed_again(
    engine: sa.Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The batch's commit fails for a reason of its own, so the outcomes are committed one
    # at a time; the database goes away after the first (a dead letter). That one is
    # counted and notified now, only the second waits for the next flush.
    from pipeline_core.queue import worker as worker_module

    settings = make_settings(str(engine.url), tmp_path)
    pm = make_pm(settings)
    notified: list[int] = []

    class Notified:
        @hookimpl
        def job_failed(self, job: dict[str, Any]) -> None:
            notified.append(job["id"])

    pm.register(Notified())
    (dead,) = add(engine, settings, max_attempts=1)
    (done,) = add(engine, settings)
    worker = Worker(engine, pm, once=True, owner="w1")
    held = claim(engine, "w1", 2, settings)
    now = datetime.now(UTC)
    worker._held = {job.id: job for job in held}
    by_id = {job.id: job for job in held}
    worker._pending = [Outcome(by_id[dead], now, now, error="boom"), ok(by_id[done])]
    real = worker_module.finish
    calls: list[int] = []

    def failing(*args: Any, **kwargs: Any) -> Any:
        calls.append(len(args[1]))
        if len(calls) == 1:
            raise ValueError("a result that cannot be recorded")
        if len(calls) == 3:
            raise sa.exc.OperationalError("COMMIT", {}, Exception("server closed the connection"))
        return real(*args, **kwargs)

    monkeypatch.setattr(worker_module, "finish", failing)
    with pytest.raises(sa.exc.OperationalError):
        worker.flush()
    assert calls == [2, 1, 1]
    assert (worker.counts.dead_lettered, worker.counts.completed) == (1, 0)
    assert notified == [dead]
    assert [outcome.job.id for outcome in worker._pending] == [done]
    assert sorted(worker._held) == [done]
    monkeypatch.setattr(worker_module, "finish", real)
    worker.flush()
    counts = worker.counts
    assert (counts.dead_lettered, counts.completed, counts.stale) == (1, 1, 0)
    assert notified == [dead]
    assert statuses(engine) == {dead: "failed", done: "completed"}


def test_release_gives_jobs_back_without_counting_an_attempt(
    engine: sa.Engine, tmp_path: Path
) -> None:
    settings = make_settings(str(engine.url), tmp_path)
    ids = add(engine, settings, n=2)
    held = claim(engine, "w1", 2, settings)
    assert release(engine, held, settings, "worker stopped") == 2
    assert {row(engine, i).attempts for i in ids} == {0}
    assert statuses(engine) == dict.fromkeys(ids, "queued")
    assert attempts_of(engine, ids[0]) == [(1, "released")]
    again = claim(engine, "w2", 2, settings)
    assert [job.attempt for job in again] == [1, 1]


def test_every_path_back_to_queued_writes_an_outbox_row(engine: sa.Engine, tmp_path: Path) -> None:
    settings = make_settings(
        str(engine.url),
        tmp_path,
        PIPELINE_ENABLE_QUEUES="true",
        PIPELINE_JOBS_QUEUE_URL="http://127.0.0.1:1/queue/jobs",
        PIPELINE_RETRY_BACKOFF="0.01",
        PIPELINE_MAX_RETRIES="1",
    )
    pm = make_pm(settings)
    (job_id,) = add(engine, settings, "no-such-type", max_attempts=3)  # enqueue: 1
    (held,) = claim(engine, "w1", 1, settings)
    release(engine, [held], settings)  # 2
    (held,) = claim(engine, "w1", 1, settings)
    expire_leases(engine, job_id)
    rescue_expired(engine, settings)  # 3
    process_batch(engine, pm)  # dead-lettered at once: no row
    retry_job(engine, job_id, settings, 1)  # 4
    with engine.connect() as conn:
        rows = conn.execute(sa.select(outbox.c.queue_id)).scalars().all()
    assert rows == [job_id] * 4


@pytest.mark.parametrize("how", ["worker", "process_batch"])
def test_leases_are_heartbeated_while_a_long_job_runs(
    how: str, engine: sa.Engine, tmp_path: Path
) -> None:
    settings = make_settings(
        str(engine.url), tmp_path, PIPELINE_LEASE_SECONDS="2", PIPELINE_POLL_INTERVAL="0.05"
    )
    pm = make_pm(settings)
    queue_jobs.create_runs_table(engine)
    # longer than the lease; a heartbeat every 2/3 s leaves room for a loaded machine
    (slow,) = add(engine, settings, "sleepy", payload={"seconds": 2.6})
    quick = add(engine, settings, "record", n=3)
    with rescuing(engine, settings) as rescued:
        if how == "worker":
            counts = Worker(engine, pm, once=True).run()
        else:
            counts = process_batch(engine, pm, batch_size=10)
    assert sum(rescued) == 0
    assert (counts.completed, counts.stale) == (4, 0)
    assert statuses(engine) == dict.fromkeys([slow, *quick], "completed")
    assert [(r[0], r[1]) for r in queue_jobs.runs(engine)] == [(slow, 1), *((q, 1) for q in quick)]


def test_a_slow_webhook_does_not_hold_up_the_heartbeats(engine: sa.Engine, tmp_path: Path) -> None:
    # Two jobs are dead-lettered while a third runs for a while: their outcomes are
    # committed early and the webhook told, 3 s an answer. The running job's lease (2 s,
    # beaten every 2/3 s: room for a loaded machine) must be extended meanwhile, or another
    # worker rescues it and it runs twice.
    webhook = WebhookServer(delay=3)
    webhook.thread.start()
    settings = make_settings(
        str(engine.url),
        tmp_path,
        PIPELINE_LEASE_SECONDS="2",
        PIPELINE_WEBHOOK_URL=f"{webhook.url}/hook",
    )
    pm = make_pm(settings)
    queue_jobs.create_runs_table(engine)
    dead = add(engine, settings, "no-such-type", n=2, priority=1)
    (slow,) = add(engine, settings, "sleepy", payload={"seconds": 7})
    try:
        with rescuing(engine, settings) as rescued:
            counts = process_batch(engine, pm, batch_size=3)
    finally:
        webhook.server.shutdown()
        webhook.server.server_close()
    assert sum(rescued) == 0
    assert (counts.completed, counts.dead_lettered, counts.stale) == (1, 2, 0)
    assert len(webhook.received) == 2
    assert statuses(engine) == {**dict.fromkeys(dead, "failed"), slow: "completed"}
    assert [(r[0], r[1]) for r in queue_jobs.runs(engine)] == [(slow, 1)]


def test_a_handler_that_exits_or_beats_while_the_database_is_away_fails_nothing_else(
    engine: sa.Engine, tmp_path: Path
) -> None:
    # sys.exit() in a handler fails that attempt only; a heartbeat that meets a database
    # error (a failover) is logged and the handler goes on to complete.
    settings = make_settings(str(engine.url), tmp_path, PIPELINE_RETRY_BACKOFF="60")
    pm = make_pm(settings)
    (exits,) = add(engine, settings, "exits", priority=2)
    (beats,) = add(engine, settings, "beats-while-away", priority=1)
    (after,) = add(engine, settings, "noop")
    counts = process_batch(engine, pm, batch_size=3)
    assert (counts.completed, counts.retried, counts.dead_lettered) == (2, 1, 0)
    assert statuses(engine) == {exits: "queued", beats: "completed", after: "completed"}
    assert row(engine, exits).last_error == "SystemExit: 3"
    with engine.connect() as conn:
        stats = conn.execute(sa.select(jobs.c.stats).where(jobs.c.queue_id == beats)).scalar_one()
    # the heartbeat did try the away database, and extended the lease once it was back
    assert stats == {"tried_while_away": 1, "lease_extended": True}


def test_a_job_back_to_queued_gives_up_a_dedup_key_taken_while_it_ran(
    engine: sa.Engine, tmp_path: Path
) -> None:
    """Retry, release and rescue each queue a job again although the scheduler queued the
    next job with its dedup key meanwhile: the returning job gives up its key, the other
    jobs of the transaction are recorded, and the key stays unique among queued jobs."""
    settings = make_settings(str(engine.url), tmp_path, PIPELINE_DMO_CONCURRENCY="0")
    keys = ["scrape:a", "scrape:b", "scrape:c", "scrape:d"]
    old = {key: add(engine, settings, dedup_key=key)[0] for key in keys}
    (plain,) = add(engine, settings)
    held = {job.id: job for job in claim(engine, "w1", 10, settings)}
    assert sorted(held) == sorted([*old.values(), plain])
    # While they run, the scheduler queues the next scrape of a, b and c (not d).
    new = {key: add(engine, settings, dedup_key=key)[0] for key in keys[:3]}

    now = datetime.now(UTC)
    failed = Outcome(held[old["scrape:a"]], now, now, error="RuntimeError: network down")
    counts = finish(engine, [failed, ok(held[plain])], settings)
    assert (counts.completed, counts.retried, counts.stale) == (1, 1, 0)
    assert release(engine, [held[old["scrape:b"]]], settings, "worker stopped") == 1
    expire_leases(
        engine, old["scrape:c"], old["scrape:d"]
    )  # both rescued, c's clash blocks nothing
    rescued = rescue_expired(engine, settings)
    assert (rescued.retried, rescued.dead_lettered) == (2, 0)

    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(queue.c.id, queue.c.status, queue.c.dedup_key, queue.c.attempts)
        ).all()
    assert {r.id: (r.status, r.dedup_key, r.attempts) for r in rows} == {
        old["scrape:a"]: ("queued", None, 1),
        old["scrape:b"]: ("queued", None, 0),
        old["scrape:c"]: ("queued", None, 1),
        old["scrape:d"]: ("queued", "scrape:d", 1),
        plain: ("completed", None, 1),
        new["scrape:a"]: ("queued", "scrape:a", 0),
        new["scrape:b"]: ("queued", "scrape:b", 0),
        new["scrape:c"]: ("queued", "scrape:c", 0),
    }
    assert attempts_of(engine, old["scrape:a"]) == [(1, "failed")]
    assert attempts_of(engine, old["scrape:b"]) == [(1, "released")]
    assert attempts_of(engine, old["scrape:c"]) == [(1, "expired")]
    assert attempts_of(engine, plain) == [(1, "completed")]


class PoisonJobs:
    """Job types whose results cannot be recorded: a Decimal in the stats, a set in a next
    job's payload, a next job without a type (the database refuses it)."""

    @hookimpl
    def register_job_types(self) -> list[JobType]:
        no_type: Any = None

        def decimal(payload: Any, context: JobContext) -> dict[str, Any]:
            return {"rows": 2, "amount": Decimal("1.5")}

        def tags(payload: Any, context: JobContext) -> JobResult:
            return JobResult({}, [NextJob("record", {"source": "a", "tags": [1, {"a"}]})])

        def typeless(payload: Any, context: JobContext) -> JobResult:
            return JobResult({}, [NextJob(no_type, {})])

        return [
            JobType("decimal", decimal, "Returns a Decimal."),
            JobType("tags", tags, "Queues a next job with a set in its payload."),
            JobType("typeless", typeless, "Queues a next job without a type."),
        ]


def test_results_that_cannot_be_recorded_fail_their_attempt_and_spare_the_batch(
    engine: sa.Engine, tmp_path: Path
) -> None:
    settings = make_settings(str(engine.url), tmp_path, PIPELINE_DMO_CONCURRENCY="0")
    pm = make_pm(settings)
    pm.register(PoisonJobs(), name="poison-jobs")
    queue_jobs.create_runs_table(engine)
    (first,) = add(engine, settings, "record")
    (decimal,) = add(engine, settings, "decimal")
    (tags,) = add(engine, settings, "tags")
    (typeless,) = add(engine, settings, "typeless")
    (last,) = add(engine, settings, "record")

    counts = Worker(engine, pm, feed=None, owner="w1").process_once(10)
    assert (counts.claimed, counts.completed, counts.retried, counts.stale) == (5, 2, 3, 0)
    assert statuses(engine) == {
        first: "completed",
        decimal: "queued",
        tags: "queued",
        typeless: "queued",
        last: "completed",
    }
    advice = "use str, int, float, bool, None, lists and dicts with str keys"
    assert row(engine, decimal).last_error == (
        f"job {decimal} (decimal) returned a result that cannot be stored as JSON: "
        f"stats.amount: Decimal('1.5') (Decimal); {advice}"
    )
    assert row(engine, tags).last_error == (
        f"job {tags} (tags) returned a result that cannot be stored as JSON: "
        f"next_jobs[0].payload.tags[1]: {{'a'}} (set); {advice}"
    )
    assert row(engine, typeless).last_error.startswith(
        f"the outcome of job {typeless} (typeless) could not be recorded: IntegrityError ("
    )
    for job_id in (decimal, tags, typeless):
        assert attempts_of(engine, job_id) == [(1, "failed")]
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(errors)).scalar() == 3


def test_a_handler_whose_lease_was_lost_is_stopped_by_its_next_heartbeat(
    engine: sa.Engine, tmp_path: Path
) -> None:
    settings = make_settings(str(engine.url), tmp_path, PIPELINE_DMO_CONCURRENCY="0")
    most = 200
    seen: list[tuple[int, str]] = []

    def beating(payload: Any, context: JobContext) -> dict[str, Any]:
        beats = 0
        try:
            while beats < most:  # a long crawl that heartbeats while its child runs
                context.heartbeat()
                beats += 1
                time.sleep(0.05)
        except LeaseLost as exc:
            seen.append((beats, str(exc)))
            raise
        return {"beats": beats}

    class Beating:
        @hookimpl
        def register_job_types(self) -> list[JobType]:
            return [JobType("beating", beating, "Heartbeats in a loop.")]

    pm = make_pm(settings)
    pm.register(Beating(), name="beating-jobs")
    (job_id,) = add(engine, settings, "beating")
    claimed: list[Any] = []

    def other_worker() -> None:
        wait_for("the job to run", lambda: statuses(engine)[job_id] == "running", 10)

        wait_for("the rescue", lambda: expire_and_rescue(engine, settings, job_id), 10)
        # a claim skips rows another transaction has locked (SKIP LOCKED): the first
        # worker's heartbeat may hold the row for a moment, so poll as a worker does
        wait_for(
            "w2's claim",
            lambda: bool(claimed.extend(claim(engine, "w2", 1, settings)) or claimed),
            10,
        )

    thread = threading.Thread(target=other_worker)
    thread.start()
    try:
        counts = Worker(engine, pm, owner="w1").process_once(1)
    finally:
        thread.join()

    assert [(job.id, job.attempt) for job in claimed] == [(job_id, 2)]
    ((beats, message),) = seen
    assert 0 < beats < most
    assert message == (
        f"job {job_id} (beating), attempt 1: worker w1 lost its lease (it expired and the "
        "job was rescued, to run again); stop: the outcome of this attempt will be dropped"
    )
    assert (counts.claimed, counts.completed, counts.retried, counts.stale) == (1, 0, 0, 1)
    current = row(engine, job_id)
    assert (current.status, current.lease_owner, current.attempts) == ("running", "w2", 2)
    assert attempts_of(engine, job_id) == [(1, "expired")]
