"""The SQS feed of a worker: long-polls the jobs queue and claims the announced jobs by id.

A :class:`~pipeline_core.queue.worker.JobFeed` used when ``PIPELINE_ENABLE_QUEUES=true``.
Each call of :meth:`SqsFeed.next_jobs`:

1. relays the outbox (:func:`~pipeline_core.queue.relay.relay_pending`), so the jobs this
   worker queued (next jobs, retries) are announced;
2. every ``sweep_every`` seconds claims due jobs straight from the database, as the
   database feed does: a job whose message was lost (moved to SQS's dead letter queue,
   deleted by a race) still runs;
3. otherwise receives up to ten messages (long poll, ``WaitTimeSeconds`` up to 20) and
   claims their jobs with :func:`~pipeline_core.queue.store.claim_ids`; while SQS cannot
   be reached it claims from the database instead.

What happens to a message:

- its job was claimed: the job runs; the message is deleted once the job's outcome is
  committed (:meth:`SqsFeed.done`);
- its job is already running, completed or failed (a redelivery, or a second
  announcement): deleted, counted as a duplicate;
- its job is not in ``pipeline.queue``, or the body is not a job announcement: deleted
  with one warning;
- its job is queued but not due (a retry's backoff): its visibility timeout is extended
  to the job's ``run_after`` (at most SQS's 12 hours), so it comes back when the job is due;
- its job is due but its DMO is at ``PIPELINE_DMO_CONCURRENCY`` (or another worker is
  claiming it): hidden for a while, longer each time it comes back;
- the database could not be reached: left alone; SQS shows it again after its visibility
  timeout, and after the redrive policy's ``maxReceiveCount`` moves it to the dead letter
  queue.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from botocore.exceptions import BotoCoreError, ClientError

from pipeline_core.config import Settings
from pipeline_core.db.tables import queue
from pipeline_core.queue.job import ClaimedJob, utc
from pipeline_core.queue.relay import relay_pending
from pipeline_core.queue.sqs import (
    MAX_VISIBILITY_SECONDS,
    MAX_WAIT_SECONDS,
    SQS_BATCH,
    error_code,
    parse_body,
    shorten,
    sqs_client,
)
from pipeline_core.queue.store import claim, claim_ids

logger = logging.getLogger(__name__)

#: Seconds between two claims straight from the database (the safety net for lost messages).
SWEEP_EVERY = 60.0
#: First hiding, in seconds, of a message whose job's DMO is at its limit; doubled per receive.
BUSY_DEFER = 5.0
#: Longest hiding of such a message.
BUSY_DEFER_MAX = 900.0
#: Seconds kept back from SQS's 12-hour visibility limit (clocks differ).
VISIBILITY_MARGIN = 60
#: Receives without a claimed job before :meth:`SqsFeed.next_jobs` gives up for this call.
MAX_EMPTY_RECEIVES = 10
#: While SQS cannot be reached: seconds between two tries of the relay, and between two
#: warnings about it (the worker claims from the database meanwhile).
SQS_DOWN_RETRY = 30.0


@dataclass
class FeedCounts:
    """What an SQS feed did over its life."""

    received: int = 0
    #: Jobs claimed through a message.
    claimed: int = 0
    #: Jobs claimed straight from the database by the sweep.
    swept: int = 0
    #: Messages of jobs already running, completed or failed (or a second message of a job).
    duplicates: int = 0
    #: Messages naming a job that does not exist.
    unknown: int = 0
    #: Messages whose body is not a job announcement.
    malformed: int = 0
    #: Messages hidden until their job is due (or its DMO has room).
    deferred: int = 0
    #: Messages left alone because the database could not be reached.
    unprocessed: int = 0


class SqsFeed:
    """Jobs announced on ``PIPELINE_JOBS_QUEUE_URL``, claimed by id (see the module)."""

    def __init__(
        self,
        engine: sa.Engine,
        settings: Settings,
        *,
        client: Any = None,
        wait_seconds: int = MAX_WAIT_SECONDS,
        sweep_every: float | None = SWEEP_EVERY,
        relay: bool = True,
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.queue_url = settings.jobs_queue_url or ""
        self.wait_seconds = max(0, min(MAX_WAIT_SECONDS, wait_seconds))
        # Sends, deletes and visibility changes get a client with short timeouts; the long
        # poll one whose read timeout outlasts its wait.
        self.client = client if client is not None else sqs_client(settings)
        self.poll_client = client if client is not None else sqs_client(settings, self.wait_seconds)
        if sweep_every == SWEEP_EVERY:
            sweep_every = settings.sweep_seconds
        self.sweep_every = sweep_every
        self.relay = relay
        self.counts = FeedCounts()
        self._lock = threading.Lock()  # guards _receipts (done() runs on other threads)
        self._receipts: dict[int, str] = {}
        self._last_sweep = -math.inf
        self._trouble = False
        self._sqs_failed_at: float | None = None  # last failed receive, while SQS is down
        self._last_relay = -math.inf
        self._last_warning = -math.inf

    # ------------------------------------------------------------------ JobFeed

    def next_jobs(self, owner: str, limit: int) -> list[ClaimedJob]:
        """Relay the outbox, sweep when it is time, else claim the jobs of received messages."""
        self._trouble = False
        down = self._sqs_failed_at is not None
        if self.relay and (not down or time.monotonic() - self._last_relay >= SQS_DOWN_RETRY):
            self._last_relay = time.monotonic()
            try:
                relay_pending(self.engine, self.client, self.settings)
            except sa.exc.DBAPIError as exc:
                self._trouble = True
                logger.warning("outbox relay: database error (%s)", shorten(str(exc.orig)))
        if self._sweep_due():
            swept = self._sweep(owner, limit)
            if swept:
                return swept
        for _ in range(MAX_EMPTY_RECEIVES):
            if self._sweep_due():  # the sweep runs on its clock, whatever SQS does
                return self._sweep(owner, limit)
            messages = self._receive(max(1, min(limit, SQS_BATCH)))
            if messages is None:  # SQS unreachable: claim from the database meanwhile
                return self._sweep(owner, limit)
            if not messages:
                return []
            jobs = self._claim(messages, owner)
            if jobs or self._trouble:
                return jobs
        return []

    def _sweep_due(self) -> bool:
        """True when the last database sweep is ``sweep_every`` seconds old."""
        return (
            self.sweep_every is not None and time.monotonic() - self._last_sweep >= self.sweep_every
        )

    def _sweep(self, owner: str, limit: int) -> list[ClaimedJob]:
        """Claim due jobs straight from the database, as the database feed does."""
        self._last_sweep = time.monotonic()
        try:
            swept = claim(self.engine, owner, limit, self.settings)
        except sa.exc.DBAPIError as exc:
            self._trouble = True
            logger.warning("database sweep failed (%s)", shorten(str(exc.orig)))
            return []
        self.counts.swept += len(swept)
        return swept

    def idle(self, stop: threading.Event) -> None:
        """The long poll already waited; wait ``PIPELINE_POLL_INTERVAL`` only after an
        error (SQS or the database unreachable), or when long polling is off."""
        if self._trouble or self.wait_seconds == 0:
            stop.wait(self.settings.poll_interval)

    def done(self, jobs: Sequence[ClaimedJob]) -> None:
        """The worker no longer holds ``jobs`` (their outcome is committed, or they were
        released): delete the messages they were claimed through."""
        with self._lock:
            handles = [self._receipts.pop(job.id) for job in jobs if job.id in self._receipts]
        self._delete(handles, "finished")

    # ------------------------------------------------------------------ SQS calls

    def _receive(self, limit: int) -> list[dict[str, Any]] | None:
        """Up to ``limit`` messages (long poll); None when SQS could not be asked."""
        try:
            response = self.poll_client.receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=limit,
                WaitTimeSeconds=self.wait_seconds,
                MessageSystemAttributeNames=["ApproximateReceiveCount", "SentTimestamp"],
            )
        except (BotoCoreError, ClientError) as exc:
            self._trouble = True
            now = time.monotonic()
            self._sqs_failed_at = now
            level = logging.WARNING if now - self._last_warning >= SQS_DOWN_RETRY else logging.DEBUG
            if level == logging.WARNING:
                self._last_warning = now
            logger.log(
                level,
                "SQS receive failed: %s; claiming from the database meanwhile",
                error_code(exc),
            )
            return None
        if self._sqs_failed_at is not None:
            logger.info("SQS answers again")
            self._sqs_failed_at = None
        messages: list[dict[str, Any]] = response.get("Messages", [])
        self.counts.received += len(messages)
        return messages

    def _delete(self, handles: Sequence[str], why: str) -> None:
        for start in range(0, len(handles), SQS_BATCH):
            chunk = handles[start : start + SQS_BATCH]
            entries = [{"Id": str(n), "ReceiptHandle": h} for n, h in enumerate(chunk)]
            try:
                response = self.client.delete_message_batch(
                    QueueUrl=self.queue_url, Entries=entries
                )
            except (BotoCoreError, ClientError) as exc:
                logger.warning(
                    "SQS delete of %d %s message(s) failed: %s (they come back and are "
                    "dropped as duplicates)",
                    len(chunk),
                    why,
                    error_code(exc),
                )
                continue
            for failure in response.get("Failed", []):
                # A message received again by another worker has a new receipt handle;
                # that worker deletes it as a duplicate.
                logger.info(
                    "SQS did not delete a %s message: %s: %s",
                    why,
                    failure.get("Code", "?"),
                    failure.get("Message", ""),
                )

    def _hide(self, message: dict[str, Any], seconds: float) -> None:
        """Make ``message`` invisible for ``seconds`` (within SQS's 12-hour limit)."""
        attributes = message.get("Attributes", {})
        sent_ms = int(attributes.get("SentTimestamp", 0)) or int(time.time() * 1000)
        age = max(0.0, time.time() - sent_ms / 1000)
        room = MAX_VISIBILITY_SECONDS - VISIBILITY_MARGIN - math.ceil(age)
        timeout = max(1, min(math.ceil(seconds), room))
        try:
            self.client.change_message_visibility(
                QueueUrl=self.queue_url,
                ReceiptHandle=message["ReceiptHandle"],
                VisibilityTimeout=timeout,
            )
        except (BotoCoreError, ClientError) as exc:
            logger.info("SQS visibility change failed: %s", error_code(exc))

    # ------------------------------------------------------------------ claiming

    def _claim(self, messages: Sequence[dict[str, Any]], owner: str) -> list[ClaimedJob]:
        by_job: dict[int, list[dict[str, Any]]] = {}
        dropped: list[str] = []
        for message in messages:
            try:
                announced = parse_body(message.get("Body", ""))
            except ValueError as exc:
                self.counts.malformed += 1
                logger.warning(
                    "SQS message %s dropped: not a job announcement: %s (body %r)",
                    message.get("MessageId", "?"),
                    exc,
                    shorten(message.get("Body", ""), 80),
                )
                dropped.append(message["ReceiptHandle"])
                continue
            by_job.setdefault(announced.job_id, []).append(message)
        self._delete(dropped, "malformed")
        if not by_job:
            return []
        try:
            result = claim_ids(self.engine, list(by_job), owner, self.settings)
        except sa.exc.DBAPIError as exc:
            self._trouble = True
            self.counts.unprocessed += len(messages) - len(dropped)
            logger.warning(
                "could not claim the jobs of %d SQS message(s): database error (%s); SQS "
                "shows them again after their visibility timeout",
                len(messages) - len(dropped),
                shorten(str(exc.orig)),
            )
            return []
        duplicates: list[str] = []
        unknown: list[str] = []
        with self._lock:
            for job in result.claimed:
                first, *extra = by_job[job.id]
                self._receipts[job.id] = first["ReceiptHandle"]
                duplicates.extend(m["ReceiptHandle"] for m in extra)
        self.counts.claimed += len(result.claimed)
        waiting: dict[int, str] = {}
        for job_id, reason in result.skipped.items():
            batch = by_job[job_id]
            if reason == "not found":
                self.counts.unknown += len(batch)
                logger.warning(
                    "SQS message %s announces job %d, which is not in pipeline.queue: dropped",
                    batch[0].get("MessageId", "?"),
                    job_id,
                )
                unknown.extend(m["ReceiptHandle"] for m in batch)
            elif reason in ("not due", "dmo limit"):
                waiting[job_id] = reason
                duplicates.extend(m["ReceiptHandle"] for m in batch[1:])
            else:  # running, completed, failed
                duplicates.extend(m["ReceiptHandle"] for m in batch)
        self.counts.duplicates += len(duplicates)
        if duplicates:
            logger.debug("dropping %d duplicate SQS message(s)", len(duplicates))
        self._delete(duplicates, "duplicate")
        self._delete(unknown, "unknown-job")
        self._defer(waiting, by_job)
        return result.claimed

    def _defer(self, waiting: dict[int, str], by_job: dict[int, list[dict[str, Any]]]) -> None:
        if not waiting:
            return
        try:
            with self.engine.connect() as conn:
                due = dict(
                    conn.execute(
                        sa.select(queue.c.id, queue.c.run_after).where(
                            queue.c.id.in_(list(waiting))
                        )
                    ).all()
                )
        except sa.exc.DBAPIError as exc:  # the messages come back after their timeout
            self._trouble = True
            logger.warning("database error while deferring messages (%s)", shorten(str(exc.orig)))
            return
        now = datetime.now(UTC)
        for job_id, reason in waiting.items():
            message = by_job[job_id][0]
            self.counts.deferred += 1
            run_after = due.get(job_id)
            if reason == "not due" and run_after is not None:
                self._hide(message, (utc(run_after) - now).total_seconds())
            else:
                received = int(message.get("Attributes", {}).get("ApproximateReceiveCount", 1))
                self._hide(message, min(BUSY_DEFER_MAX, BUSY_DEFER * 2 ** (received - 1)))


__all__ = ["FeedCounts", "SqsFeed"]
