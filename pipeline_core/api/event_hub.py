"""The wake-up thread of an API process's event streams (``/api/v1/pipeline/events``).

On PostgreSQL it listens on :data:`~pipeline_core.queue.events.EVENTS_CHANNEL` (and wakes
the streams each poll interval in case a notification was lost); on SQLite it wakes them
each poll interval. The streams then read what is new themselves.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading

import sqlalchemy as sa

from pipeline_core.queue.events import EVENTS_CHANNEL


class EventHub:
    """Wakes the event streams of one app when new events may be there (one thread)."""

    def __init__(self, engine: sa.Engine, interval: float) -> None:
        self.engine = engine
        self.interval = interval
        self._waiters: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def subscribe(self) -> tuple[asyncio.AbstractEventLoop, asyncio.Event]:
        """A new stream's wake-up event (the thread starts with the first stream)."""
        waiter = (asyncio.get_running_loop(), asyncio.Event())
        with self._lock:
            self._waiters.add(waiter)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="event-hub", daemon=True)
                self._thread.start()
        return waiter

    def unsubscribe(self, waiter: tuple[asyncio.AbstractEventLoop, asyncio.Event]) -> None:
        """Forget a stream that ended."""
        with self._lock:
            self._waiters.discard(waiter)

    def _run(self) -> None:
        from pipeline_core.queue.wakeup import Listener

        engine = self.engine
        interval = self.interval
        listener = None
        if engine.dialect.name == "postgresql":
            listener = Listener(engine.url, EVENTS_CHANNEL)
        try:
            while not self._stop.is_set():
                if listener is None:
                    self._stop.wait(interval)
                else:
                    listener.wait(interval, self._stop)
                with self._lock:
                    waiters = list(self._waiters)
                for loop, event in waiters:
                    with contextlib.suppress(RuntimeError):  # its loop has closed
                        loop.call_soon_threadsafe(event.set)
        finally:
            if listener is not None:
                listener.close()

    def close(self) -> None:
        """Stop the thread (the app is shutting down)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
