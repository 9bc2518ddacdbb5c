"""PostgreSQL ``LISTEN``: one connection per process that waits for a channel's
notifications (:mod:`pipeline_core.queue.events` sends them at the commit of a change).

An idle worker waits on :data:`~pipeline_core.queue.events.QUEUED_CHANNEL` instead of
sleeping its poll interval, and API processes wait on
:data:`~pipeline_core.queue.events.EVENTS_CHANNEL`. The poll interval stays the upper bound:
a lost connection (a database restart) is logged, the waiter falls back to sleeping, and the
next wait connects again.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import psycopg
import sqlalchemy as sa
from psycopg import sql

logger = logging.getLogger(__name__)

#: Seconds between two looks at the stop event while waiting for a notification.
STOP_CHECK = 0.5


def libpq_url(url: str | sa.URL) -> str:
    """A SQLAlchemy PostgreSQL URL (``postgresql+psycopg://``) as libpq takes it."""
    return sa.make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


class Listener:
    """A connection LISTENing on ``channel``; :meth:`wait` returns at the first notification."""

    def __init__(self, url: str | sa.URL, channel: str) -> None:
        self.url = libpq_url(url)
        self.channel = channel
        self._conn: psycopg.Connection[Any] | None = None
        self._failed = False

    @property
    def connected(self) -> bool:
        """True while the connection is open and LISTENing."""
        return self._conn is not None and not self._conn.closed

    def connect(self) -> bool:
        """Open the connection and LISTEN, when not done yet; False when the database is
        away (logged once until it is back)."""
        if self.connected:
            return True
        try:
            conn = psycopg.connect(self.url, autocommit=True, connect_timeout=10)
            conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self.channel)))
        except psycopg.Error as exc:
            if not self._failed:
                logger.warning("LISTEN %s failed (polling instead): %s", self.channel, exc)
            self._failed = True
            return False
        if self._failed:
            logger.info("LISTEN %s works again", self.channel)
        self._failed = False
        self._conn = conn
        return True

    def wait(self, timeout: float, stop: threading.Event | None = None) -> bool:
        """Wait up to ``timeout`` seconds for a notification (True), or for ``stop``;
        notifications that came meanwhile are taken too, so one wait takes them all."""
        deadline = time.monotonic() + timeout
        if not self.connect():
            if stop is not None:
                stop.wait(timeout)
            else:
                time.sleep(timeout)
            return False
        assert self._conn is not None
        while stop is None or not stop.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            try:
                got = list(self._conn.notifies(timeout=min(left, STOP_CHECK), stop_after=1))
                if got:
                    list(self._conn.notifies(timeout=0.0))  # the ones queued behind it
                    return True
            except psycopg.Error as exc:
                logger.warning("LISTEN %s lost its connection: %s", self.channel, exc)
                self.close()
                self._failed = True
                rest = max(0.0, deadline - time.monotonic())
                if stop is not None:
                    stop.wait(rest)
                else:
                    time.sleep(rest)
                return False
        return False

    def close(self) -> None:
        """Close the connection (the next :meth:`wait` opens a new one)."""
        if self._conn is not None:
            try:
                self._conn.close()
            except psycopg.Error:  # pragma: no cover - closing a broken connection
                pass
            self._conn = None
