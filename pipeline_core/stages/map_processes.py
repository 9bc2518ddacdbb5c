"""Map, hash and validate raw records in worker processes, off the crawl's thread.

A crawl's process runs Scrapy (fetching, parsing pages, the item machinery) on one thread;
mapping a record, hashing and validating it is Python work of about the same size. With
:class:`MapProcesses` the crawl sends raw records, in batches, to a small pool of worker
processes (``concurrent.futures.ProcessPoolExecutor``, spawn) that each compiled the
source's mapping once; they send back one :class:`~pipeline_core.stages.mapping_outcome.
MapOutcome` per record (the mapped record, its kept values, its hash and schema issues, or
its error), which the crawl's stage session takes in, in the order the records came
(:meth:`StageSession.take_mapped`): the counts, error rows (naming source, record and
field) and repeats are the same as when the crawl maps the records itself.

Memory stays bounded: a batch is at most ``batch_size`` records, and Scrapy bounds the
records in flight (``CONCURRENT_ITEMS`` per response, the scraper's active size). Should a
worker fail (it died, a value would not pickle), the records of the batches it held are
mapped in the crawl's own thread, and so are all later ones.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import multiprocessing
import resource
import signal
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from functools import partial
from typing import Any

from pipeline_core.items import ListingItem, RawRecord
from pipeline_core.mapping import CompiledMapping, MappingDocument
from pipeline_core.mapping.memo import MemoStats
from pipeline_core.stages.mapping_outcome import MapOutcome, map_record

logger = logging.getLogger(__name__)

#: The worker's compiled mapping (set by :func:`_start`).
_mapping: CompiledMapping | None = None


def _start(doc: MappingDocument, gc_thresholds: tuple[int, ...] | None) -> None:
    """Worker start-up: compile the mapping with the installed plugins' transforms; freeze
    what exists then out of the collector's sight and collect as the crawl does.

    SIGINT and SIGTERM, which a terminal or a service manager sends to the whole process
    group, are ignored: the crawl's process shuts down gracefully and closes the pool.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    from pipeline_core.plugins import get_plugin_manager

    global _mapping
    _mapping = CompiledMapping(doc, get_plugin_manager().transforms())
    if gc_thresholds:
        gc.freeze()
        gc.set_threshold(*gc_thresholds)


def map_batch(
    records: list[tuple[Any, str | None]],
) -> tuple[list[MapOutcome], int, int, int]:
    """In a worker: map, hash and validate each (payload, id) of a batch; the outcomes, the
    memos' hits and misses over the batch, and the worker's peak RSS (KiB)."""
    mapping = _mapping
    assert mapping is not None, "the worker has no mapping"
    before = mapping.memo_stats()
    outcomes = [map_record(mapping, payload, eid, checks=True) for payload, eid in records]
    for outcome in outcomes:
        outcome.encode_record()
    after = mapping.memo_stats()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return outcomes, after.hits - before.hits, after.misses - before.misses, peak


Waiting = tuple[RawRecord, "asyncio.Future[ListingItem | None]"]


class MapProcesses:
    """Batches raw records for the worker processes; hands back each record's listing.

    ``take`` is the stage session's :meth:`take_mapped`; ``fallback`` its :meth:`map`
    (used for records whose batch a worker could not map).
    """

    def __init__(
        self,
        doc: MappingDocument,
        take: Callable[[RawRecord, MapOutcome], ListingItem | None],
        fallback: Callable[[RawRecord], ListingItem | None],
        *,
        processes: int = 1,
        batch_size: int = 100,
        delay: float = 0.002,
        gc_thresholds: tuple[int, ...] | None = None,
    ) -> None:
        self.doc = doc
        self.take = take
        self.fallback = fallback
        self.processes = processes
        self.batch_size = batch_size
        self.delay = delay
        self.gc_thresholds = gc_thresholds
        self.memo = MemoStats()
        #: The largest peak RSS (KiB) a worker reported.
        self.peak_rss_kib = 0
        self._executor: ProcessPoolExecutor | None = None
        self._broken = False
        self._batch: list[Waiting] = []
        self._timer: asyncio.TimerHandle | None = None
        #: Batches sent, oldest first: answered in this order.
        self._sent: deque[tuple[list[Waiting], Future[Any]]] = deque()
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def working(self) -> bool:
        """False once a worker failed: records are then mapped in the crawl's thread."""
        return not self._broken

    def map(self, raw: RawRecord) -> asyncio.Future[ListingItem | None]:
        """The listing of ``raw`` (None when it could not be mapped), once its batch is
        back. Call from the crawl's event loop."""
        loop = self._loop = asyncio.get_running_loop()
        waiting: asyncio.Future[ListingItem | None] = loop.create_future()
        self._batch.append((raw, waiting))
        if len(self._batch) >= self.batch_size:
            self._send()
        elif self._timer is None:
            self._timer = loop.call_later(self.delay, self._send)
        return waiting

    def _send(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        batch, self._batch = self._batch, []
        if not batch:
            return
        if self._broken:  # answered here, after the batches still out
            stopped: Future[Any] = Future()
            stopped.set_exception(RuntimeError("the map processes stopped"))
            self._sent.append((batch, stopped))
            self._answer()
            return
        try:
            if self._executor is None:
                self._executor = ProcessPoolExecutor(
                    self.processes,
                    mp_context=multiprocessing.get_context("spawn"),
                    initializer=_start,
                    initargs=(self.doc, self.gc_thresholds),
                )
            future = self._executor.submit(
                map_batch, [(raw.payload, raw.external_id) for raw, _ in batch]
            )
        except Exception as exc:  # the pool cannot start or take work
            self._fail(exc)
            self._answer_here(batch)
            return
        self._sent.append((batch, future))
        loop = self._loop
        assert loop is not None
        future.add_done_callback(lambda _: loop.call_soon_threadsafe(self._answer))

    def _answer(self) -> None:
        """Hand back the batches that are done, oldest first, stopping at one still out."""
        while self._sent and self._sent[0][1].done():
            batch, future = self._sent.popleft()
            try:
                outcomes, hits, misses, peak = future.result()
            except Exception as exc:
                self._fail(exc)
                self._answer_here(batch)
                continue
            self.memo.hits += hits
            self.peak_rss_kib = max(self.peak_rss_kib, peak)
            self.memo.misses += misses
            for (raw, waiting), outcome in zip(batch, outcomes, strict=True):
                self._settle(waiting, partial(self.take, raw, outcome))

    def _answer_here(self, batch: list[Waiting]) -> None:
        for raw, waiting in batch:
            self._settle(waiting, partial(self.fallback, raw))

    @staticmethod
    def _settle(
        waiting: asyncio.Future[ListingItem | None], make: Callable[[], ListingItem | None]
    ) -> None:
        if waiting.cancelled():
            return
        try:
            waiting.set_result(make())
        except Exception as exc:  # the item pipeline's own failure, as if raised there
            waiting.set_exception(exc)

    def _fail(self, exc: BaseException) -> None:
        if not self._broken:
            logger.warning(
                "%s: a map process failed (%s: %s); records are mapped in the crawl's "
                "process from here on",
                self.doc.source,
                type(exc).__name__,
                exc,
            )
        self._broken = True

    async def drain(self) -> None:
        """Send the batch being filled and wait until every batch is answered."""
        self._send()
        while self._sent:
            await asyncio.wrap_future(self._sent[-1][1])
            self._answer()
            await asyncio.sleep(0)

    def close(self) -> None:
        """Stop the worker processes (after :meth:`drain`)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None
