"""``WorkerWatch``: the crawl of a ``scrape`` job stops when its worker process dies.

On when the Scrapy setting ``PIPELINE_WORKER_PID`` is set: the ``scrape`` job runs its
crawl with it set to the worker's process id. A worker that is killed outright (SIGKILL,
the OOM killer) cannot stop its crawl, so the crawl watches the worker: every
:data:`CHECK_EVERY` seconds it asks for its parent process, which is no longer the worker
once the worker has died (the orphan was handed to another parent). The spider is then
closed with the reason :data:`REASON`, as a shutdown closes it: no new request goes out,
what is being downloaded is finished, and the crawl row is closed as not complete. A
crawl that has not ended :data:`STOP_WAIT` seconds later (a download that hangs) closes
its crawl row with the same reason and ends at once (on SIGALRM), as the worker kills a
crawl it stops that long after SIGTERM and closes its row.

Asking for the parent works on every POSIX system, notices the death of the worker
process (not of one of its threads) and notices it once: Linux's parent-death signal can
come more than once (the orphan is handed from thread to thread of the dying worker), and
a second SIGTERM makes Scrapy stop without closing anything.
"""

from __future__ import annotations

import logging
import os
import signal
from types import FrameType
from typing import Any

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.utils.defer import deferred_from_coro
from twisted.internet import task

from pipeline_core.stages.crawl import close_unfinished_crawl

logger = logging.getLogger(__name__)

SETTING = "PIPELINE_WORKER_PID"
#: Seconds between two looks at the parent process.
CHECK_EVERY = 0.5
#: Seconds the crawl gets to close after its worker died before it is ended at once.
STOP_WAIT = 5.0
#: The close reason of a crawl whose worker died (the crawl row's ``finish_reason``).
REASON = "worker died"


class WorkerWatch:
    """Closes the spider once the process ``worker`` is no longer this one's parent."""

    def __init__(self, crawler: Crawler, worker: int) -> None:
        self.crawler = crawler
        self.worker = worker
        self.loop: task.LoopingCall | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> WorkerWatch:
        value = crawler.settings.get(SETTING)
        if not value:  # a crawl not run by a job: no message, so Scrapy logs no warning
            raise NotConfigured
        try:
            worker = int(value)
        except ValueError:
            raise NotConfigured(f"{SETTING} is not a process id: {value!r}") from None
        watch = cls(crawler, worker)
        crawler.signals.connect(watch.opened, signal=signals.spider_opened)
        crawler.signals.connect(watch.closed, signal=signals.spider_closed)
        return watch

    def opened(self, spider: Any) -> None:
        """Start looking (at once: the worker may have died while the crawl started)."""
        self.loop = task.LoopingCall(self.check)
        self.loop.start(CHECK_EVERY, now=True)

    def check(self) -> None:
        """Close the spider when the worker is no longer the parent of this process."""
        if os.getppid() == self.worker:
            return
        self.closed(None)
        logger.warning(
            "the worker (process %d) died: stopping the crawl, at the latest in %g s",
            self.worker,
            STOP_WAIT,
        )
        if hasattr(signal, "setitimer"):  # POSIX
            signal.signal(signal.SIGALRM, self.give_up)
            signal.setitimer(signal.ITIMER_REAL, STOP_WAIT)
        engine = self.crawler.engine
        assert engine is not None
        closing = deferred_from_coro(engine.close_spider_async(reason=REASON))
        closing.addErrback(lambda failure: logger.error("closing the spider failed: %s", failure))

    def give_up(self, signum: int, frame: FrameType | None) -> None:
        """The spider did not close within :data:`STOP_WAIT` seconds: close the crawl row
        (not complete, nothing withdrawn) and end the process now."""
        logger.error("the crawl did not stop within %g s of its worker's death", STOP_WAIT)
        session = getattr(self.crawler, "dmo_session", None)
        crawl = getattr(session, "crawl", None)
        try:
            if session is not None and crawl is not None:
                with session.engine.begin() as conn:
                    close_unfinished_crawl(conn, crawl.id, REASON)
        except Exception:
            logger.exception("closing crawl %s failed", getattr(crawl, "id", "?"))
        finally:
            os._exit(1)

    def closed(self, spider: Any) -> None:
        """Stop looking."""
        if self.loop is not None and self.loop.running:
            self.loop.stop()
