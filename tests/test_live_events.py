"""Live job status: ``pipeline.job_events`` written with each change of a job's state, the
``/api/v1/pipeline/events`` WebSocket (keys, DMO scope, resuming after the last event id),
and idle workers woken by PostgreSQL's NOTIFY."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from api_kit import PREFIX, api_settings, app_maker, bearer, http_client
from starlette.websockets import WebSocketDisconnect

from pipeline_core.api.auth import COOKIE
from pipeline_core.api.events import EventCursor
from pipeline_core.db.engine import make_engine
from pipeline_core.db.tables import job_events, queue
from pipeline_core.operations.keys import create_key
from pipeline_core.plugins import get_plugin_manager
from pipeline_core.queue.enqueue import enqueue
from pipeline_core.queue.worker import DatabaseFeed, Worker

EVENTS = PREFIX + "/events"
OWN, OTHER = "visit-own", "visit-other"


@pytest.fixture
def make_app(db_url: str, tmp_path: Path) -> Iterator[Callable[..., Any]]:
    yield from app_maker(db_url, tmp_path)


def _jobs(ws: Any, count: int) -> list[dict[str, Any]]:
    """The next ``count`` job events a WebSocket sends."""
    got = []
    while len(got) < count:
        message = ws.receive_json()
        assert message["kind"] == "job", message
        got.append(message)
    return got


def _queue_and_process(client: Any, key: str) -> int:
    added = client.post(PREFIX + "/queue", json={"type": "noop"}, headers=bearer(key))
    assert added.status_code == 201, added.text
    done = client.post(PREFIX + "/queue/process", json={"budget_seconds": 5}, headers=bearer(key))
    assert done.status_code == 200, done.text
    assert [(j["id"], j["status"]) for j in done.json()["jobs"]] == [
        (added.json()["id"], "completed")
    ]
    return int(added.json()["id"])


@pytest.mark.timeout(120)
def test_a_job_processed_through_the_api_streams_queued_running_completed(
    make_app: Any,
) -> None:
    app = make_app(PIPELINE_POLL_INTERVAL="0.2")
    engine = app.state.api.engine
    own = create_key(engine, role="operator", dmo=OWN)[1]
    viewer = create_key(engine, role="viewer", dmo=OWN)[1]
    other = create_key(engine, role="operator", dmo=OTHER)[1]
    client = http_client(app)
    with (
        client.websocket_connect(EVENTS, headers=bearer(viewer)) as mine,
        client.websocket_connect(EVENTS, headers=bearer(other)) as theirs,
    ):
        assert mine.receive_json() == {"kind": "hello", "last_event_id": 0}
        assert theirs.receive_json() == {"kind": "hello", "last_event_id": 0}
        job_id = _queue_and_process(client, own)
        events = _jobs(mine, 3)
        assert [(e["job_id"], e["state"], e["attempt"]) for e in events] == [
            (job_id, "queued", 0),
            (job_id, "running", 1),
            (job_id, "completed", 1),
        ]
        assert [e["id"] for e in events] == [1, 2, 3]
        with engine.connect() as conn:
            correlation = conn.execute(
                sa.select(queue.c.correlation_id).where(queue.c.id == job_id)
            ).scalar()
        for event in events:
            assert event["type"] == "noop"
            assert event["dmo"] == OWN
            assert event["source"] is None
            assert event["correlation_id"] == correlation
        assert events[1]["queued_at"] is not None
        completed = events[2]
        assert completed["duration_ms"] >= 0
        assert completed["started_at"] <= completed["finished_at"]
        # The other DMO's key saw none of it: the first event it gets is its own job's.
        their_job = _queue_and_process(client, other)
        assert [(e["id"], e["job_id"], e["state"]) for e in _jobs(theirs, 3)] == [
            (4, their_job, "queued"),
            (5, their_job, "running"),
            (6, their_job, "completed"),
        ]
        # ... and the first key none of the other DMO's: its next event is of its own job.
        again = _queue_and_process(client, own)
        assert [(e["id"], e["job_id"]) for e in _jobs(mine, 1)] == [(7, again)]


@pytest.mark.timeout(120)
def test_a_client_that_reconnects_with_its_last_event_id_gets_what_it_missed(
    make_app: Any,
) -> None:
    app = make_app(PIPELINE_POLL_INTERVAL="0.2", PIPELINE_EVENTS_REPLAY="3")
    engine = app.state.api.engine
    key = create_key(engine, role="operator", dmo=OWN)[1]
    client = http_client(app)
    with client.websocket_connect(EVENTS, headers=bearer(key)) as ws:
        ws.receive_json()
        first = _queue_and_process(client, key)
        seen = _jobs(ws, 1)
    assert seen[0]["state"] == "queued"
    # Gone after the queued event: running and completed, then a whole job, are missed.
    second = _queue_and_process(client, key)
    with client.websocket_connect(
        f"{EVENTS}?last_event_id={seen[0]['id']}", headers=bearer(key)
    ) as ws:
        assert ws.receive_json() == {"kind": "hello", "last_event_id": 3}
        assert ws.receive_json() == {"kind": "skipped", "from": 2, "to": 3}
        assert [(e["job_id"], e["state"]) for e in _jobs(ws, 3)] == [
            (second, "queued"),
            (second, "running"),
            (second, "completed"),
        ]
    # Within PIPELINE_EVENTS_REPLAY, nothing is skipped.
    with client.websocket_connect(f"{EVENTS}?last_event_id=4", headers=bearer(key)) as ws:
        assert ws.receive_json() == {"kind": "hello", "last_event_id": 4}
        assert [(e["id"], e["job_id"], e["state"]) for e in _jobs(ws, 2)] == [
            (5, second, "running"),
            (6, second, "completed"),
        ]
    assert first < second


@pytest.mark.timeout(120)
def test_events_of_another_api_process_and_a_worker_reach_the_stream(
    make_app: Any, db_url: str, tmp_path: Path
) -> None:
    """Two apps on one database (two API processes): a job queued and processed through the
    second, and one run by a worker, stream through the first."""
    watched = make_app(PIPELINE_POLL_INTERVAL="0.2")
    other = make_app(PIPELINE_POLL_INTERVAL="0.2")
    engine = watched.state.api.engine
    key = create_key(engine, role="operator")[1]
    with http_client(watched).websocket_connect(EVENTS, headers=bearer(key)) as ws:
        assert ws.receive_json()["kind"] == "hello"
        job_id = _queue_and_process(http_client(other), key)
        assert [(e["job_id"], e["state"]) for e in _jobs(ws, 3)] == [
            (job_id, "queued"),
            (job_id, "running"),
            (job_id, "completed"),
        ]
        settings = api_settings(db_url, tmp_path)
        with engine.begin() as conn:
            worked = enqueue(conn, "noop", {"source": "s9"}, settings=settings, dmo=OWN)
        worker_engine = make_engine(db_url)
        Worker(worker_engine, get_plugin_manager(settings), once=True).process_once(10)
        worker_engine.dispose()
        assert [(e["job_id"], e["state"], e["source"]) for e in _jobs(ws, 3)] == [
            (worked, "queued", "s9"),
            (worked, "running", "s9"),
            (worked, "completed", "s9"),
        ]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_events_socket_needs_a_key_from_this_site(make_app: Any) -> None:
    app = make_app()
    key = create_key(app.state.api.engine, role="viewer")[1]
    client = http_client(app)
    refusals = {
        "none": ({}, EVENTS),
        "unknown": (bearer("dmo_nope"), EVENTS),
        "query key": ({}, f"{EVENTS}?key={key}"),
        "bad id": (bearer(key), f"{EVENTS}?last_event_id=x"),
        "foreign page": ({"cookie": f"{COOKIE}={key}", "origin": "http://evil.example"}, EVENTS),
    }
    codes = {}
    reasons = {}
    for name, (headers, url) in refusals.items():
        with client.websocket_connect(url, headers=headers) as ws:
            with pytest.raises(WebSocketDisconnect) as closed:
                ws.receive_json()
            codes[name] = closed.value.code
            reasons[name] = closed.value.reason
    assert reasons["query key"] == "no key in the URL (logs keep URLs): Authorization or the cookie"
    assert reasons["bad id"] == "query last_event_id: 'x' is not a whole number, 0 or more"
    assert codes == {
        "none": 4401,
        "unknown": 4401,
        "query key": 4401,
        "bad id": 4422,
        "foreign page": 4401,
    }
    # The dashboard's cookie, from this site's page: accepted.
    with client.websocket_connect(
        EVENTS, headers={"cookie": f"{COOKIE}={key}", "origin": "http://testserver"}
    ) as ws:
        assert ws.receive_json() == {"kind": "hello", "last_event_id": 0}


def test_every_change_of_state_is_an_event(engine: sa.Engine, tmp_path: Path) -> None:
    """Retried, dead-lettered and retried-by-hand jobs, with their attempts."""
    from pipeline_core.queue.finish import finish
    from pipeline_core.queue.job import Outcome
    from pipeline_core.queue.store import claim, retry_job

    settings = api_settings(
        engine.url.render_as_string(hide_password=False), tmp_path, PIPELINE_RETRY_BACKOFF="0.01"
    )
    with engine.begin() as conn:
        job_id = enqueue(conn, "noop", {"source": "s1"}, settings=settings, max_attempts=2)
    assert job_id is not None
    for _ in range(2):
        (job,) = claim(engine, "w1", 1, settings)
        now = time.time()
        from datetime import UTC, datetime

        at = datetime.fromtimestamp(now, UTC)
        finish(engine, [Outcome(job, at, at, error="boom")], settings)
        time.sleep(0.05)
    retry_job(engine, job_id, settings, 1)
    with engine.connect() as conn:
        rows = conn.execute(sa.select(job_events).order_by(job_events.c.id)).all()
    assert [(r.state, r.attempt, r.source) for r in rows] == [
        ("queued", 0, "s1"),
        ("running", 1, "s1"),
        ("failed", 1, "s1"),
        ("running", 2, "s1"),
        ("dead_lettered", 2, "s1"),
        ("queued", 2, "s1"),
    ]
    assert rows[2].detail["error"] == "boom"
    assert rows[2].detail["retry_in_s"] > 0
    assert rows[5].detail == {"reason": "retry by hand"}


def test_a_cursor_waits_for_an_id_a_slower_transaction_holds() -> None:
    class Row:
        def __init__(self, id: int, dmo: str | None = None) -> None:
            self.id, self.dmo = id, dmo

    cursor = EventCursor(10, None)
    assert [r.id for r in cursor.take([Row(11), Row(13)], now=0.0)] == [11]
    assert cursor.waiting and cursor.after == 11
    assert cursor.take([Row(13)], now=1.0) == []  # 12 may still commit
    assert [r.id for r in cursor.take([Row(12), Row(13)], now=1.5)] == [12, 13]
    assert not cursor.waiting
    assert cursor.take([Row(15)], now=2.0) == []
    assert [r.id for r in cursor.take([Row(15)], now=4.5)] == [15]  # 14 was rolled back
    scoped = EventCursor(0, "a")
    assert [r.id for r in scoped.take([Row(1, "a"), Row(2, "b"), Row(3, "a")], 0.0)] == [1, 3]
    assert scoped.after == 3


@pytest.mark.postgres
@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
@pytest.mark.timeout(120)
def test_an_idle_worker_is_woken_by_notify_before_its_poll_interval(
    db_url: str, tmp_path: Path
) -> None:
    settings = api_settings(db_url, tmp_path, PIPELINE_POLL_INTERVAL="30")
    engine = make_engine(db_url)
    worker = Worker(engine, get_plugin_manager(settings))
    assert isinstance(worker.feed, DatabaseFeed) and worker.feed.listener is not None
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()

    def run_one() -> float:
        began = time.monotonic()
        with engine.begin() as conn:
            job_id = enqueue(conn, "noop", {}, settings=settings)
        while time.monotonic() - began < 20:
            with engine.connect() as conn:
                status = conn.execute(
                    sa.select(queue.c.status).where(queue.c.id == job_id)
                ).scalar()
            if status == "completed":
                return time.monotonic() - began
            time.sleep(0.05)
        raise AssertionError(f"job {job_id} is {status} after 20 s")

    try:
        run_one()  # the worker is running its loop
        time.sleep(1.0)  # ... and now waits: its next poll is 30 s away
        took = run_one()
    finally:
        worker.request_stop()
        thread.join(30)
        engine.dispose()
    assert took < 20  # woken by the notification: a poll would have taken 29 s more
    assert not thread.is_alive()
    assert worker.feed.listener is not None and not worker.feed.listener.connected


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_sqlite_workers_poll(db_url: str, tmp_path: Path) -> None:
    settings = api_settings(db_url, tmp_path)
    feed = DatabaseFeed(make_engine(db_url), settings)
    assert feed.listener is None
    off = api_settings(db_url, tmp_path, PIPELINE_QUEUE_NOTIFY="false")
    assert off.queue_notify is False
