"""``/api/v1/pipeline/events``: a WebSocket that streams job events as they are committed.

Every message is one JSON object with a ``kind``:

- ``hello``: sent first; ``last_event_id`` is where the stream starts.
- ``skipped``: the client asked to resume further back than ``PIPELINE_EVENTS_REPLAY``
  events; ``from`` and ``to`` name the ids it will not get.
- ``job``: one job event (:func:`~pipeline_core.queue.events.event_json`): ``id``,
  ``job_id``, ``state``, ``type``, ``source``, ``dmo``, ``attempt``, ``correlation_id``,
  ``at`` and its timings.

Events come from ``pipeline.job_events``, so every API process sees every worker's events.
A :class:`~pipeline_core.api.event_hub.EventHub` per app wakes its streams: on PostgreSQL when
:data:`~pipeline_core.queue.events.EVENTS_CHANNEL` is notified (and each
``PIPELINE_POLL_INTERVAL`` in case a notification was lost), on SQLite each poll interval.
Each stream then reads the events after the last it sent (:class:`EventCursor`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import TYPE_CHECKING, Any

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.websockets import WebSocket, WebSocketDisconnect

from pipeline_core.api.auth import check_key, presented_secret
from pipeline_core.api.problems import Problem
from pipeline_core.queue.events import event_json, newest_id, read_after

if TYPE_CHECKING:
    from pipeline_core.api.state import ApiState

logger = logging.getLogger(__name__)

PATH = "/api/v1/pipeline/events"
#: Seconds a stream waits for a missing event id (a transaction that took its id before
#: another's but commits after it) before it goes on without it (rolled back).
GAP_WAIT = 2.0
#: Events a stream reads at once.
READ_BATCH = 500


class EventCursor:
    """The position of one stream in ``pipeline.job_events``, and its DMO filter.

    Ids are handed out when rows are inserted, not when they commit: a reader may see id 12
    before id 11. The cursor goes past an id only once it was seen, or once it has been
    missing ``GAP_WAIT`` seconds (its transaction was rolled back), so a client that
    resumes after the last id it was sent misses nothing that committed.
    """

    def __init__(self, after: int, dmo: str | None) -> None:
        self.after = after
        self.dmo = dmo
        self._gap_since: float | None = None

    @property
    def waiting(self) -> bool:
        """True while the cursor waits for a missing id."""
        return self._gap_since is not None

    def take(self, rows: list[Any], now: float) -> list[Any]:
        """Rows of ``rows`` (ids above :attr:`after`, in order) the cursor goes past now,
        of its DMO."""
        out: list[Any] = []
        for row in rows:
            if row.id != self.after + 1:
                if self._gap_since is None:
                    self._gap_since = now
                if now - self._gap_since < GAP_WAIT:
                    break
            self._gap_since = None
            self.after = row.id
            if self.dmo is None or row.dmo == self.dmo:
                out.append(row)
        return out


def _start_after(websocket: WebSocket, state: ApiState) -> tuple[int, dict[str, Any] | None]:
    """Where a new stream starts: after ``last_event_id`` (at most
    ``PIPELINE_EVENTS_REPLAY`` events back), else after the newest event."""
    raw = websocket.query_params.get("last_event_id")
    unknown = sorted(set(websocket.query_params.keys()) - {"last_event_id"})
    if unknown:
        raise Problem(422, f"query {unknown[0]}: unknown parameter (accepted: last_event_id)")
    newest = newest_id(state.engine)
    if raw is None:
        return newest, None
    if not raw.isdigit() or len(raw) > 18:
        raise Problem(422, f"query last_event_id: {raw!r} is not a whole number, 0 or more")
    after = int(raw)
    floor = newest - state.settings.events_replay
    if after < floor:
        return floor, {"kind": "skipped", "from": after + 1, "to": floor}
    return min(after, newest), None


async def _send(websocket: WebSocket, message: dict[str, Any]) -> None:
    await websocket.send_text(orjson.dumps(message).decode())


async def events_socket(websocket: WebSocket) -> None:
    """The WebSocket handler: authenticate (viewer; a DMO-scoped key sees its DMO's jobs
    only), then stream events until the client goes."""
    state: ApiState = websocket.app.state.api
    await websocket.accept()
    where = f"WebSocket {PATH} from {websocket.client.host if websocket.client else '?'}"
    try:
        secret = presented_secret(websocket)
        if secret is None and "key" in websocket.query_params:
            raise Problem(401, "no key in the URL (logs keep URLs): Authorization or the cookie")
        if secret is None:
            raise Problem(
                401, "this route needs a key: Authorization: Bearer KEY or the dashboard cookie"
            )
        key = await check_key(state, secret, "viewer", where)
        after, skipped = await run_in_threadpool(_start_after, websocket, state)
    except Problem as problem:
        await websocket.close(code=4000 + problem.status, reason=problem.detail[:120])
        return
    cursor = EventCursor(after, key.dmo)
    await _send(websocket, {"kind": "hello", "last_event_id": after})
    if skipped is not None:
        await _send(websocket, skipped)
    hub = state.event_hub()
    waiter = hub.subscribe()
    gone = asyncio.ensure_future(_until_gone(websocket))
    try:
        while not gone.done():
            waiter[1].clear()  # before reading: a wake-up during the read is kept
            rows = await run_in_threadpool(read_after, state.engine, cursor.after, READ_BATCH)
            for row in cursor.take(rows, time.monotonic()):
                await _send(websocket, {"kind": "job", **event_json(row)})
            if len(rows) == READ_BATCH and not cursor.waiting:
                continue  # more to catch up with
            wake = asyncio.ensure_future(waiter[1].wait())
            timeout = 0.25 if cursor.waiting else None
            await asyncio.wait({wake, gone}, timeout=timeout, return_when="FIRST_COMPLETED")
            wake.cancel()
    except (WebSocketDisconnect, RuntimeError):
        pass  # the client went while we were sending
    finally:
        hub.unsubscribe(waiter)
        gone.cancel()


async def _until_gone(websocket: WebSocket) -> None:
    """Read (and drop) what the client sends, until it disconnects."""
    with contextlib.suppress(WebSocketDisconnect, RuntimeError):
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
