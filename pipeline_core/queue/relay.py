"""The outbox relay: announces on SQS the jobs written to ``pipeline.outbox``.

:func:`~pipeline_core.queue.enqueue.announce` writes an outbox row in the same transaction
that makes a job ``queued``, so a job is never in the database without its announcement
(nor announced without being in the database). One relay round, in one transaction:

1. read the oldest outbox rows (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so several
   relays at once each take different rows; on SQLite the round holds the write lock);
2. send them with ``SendMessageBatch``, ten to a call;
3. delete the rows SQS accepted; the entries it refused (a partial batch failure) or a
   call that failed stay for the next round.

A relay that dies between 2 and 3 rolls back: the rows are sent again, the job is
announced twice, and the second message is a harmless duplicate (workers claim by id).
"""

from __future__ import annotations

import logging
import math
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from botocore.exceptions import BotoCoreError, ClientError

from pipeline_core.config import Settings
from pipeline_core.db.engine import write_transaction
from pipeline_core.db.tables import outbox, queue
from pipeline_core.queue.job import utc
from pipeline_core.queue.sqs import (
    MAX_DELAY_SECONDS,
    SQS_BATCH,
    JobMessage,
    error_code,
    is_fifo,
)

logger = logging.getLogger(__name__)

#: Outbox rows one relay round reads (sent ten to a call).
RELAY_ROWS = 100
#: Rounds :func:`relay_pending` runs at most before it returns.
MAX_ROUNDS = 10


@dataclass
class RelayCounts:
    """What the relay did."""

    #: Messages SQS accepted (their outbox rows are deleted).
    sent: int = 0
    #: Entries SQS refused or calls that failed (their rows stay for the next round).
    failed: int = 0
    #: Outbox rows of jobs no longer queued (claimed, finished or deleted since): deleted
    #: without a message, as there is nothing left to announce.
    dropped: int = 0

    def add(self, other: RelayCounts) -> None:
        self.sent += other.sent
        self.failed += other.failed
        self.dropped += other.dropped


def _entry(row: Any, fifo: bool, now: datetime) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "Id": str(row.id),
        "MessageBody": JobMessage(row.queue_id, row.type).body(),
    }
    if fifo:
        # One group per job: no ordering between jobs, so no job waits behind another's
        # message. The deduplication id names this announcement: a relay that sends the
        # row again (after a crash) is deduplicated by SQS; a later announcement of the
        # same job (a retry) has a new row and is not.
        entry["MessageGroupId"] = f"job-{row.queue_id}"
        written = round(utc(row.created_at).timestamp() * 1_000_000)
        entry["MessageDeduplicationId"] = f"{row.queue_id}-{row.id}-{written}"
    else:
        wait = (utc(row.run_after) - now).total_seconds()
        if wait >= 1:
            entry["DelaySeconds"] = min(MAX_DELAY_SECONDS, math.ceil(wait))
    return entry


def _has_rows(engine: sa.Engine) -> bool:
    with engine.connect() as conn:
        return conn.execute(sa.select(outbox.c.id).limit(1)).first() is not None


def relay_once(
    engine: sa.Engine, client: Any, settings: Settings, limit: int = RELAY_ROWS
) -> tuple[RelayCounts, int]:
    """One relay round: send up to ``limit`` outbox rows, delete those SQS accepted.

    Returns the counts and the number of rows read (fewer than ``limit``: the outbox was
    drained). An SQS error is logged and leaves the rows for the next round; a database
    error, or anything raised between sending and deleting, rolls the round back (the rows
    are sent again later: a duplicate announcement, harmless).
    """
    counts = RelayCounts()
    if not _has_rows(engine):  # on SQLite, no write lock while there is nothing to send
        return counts, 0
    url = settings.jobs_queue_url or ""
    fifo = is_fifo(url)
    with write_transaction(engine) as conn:
        rows = conn.execute(
            sa.select(
                outbox.c.id,
                outbox.c.queue_id,
                outbox.c.created_at,
                queue.c.type,
                queue.c.status,
                queue.c.run_after,
            )
            .select_from(outbox.outerjoin(queue, queue.c.id == outbox.c.queue_id))
            .order_by(outbox.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True, of=outbox)
        ).all()
        for row in rows:
            if row.type is None:
                logger.warning(
                    "outbox row %d announces job %d, which is not in pipeline.queue: dropped",
                    row.id,
                    row.queue_id,
                )
        # A job claimed (e.g. by the database sweep) or finished since it was queued needs
        # no message; if it is queued again, that writes a new outbox row.
        pending = [row for row in rows if row.status == "queued"]
        done = [row.id for row in rows if row.status != "queued"]
        counts.dropped = len(done)
        now = datetime.now(UTC)
        for start in range(0, len(pending), SQS_BATCH):
            chunk = pending[start : start + SQS_BATCH]
            try:
                response = client.send_message_batch(
                    QueueUrl=url, Entries=[_entry(row, fifo, now) for row in chunk]
                )
            except (BotoCoreError, ClientError) as exc:
                counts.failed += len(pending) - start
                logger.warning(
                    "SQS refused a batch of %d announcement(s) (%s); %d outbox row(s) stay "
                    "for the next round",
                    len(chunk),
                    error_code(exc),
                    len(pending) - start,
                )
                break
            accepted = {int(item["Id"]) for item in response.get("Successful", [])}
            done.extend(accepted)
            counts.sent += len(accepted)
            by_id = {row.id: row for row in chunk}
            for failure in response.get("Failed", []):
                counts.failed += 1
                refused = by_id.get(int(failure["Id"]))
                logger.warning(
                    "SQS refused the announcement of job %s (outbox row %s): %s: %s; it "
                    "stays for the next round",
                    refused.queue_id if refused is not None else "?",
                    failure["Id"],
                    failure.get("Code", "?"),
                    failure.get("Message", ""),
                )
        if done:
            conn.execute(sa.delete(outbox).where(outbox.c.id.in_(done)))
    if counts.sent:
        logger.debug("relayed %d job announcement(s) to SQS", counts.sent)
    return counts, len(rows)


def relay_pending(
    engine: sa.Engine,
    client: Any,
    settings: Settings,
    *,
    limit: int = RELAY_ROWS,
    max_rounds: int | None = MAX_ROUNDS,
) -> RelayCounts:
    """Relay rounds until the outbox is drained, a round sends nothing (SQS is refusing),
    or ``max_rounds`` rounds ran (None: no limit)."""
    total = RelayCounts()
    rounds = 0
    while max_rounds is None or rounds < max_rounds:
        rounds += 1
        counts, read = relay_once(engine, client, settings, limit)
        total.add(counts)
        if read < limit or counts.sent + counts.dropped == 0:
            break
    return total


__all__ = ["RelayCounts", "relay_forever", "relay_once", "relay_pending"]


def relay_forever(
    engine: sa.Engine,
    client: Any,
    settings: Settings,
    stop: threading.Event,
    interval: float | None = None,
) -> RelayCounts:
    """Relay until ``stop`` is set (``dmo-pipeline queue relay --forever``, a service of
    its own): a round, then a wait of ``interval`` seconds (``PIPELINE_POLL_INTERVAL``)
    unless the round left rows to send. A database or SQS error is logged and tried again
    after the wait; each call is bounded (``PIPELINE_AWS_TIMEOUT``). Returns the totals."""
    wait = settings.poll_interval if interval is None else interval
    total = RelayCounts()
    logger.info("relay started: announcing queued jobs on SQS every %.3g s", wait)
    while not stop.is_set():
        try:
            counts = relay_pending(engine, client, settings)
        except sa.exc.DBAPIError as exc:
            logger.error("relay: the database failed: %s", exc.orig)
            stop.wait(wait)
            continue
        total.add(counts)
        if counts.sent or counts.dropped or counts.failed:
            logger.info(
                "relay: %d announced, %d refused (kept), %d dropped",
                counts.sent,
                counts.failed,
                counts.dropped,
            )
        stop.wait(wait)
    logger.info(
        "relay stopped: %d announced, %d refused, %d dropped",
        total.sent,
        total.failed,
        total.dropped,
    )
    return total
