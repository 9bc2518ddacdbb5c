"""The worker: claims jobs in batches, runs them in this process, finishes them in batches.

One :class:`Worker` per process. Its loop asks a :class:`JobFeed` for claimed jobs (the
default, :class:`DatabaseFeed`, claims due jobs from ``pipeline.queue``; with
``PIPELINE_ENABLE_QUEUES=true`` the :class:`~pipeline_core.queue.sqs_feed.SqsFeed`
relays the outbox, long-polls SQS and claims the announced jobs by id), runs each
handler with a :class:`~pipeline_core.jobtypes.JobContext`, and commits the outcomes of
several jobs in one transaction. A supervisor thread heartbeats the leases of every job
the worker holds, commits finished outcomes early when a job runs long, and enforces the
shutdown grace period.

Claiming and finishing in batches is what makes the queue fast; the batch grows while
jobs are quick (up to ``max_batch``) and shrinks when they are slow. A worker claims only
what it can run: once the running job has run ``GIVE_BACK_WHEN_SLOW`` seconds, the
supervisor releases the batch's jobs not started yet (other workers take them) and the
next claim is of one job.

A job of a type named in ``PIPELINE_JOB_TIMEOUTS`` that runs past its timeout is
cancelled (its handler sees :attr:`~pipeline_core.jobtypes.JobContext.cancelled`) and,
when the loop runs in the main thread and the handler is still running ``TIMEOUT_INTERRUPT``
seconds later, interrupted (:class:`~pipeline_core.exceptions.JobTimedOut` raised in it
by a SIGALRM handler). The attempt fails, and is retried like any failure.

SIGTERM (or SIGINT): stop claiming, release the claimed jobs not started yet, let the
running job finish within ``grace`` seconds, else cancel it (its handler sees
:attr:`~pipeline_core.jobtypes.JobContext.cancelled`; a scrape stops its crawl process),
release it and exit. A handler that does not stop within ``CANCEL_WAIT`` seconds ends with
the process, its job released all the same.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from types import FrameType
from typing import TYPE_CHECKING, Protocol

import sqlalchemy as sa

from pipeline_core.config import Settings
from pipeline_core.db.engine import database_away
from pipeline_core.exceptions import JobTimedOut, LeaseLost
from pipeline_core.metrics import setup_metrics
from pipeline_core.queue.events import QUEUED_CHANNEL, prune
from pipeline_core.queue.finish import finish
from pipeline_core.queue.job import ClaimedJob, FinishCounts, Outcome
from pipeline_core.queue.runner import (
    BatchCounts,
    error_message,
    notify_dead,
    run_job,
    worker_name,
)
from pipeline_core.queue.store import claim, heartbeat, release, rescue_expired
from pipeline_core.queue.wakeup import Listener

if TYPE_CHECKING:
    from pipeline_core.plugins import PipelineManager

logger = logging.getLogger(__name__)

#: Seconds a running job may take to finish after SIGTERM before it is cancelled.
SHUTDOWN_GRACE = 25.0
#: Seconds a cancelled job's handler gets to stop (a scrape stops its crawl process)
#: before the worker releases the job and exits regardless.
CANCEL_WAIT = 10.0
#: Outcomes are committed at the latest this many seconds after the previous commit ...
FLUSH_EVERY = 1.0
#: ... and as soon as the job now running has run this long (so a worker killed during a
#: slow job does not take the quick jobs before it down with it).
FLUSH_WHEN_SLOW = 0.2
#: Seconds between two log lines of a running worker's counts (when they changed).
REPORT_EVERY = 60.0
#: Largest batch a worker claims at once.
MAX_BATCH = 100
#: Seconds the running job may run before the batch's jobs not started yet are released.
GIVE_BACK_WHEN_SLOW = 1.0
#: Seconds a timed-out job's handler gets to stop on its cancellation before it is
#: interrupted (as a cancelled handler gets on shutdown: a scrape stops its crawl process).
TIMEOUT_INTERRUPT = CANCEL_WAIT
#: Seconds between two interruptions a timed-out handler survives.
INTERRUPT_AGAIN = 1.0


class JobFeed(Protocol):
    """Where a worker's jobs come from. ``next_jobs`` claims up to ``limit`` jobs for
    ``owner`` and returns them (possibly none); ``idle`` waits before the next try (it
    returns early when ``stop`` is set); ``done`` is told of the jobs the worker no longer
    holds (outcome committed, or released), e.g. to delete their messages."""

    def next_jobs(self, owner: str, limit: int) -> list[ClaimedJob]: ...

    def idle(self, stop: threading.Event) -> None: ...

    def done(self, jobs: Sequence[ClaimedJob]) -> None: ...


class DatabaseFeed:
    """Claims due jobs from ``pipeline.queue``; waits ``PIPELINE_POLL_INTERVAL`` when idle.

    On PostgreSQL with ``PIPELINE_QUEUE_NOTIFY`` (the default) the wait ends as soon as a
    job is queued: the feed LISTENs on :data:`~pipeline_core.queue.events.QUEUED_CHANNEL`
    from its first idle wait on, which returns at once (the worker claims again), so a job
    queued between a claim that found nothing and the LISTEN is not missed either.
    """

    def __init__(self, engine: sa.Engine, settings: Settings) -> None:
        self.engine = engine
        self.settings = settings
        self.listener: Listener | None = None
        if engine.dialect.name == "postgresql" and settings.queue_notify:
            self.listener = Listener(engine.url, QUEUED_CHANNEL)

    def next_jobs(self, owner: str, limit: int) -> list[ClaimedJob]:
        return claim(self.engine, owner, limit, self.settings)

    def idle(self, stop: threading.Event) -> None:
        if self.listener is None:
            stop.wait(self.settings.poll_interval)
        elif not self.listener.connected:
            if not self.listener.connect():  # the database is away: poll
                stop.wait(self.settings.poll_interval)
        else:
            self.listener.wait(self.settings.poll_interval, stop)

    def done(self, jobs: Sequence[ClaimedJob]) -> None:
        pass

    def close(self) -> None:
        """Close the LISTEN connection (when the worker stops)."""
        if self.listener is not None:
            self.listener.close()


def make_feed(engine: sa.Engine, settings: Settings, once: bool = False) -> JobFeed:
    """The feed a worker uses: SQS (:class:`~pipeline_core.queue.sqs_feed.SqsFeed`, which
    also relays the outbox) when ``PIPELINE_ENABLE_QUEUES`` is on, else the database. With
    ``once`` the SQS long poll is one second, so the worker exits soon when nothing is due."""
    if settings.enable_queues:
        from pipeline_core.queue.sqs_feed import SqsFeed

        return SqsFeed(engine, settings, wait_seconds=1) if once else SqsFeed(engine, settings)
    return DatabaseFeed(engine, settings)


class Worker:
    """One worker process's loop. :meth:`run` returns its counts when it stops."""

    def __init__(
        self,
        engine: sa.Engine,
        pm: PipelineManager,
        *,
        feed: JobFeed | None = None,
        once: bool = False,
        max_batch: int = MAX_BATCH,
        grace: float = SHUTDOWN_GRACE,
        owner: str | None = None,
    ) -> None:
        self.engine = engine
        self.pm = pm
        self.settings: Settings = pm.settings
        self.feed = feed or make_feed(engine, self.settings, once)
        self.once = once
        self.max_batch = max(1, max_batch)
        self.grace = grace
        self.owner = owner or worker_name()
        self.job_types = pm.job_types()
        self.counts = BatchCounts()
        self.stop = threading.Event()
        self.stop_requested_at: float | None = None
        self._lock = threading.Lock()  # guards held, pending and current
        self._flush_lock = threading.Lock()  # one finish transaction at a time
        self._held: dict[int, ClaimedJob] = {}
        #: (id, attempt) of held jobs whose lease a heartbeat found lost (rescued).
        self._lost: set[tuple[int, int]] = set()
        self._pending: list[Outcome] = []
        #: Ids of the jobs whose outcomes a flush is committing right now.
        self._finishing: set[int] = set()
        self._current: tuple[ClaimedJob, float] | None = None
        self._last_flush = time.monotonic()
        self._last_rescue = 0.0
        self._done = threading.Event()
        #: The running job's cancellation (set when the grace period is over).
        self._cancel = threading.Event()
        self._cancelled_at: float | None = None
        #: The running job's own cancellation (set on shutdown or when it times out).
        self._job_cancel = threading.Event()
        #: (id, attempt) of the running job once it has timed out; the last interruption.
        self._timed_out: tuple[int, int] | None = None
        self._interrupted_at = 0.0
        #: True while the main thread runs a handler (a SIGALRM may interrupt it then).
        self._in_handler = False
        self._gave_back = False
        #: process_once (``queue process``): the one batch asked for is run whole, never
        #: given back.
        self._one_batch = False
        #: The thread id of the loop when it runs in the main thread (SIGALRM goes there).
        self._main_thread: int | None = None

    # ------------------------------------------------------------------ control

    def request_stop(self, signum: int | None = None, _frame: FrameType | None = None) -> None:
        """Stop claiming; the running job gets ``grace`` seconds (called on SIGTERM)."""
        if not self.stop.is_set():
            logger.info("worker %s stopping (signal %s)", self.owner, signum)
            self.stop_requested_at = time.monotonic()
            self.stop.set()

    def _install_signals(self) -> None:
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, self.request_stop)
            signal.signal(signal.SIGINT, self.request_stop)
            signal.signal(signal.SIGALRM, self._interrupt)
            self._main_thread = threading.get_ident()

    # ------------------------------------------------------------------ loop

    def run(self) -> BatchCounts:
        """Process jobs until stopped (or, with ``once``, until no job is due)."""
        self._install_signals()
        logger.info(
            "worker %s started: job types %s", self.owner, ", ".join(sorted(self.job_types))
        )
        size = 1
        with self._supervised():
            while not self.stop.is_set():
                try:
                    self._maybe_rescue()
                    batch = self.feed.next_jobs(self.owner, size)
                except sa.exc.DBAPIError as exc:
                    # The database is away (restart, failover): wait and try again; the
                    # jobs this worker holds keep their leases or are rescued later.
                    logger.error("worker %s: the database failed: %s", self.owner, exc.orig)
                    self.stop.wait(self.settings.poll_interval)
                    continue
                except Exception:  # a full connection pool, a bad row: the worker goes on
                    logger.exception("worker %s: claiming jobs failed", self.owner)
                    self.stop.wait(self.settings.poll_interval)
                    continue
                if not batch:
                    if self.once:
                        break
                    self.feed.idle(self.stop)
                    continue
                began = time.monotonic()
                try:
                    self._run_batch(batch)
                except Exception:
                    logger.exception("worker %s: running a batch failed", self.owner)
                    self._give_back_unfinished()
                took = time.monotonic() - began
                if self._gave_back:  # a slow job: claim one at a time for now
                    self._gave_back = False
                    size = 1
                elif took < 0.25 and len(batch) == size:
                    size = min(self.max_batch, size * 2)
                elif took > 2.0:
                    size = max(1, size // 2)
        close = getattr(self.feed, "close", None)
        if close is not None:
            close()
        logger.info("worker %s stopped: %s", self.owner, self.counts.summary())
        return self.counts

    def process_once(self, batch_size: int) -> BatchCounts:
        """Rescue expired leases, claim one batch of up to ``batch_size`` jobs, run it
        (leases heartbeated) and commit it; no signal handlers are installed."""
        self._one_batch = True
        with self._supervised():
            self._last_rescue = 0.0
            self._maybe_rescue()
            batch = self.feed.next_jobs(self.owner, batch_size)
            if batch:
                self._run_batch(batch)
        return self.counts

    @contextmanager
    def _supervised(self) -> Iterator[None]:
        """Run the supervisor thread around a block; commit what is pending at its end."""
        self._done.clear()
        threads = [
            threading.Thread(target=self._supervise, name="queue-supervisor", daemon=True),
            threading.Thread(target=self._beat, name="queue-heartbeat", daemon=True),
        ]
        for thread in threads:
            thread.start()
        try:
            yield
        finally:
            self._final_flush()
            self._done.set()
            for thread in threads:
                thread.join(5)

    def _maybe_rescue(self) -> None:
        if time.monotonic() - self._last_rescue < self.settings.lease_seconds / 2:
            return
        self._last_rescue = time.monotonic()
        rescued = rescue_expired(self.engine, self.settings)
        self.counts.rescued += rescued.retried + rescued.dead_lettered
        notify_dead(self.pm, rescued.dead)
        hours = self.settings.events_keep_hours
        pruned = prune(self.engine, hours)
        if pruned:
            logger.info("deleted %d job events older than %g hours", pruned, hours)

    def _run_batch(self, batch: Sequence[ClaimedJob]) -> None:
        self.counts.claimed += len(batch)
        with self._lock:
            self._held.update((job.id, job) for job in batch)
        for index, job in enumerate(batch):
            if self.stop.is_set():
                with self._lock:
                    unstarted = [j for j in batch[index:] if self._held.get(j.id) is j]
                self._release(unstarted, "worker stopped before the job started")
                break
            with self._lock:
                if self._held.get(job.id) is not job:  # given back while a slow job ran
                    continue
                self._current = (job, time.monotonic())
                self._job_cancel = threading.Event()
                if self._cancel.is_set():
                    self._job_cancel.set()
            outcome = self._run_one(job)
            if self._timed_out == (job.id, job.attempt):
                outcome = self._timeout_outcome(job, outcome)
            elif self._cancel.is_set() and not outcome.ok:  # cancelled: the job goes back
                with self._lock:
                    self._current = None
                try:
                    self._release(
                        [job], f"worker stopped: not finished within {self.grace:g} s grace"
                    )
                except sa.exc.DBAPIError as exc:
                    logger.error(
                        "worker %s: releasing job %d failed; it is rescued when its lease "
                        "expires: %s",
                        self.owner,
                        job.id,
                        exc.orig,
                    )
                continue
            with self._lock:
                self._current = None
                self._pending.append(outcome)
            self.counts.by_type[job.type] = self.counts.by_type.get(job.type, 0) + 1
            if time.monotonic() - self._last_flush >= FLUSH_EVERY:
                self._try_flush()
        self._try_flush()

    def _run_one(self, job: ClaimedJob) -> Outcome:
        """Run one job's handler; a :class:`JobTimedOut` raised by :meth:`_interrupt`
        outside the handler (just after it returned) fails the job all the same."""
        started = datetime.now(UTC)
        try:
            self._in_handler = True
            outcome = run_job(
                job,
                self.job_types,
                self.engine,
                self.settings,
                heartbeat=lambda job=job: self._handler_heartbeat(job),  # type: ignore[misc]
                cancelled=self._job_cancel,
            )
            self._in_handler = False
        except JobTimedOut as exc:
            self._in_handler = False
            outcome = Outcome(job, started, datetime.now(UTC), error=str(exc))
        return outcome

    def _timeout_outcome(self, job: ClaimedJob, outcome: Outcome) -> Outcome:
        """The failed outcome of a job that timed out, whatever its handler returned."""
        self._timed_out = None
        seconds = self.settings.job_timeouts.get(job.type, 0.0)
        error = (
            f"timed out: job {job.id} ({job.type}) ran longer than its {seconds:g} s timeout "
            "(PIPELINE_JOB_TIMEOUTS)"
        )
        logger.warning("worker %s: %s", self.owner, error)
        return Outcome(job, outcome.started_at, outcome.finished_at, error=error)

    def _interrupt(self, _signum: int, _frame: FrameType | None) -> None:
        """SIGALRM (sent by the supervisor): raise :class:`JobTimedOut` in the running
        handler of a job that timed out."""
        # No lock here: the handler runs in the main thread, which may hold it right now
        # (a plain attribute read is atomic).
        current = self._current
        key = self._timed_out
        if not self._in_handler or current is None or key != (current[0].id, current[0].attempt):
            return
        job = current[0]
        raise JobTimedOut(
            f"job {job.id} ({job.type}) ran longer than its "
            f"{self.settings.job_timeouts.get(job.type, 0.0):g} s timeout "
            "(PIPELINE_JOB_TIMEOUTS) and was interrupted"
        )

    def _try_flush(self) -> None:
        try:
            self.flush()
        except sa.exc.DBAPIError as exc:
            logger.error(
                "worker %s: committing outcomes failed, will try again: %s", self.owner, exc.orig
            )
        except Exception:
            logger.exception("worker %s: committing outcomes failed", self.owner)

    def _final_flush(self) -> None:
        for attempt in range(3):
            try:
                self.flush()
                return
            except sa.exc.DBAPIError as exc:
                logger.error("worker %s: committing outcomes failed: %s", self.owner, exc.orig)
            except Exception:
                logger.exception("worker %s: committing outcomes failed", self.owner)
            time.sleep(self.settings.poll_interval * (attempt + 1))
        with self._lock:
            lost = [outcome.job.id for outcome in self._pending]
        if lost:
            logger.error(
                "worker %s: outcomes of job(s) %s were not committed; the jobs run again "
                "when their leases expire",
                self.owner,
                ", ".join(map(str, lost)),
            )

    def flush(self) -> None:
        """Commit the outcomes not committed yet (one transaction). When the database is
        away the outcomes are kept for the next flush (the lease guard makes a late commit
        safe); any other error is narrowed down to the outcomes that cause it
        (:meth:`_finish_apart`), so the others are committed. When the database goes away
        during that, the outcomes committed by then are counted and notified, and only the
        others wait for the next flush."""
        counts = FinishCounts()
        try:
            with self._flush_lock:
                with self._lock:
                    outcomes, self._pending = self._pending, []
                    self._finishing.update(outcome.job.id for outcome in outcomes)
                self._last_flush = time.monotonic()
                if not outcomes:
                    return
                settled: list[Outcome] = []
                try:
                    try:
                        counts.add(finish(self.engine, outcomes, self.settings, self.job_types))
                        settled = list(outcomes)
                    except Exception as exc:
                        if database_away(exc):
                            raise
                        self._finish_apart(outcomes, counts, settled)
                finally:
                    self._settle(outcomes, settled, counts)
        finally:
            notify_dead(self.pm, counts.dead)

    def _settle(
        self, outcomes: Sequence[Outcome], settled: Sequence[Outcome], counts: FinishCounts
    ) -> None:
        """Stop holding the jobs of the ``settled`` outcomes (committed, or given up); put
        the others back for the next flush."""
        done = {id(outcome) for outcome in settled}
        unsettled = [outcome for outcome in outcomes if id(outcome) not in done]
        with self._lock:
            self._pending[:0] = unsettled
            for outcome in outcomes:
                self._finishing.discard(outcome.job.id)
            for outcome in settled:
                self._held.pop(outcome.job.id, None)
                self._lost.discard((outcome.job.id, outcome.job.attempt))
        self.counts.add_finish(counts)
        if settled:
            self.feed.done([outcome.job for outcome in settled])

    def _finish_apart(
        self, outcomes: Sequence[Outcome], counts: FinishCounts, settled: list[Outcome]
    ) -> None:
        """Finish ``outcomes`` one transaction each, after their batch failed for a reason
        other than the database being away, adding to ``counts`` and ``settled`` as each is
        done. An outcome that cannot be recorded becomes a failed attempt naming the error;
        if even that cannot be recorded, it is given up (logged) and its job runs again once
        its lease expires."""
        for outcome in outcomes:
            try:
                counts.add(finish(self.engine, [outcome], self.settings, self.job_types))
                settled.append(outcome)
                continue
            except Exception as exc:
                if database_away(exc):
                    raise
                error = (
                    f"the outcome of job {outcome.job.id} ({outcome.job.type}) could not be "
                    f"recorded: {error_message(exc)}"
                )
            logger.error("worker %s: %s", self.owner, error)
            failed = Outcome(outcome.job, outcome.started_at, outcome.finished_at, error=error)
            try:
                counts.add(finish(self.engine, [failed], self.settings))
            except Exception as exc:
                if database_away(exc):
                    raise
                logger.exception(
                    "worker %s: job %d: not even its failure could be recorded; it runs again "
                    "when its lease expires",
                    self.owner,
                    outcome.job.id,
                )
            settled.append(outcome)

    def _settled_ids(self) -> set[int]:
        """Ids of the held jobs whose outcome is pending or being committed (the caller
        holds the lock)."""
        return self._finishing | {outcome.job.id for outcome in self._pending}

    def _give_back_unfinished(self) -> None:
        """After a batch broke off: commit what finished, stop holding the jobs that did not
        run and release them (if even that fails, they are rescued when their leases
        expire, as nothing extends them any more)."""
        self._try_flush()
        with self._lock:
            settled = self._settled_ids()
            unfinished = [job for job in self._held.values() if job.id not in settled]
            for job in unfinished:
                self._held.pop(job.id, None)
            self._current = None
        try:
            self._release(unfinished, "the worker's batch broke off before they ran")
        except Exception:
            logger.exception(
                "worker %s: releasing job(s) %s failed; they are rescued when their leases expire",
                self.owner,
                ", ".join(str(job.id) for job in unfinished),
            )

    def _release(self, jobs: Sequence[ClaimedJob], reason: str) -> None:
        if not jobs:
            return
        released = release(self.engine, jobs, self.settings, reason)
        self.counts.released += released
        with self._lock:
            for job in jobs:
                self._held.pop(job.id, None)
        self.feed.done(jobs)
        logger.info(
            "worker %s released %d job(s) (%s): %s",
            self.owner,
            released,
            ", ".join(f"{job.id} {job.type}" for job in jobs),
            reason,
        )

    def _heartbeat(self, jobs: Sequence[ClaimedJob]) -> None:
        if not jobs:
            return
        kept = heartbeat(self.engine, jobs, self.settings)
        by_id = {job.id: job for job in jobs}
        with self._lock:
            # A job whose outcome is pending or being committed may have been completed
            # meanwhile (no longer running, so not extended): it is not lost. A lost lease
            # of such an outcome is found by its commit (counted stale).
            settled = self._settled_ids()
            lost = [
                job.id
                for job in jobs
                if job.id not in kept and job.id not in settled and self._held.get(job.id) is job
            ]
            self._lost.update((job_id, by_id[job_id].attempt) for job_id in lost)
        if lost:
            logger.warning(
                "worker %s lost the lease of job(s) %s: they were rescued and will not be "
                "finished by this worker",
                self.owner,
                ", ".join(map(str, lost)),
            )

    def _handler_heartbeat(self, job: ClaimedJob) -> None:
        """``context.heartbeat()`` of the running ``job``: extend its lease, or raise
        :class:`LeaseLost` in the handler's thread once this worker no longer holds it."""
        key = (job.id, job.attempt)
        with self._lock:
            lost = key in self._lost
        if not lost:
            try:
                self._heartbeat([job])
            except sa.exc.DBAPIError as exc:
                # The database is away for a moment: the heartbeat thread keeps the lease
                # (or finds it lost); the handler goes on.
                logger.warning(
                    "worker %s: heartbeat of job %d failed: %s", self.owner, job.id, exc.orig
                )
            with self._lock:
                lost = key in self._lost
        if lost:
            raise LeaseLost(
                f"job {job.id} ({job.type}), attempt {job.attempt}: worker {self.owner} lost "
                "its lease (it expired and the job was rescued, to run again); stop: the "
                "outcome of this attempt will be dropped"
            )

    # ------------------------------------------------------------------ supervisor

    def _beat(self) -> None:
        """Extend the leases of the held jobs every third of a lease. This thread does
        nothing else, so a slow commit, webhook or SQS call elsewhere cannot let a lease
        expire (and the job run twice)."""
        every = max(0.05, self.settings.lease_seconds / 3)
        while not self._done.wait(every):
            with self._lock:
                held = list(self._held.values())
            try:
                self._heartbeat(held)
            except Exception:
                logger.exception("worker %s: a heartbeat failed", self.owner)

    def _supervise(self) -> None:
        """Commit outcomes early during a slow job, enforce grace, report progress."""
        last_report = time.monotonic()
        reported = self.counts.summary()
        while not self._done.wait(0.05):
            try:
                now = time.monotonic()
                if now - last_report >= REPORT_EVERY:
                    last_report = now
                    summary = self.counts.summary()
                    if summary != reported:
                        reported = summary
                        logger.info("worker %s so far: %s", self.owner, summary)
                with self._lock:
                    current = self._current
                    pending = bool(self._pending)
                if current is not None and pending and now - current[1] >= FLUSH_WHEN_SLOW:
                    self.flush()
                slow = current is not None and now - current[1] >= GIVE_BACK_WHEN_SLOW
                if current is not None and slow and not self._one_batch:
                    self._give_back_waiting(current[0])
                if current is not None:
                    self._enforce_timeout(current[0], current[1], now)
                started = self.stop_requested_at
                if current is not None and started is not None and now - started > self.grace:
                    self._cancel_or_give_up(current[0], now)
            except Exception:
                logger.exception("worker %s supervisor: a database call failed", self.owner)

    def _give_back_waiting(self, running: ClaimedJob) -> None:
        """The running job is slow: release the jobs of its batch not started yet, so that
        idle workers run them (a worker holds only what it can run)."""
        with self._lock:
            settled = self._settled_ids()
            waiting = [
                job for job in self._held.values() if job.id != running.id and job.id not in settled
            ]
            for job in waiting:
                self._held.pop(job.id, None)
            if waiting:
                self._gave_back = True
        if waiting:
            try:
                self._release(waiting, f"given back: job {running.id} ({running.type}) runs long")
            except Exception:  # they are rescued when their leases expire
                logger.exception("worker %s: giving back jobs failed", self.owner)

    def _enforce_timeout(self, running: ClaimedJob, started: float, now: float) -> None:
        """Cancel the running job once it has run past its type's timeout; interrupt its
        handler (main thread only) ``TIMEOUT_INTERRUPT`` seconds later, and again every
        ``INTERRUPT_AGAIN`` seconds while it runs on."""
        limit = self.settings.job_timeouts.get(running.type)
        if limit is None or now - started < limit:
            return
        key = (running.id, running.attempt)
        if self._timed_out != key:
            with self._lock:  # the job may have ended (and the next begun) meanwhile
                if self._current is None or self._current[0] is not running:
                    return
                self._timed_out = key
                self._interrupted_at = now + TIMEOUT_INTERRUPT
                self._job_cancel.set()
            logger.warning(
                "worker %s: job %d (%s) has run %g s, past its timeout; cancelling it",
                self.owner,
                running.id,
                running.type,
                limit,
            )
            return
        main = self._main_thread
        if main is not None and now >= self._interrupted_at:
            self._interrupted_at = now + INTERRUPT_AGAIN
            signal.pthread_kill(main, signal.SIGALRM)

    def _cancel_or_give_up(self, running: ClaimedJob, now: float) -> None:
        """The grace period is over: cancel the running job; when its handler has not
        stopped ``CANCEL_WAIT`` seconds later, give up on it."""
        if self._cancelled_at is None:
            logger.warning(
                "worker %s: job %d (%s) did not finish within %g s of the stop signal; "
                "cancelling it",
                self.owner,
                running.id,
                running.type,
                self.grace,
            )
            self._cancelled_at = now
            self._cancel.set()
            self._job_cancel.set()
        elif now - self._cancelled_at > CANCEL_WAIT:
            self._give_up(running)

    def _give_up(self, running: ClaimedJob) -> None:
        """The cancelled job did not stop: release everything held and end the process."""
        logger.warning(
            "worker %s: job %d (%s) did not stop within %g s of its cancellation; releasing it",
            self.owner,
            running.id,
            running.type,
            CANCEL_WAIT,
        )
        self.flush()
        with self._lock:
            held = list(self._held.values())
        self._release(held, f"worker stopped: not finished within {self.grace:g} s grace")
        logger.info("worker %s stopped: %s", self.owner, self.counts.summary())
        logging.shutdown()
        os._exit(0)


def process_batch(
    engine: sa.Engine,
    pm: PipelineManager,
    *,
    batch_size: int = 10,
    owner: str | None = None,
) -> BatchCounts:
    """Process one batch in this process: rescue expired leases, claim up to
    ``batch_size`` due jobs, run them one after another (their leases heartbeated),
    commit their outcomes and fire ``job_failed`` for the dead-lettered. Returns the
    counts.

    This is what ``dmo-pipeline queue process`` runs, and what the API route ``POST
    /api/v1/pipeline/queue/process`` is meant to call. Jobs run while the call lasts, so
    keep ``batch_size`` small for slow job types.

    It claims from the database even with ``PIPELINE_ENABLE_QUEUES=true``: no long poll
    inside a request. The outbox rows it writes (next jobs, retries) are announced by the
    workers' relay or ``dmo-pipeline queue relay``.
    """
    feed = DatabaseFeed(engine, pm.settings)
    return Worker(engine, pm, feed=feed, owner=owner).process_once(batch_size)


# ---------------------------------------------------------------------- processes


def run_worker(once: bool = False, grace: float = SHUTDOWN_GRACE) -> BatchCounts:
    """Run one worker in this process with the settings and plugins of the environment."""
    from pipeline_core.db.engine import make_engine
    from pipeline_core.db.ensure import ensure_schema
    from pipeline_core.log_format import configure_logging
    from pipeline_core.plugins import get_plugin_manager

    pm = get_plugin_manager()
    configure_logging(pm.settings.log_level, pm.settings.log_format)
    setup_metrics(pm.settings)
    engine = make_engine(pm.settings.database_url)
    while True:
        try:
            ensure_schema(engine)
            break
        except sa.exc.OperationalError as exc:
            # The database is away (a restart, a failover) as the worker starts: wait for
            # it, as a running worker does, rather than die before claiming anything
            logger.error("worker %s: the database failed: %s", os.getpid(), exc.orig)
            time.sleep(pm.settings.poll_interval)
    try:
        return Worker(engine, pm, once=once, grace=grace).run()
    finally:
        engine.dispose()


def _child(once: bool, grace: float) -> None:
    run_worker(once, grace)


def run_workers(concurrency: int, once: bool = False, grace: float = SHUTDOWN_GRACE) -> int:
    """Run ``concurrency`` worker processes (spawned) and wait for them; return the exit
    code (0 when every worker exited cleanly). SIGTERM/SIGINT are passed on to them."""
    if concurrency <= 1:
        run_worker(once, grace)
        return 0
    context = multiprocessing.get_context("spawn")
    children = [
        context.Process(target=_child, args=(once, grace), name=f"dmo-worker-{n}")
        for n in range(concurrency)
    ]
    for child in children:
        child.start()

    def forward(signum: int, _frame: FrameType | None) -> None:
        for child in children:
            if child.pid is not None and child.is_alive():
                os.kill(child.pid, signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    for child in children:
        child.join()
    return max(abs(child.exitcode or 0) for child in children)
