"""SQS as the queue's doorbell: the client, and the message that announces a job.

With ``PIPELINE_ENABLE_QUEUES=true`` every job that becomes ``queued`` gets an outbox row
in the same transaction (:func:`~pipeline_core.queue.enqueue.announce`); the relay
(:mod:`pipeline_core.queue.relay`) sends one message per row to
``PIPELINE_JOBS_QUEUE_URL``, and workers (:mod:`pipeline_core.queue.sqs_feed`) claim the
announced jobs by id. The database stays the truth: a message only says "job N may be
due"; a lost, late or repeated message never loses or repeats a job.

A message body is JSON: ``{"job_id": 42, "type": "scrape"}``.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any

import orjson

from pipeline_core.config import Settings
from pipeline_core.exceptions import QueueError
from pipeline_core.masking import mask_text

logger = logging.getLogger(__name__)

#: Most entries in one SendMessageBatch, DeleteMessageBatch or ReceiveMessage call.
SQS_BATCH = 10
#: Longest long poll SQS allows (ReceiveMessage ``WaitTimeSeconds``).
MAX_WAIT_SECONDS = 20
#: Longest visibility timeout SQS allows, counted from when the message was sent.
MAX_VISIBILITY_SECONDS = 43_200
#: Longest per-message delay SQS allows (``DelaySeconds``, standard queues only).
MAX_DELAY_SECONDS = 900

_REGION_IN_URL = re.compile(r"^https://sqs[.-]([a-z0-9-]+)\.amazonaws\.com", re.IGNORECASE)


def is_fifo(queue_url: str) -> bool:
    """True for a FIFO queue (its name ends in ``.fifo``): messages then need a group id
    and a deduplication id, and take no per-message delay."""
    return queue_url.rstrip("/").endswith(".fifo")


def region_of(queue_url: str) -> str | None:
    """The AWS region named in an SQS queue URL (``https://sqs.eu-west-1.amazonaws.com/…``),
    or None for another endpoint (moto, LocalStack)."""
    found = _REGION_IN_URL.match(queue_url)
    return found.group(1) if found else None


def sqs_client(settings: Settings, wait_seconds: float = 0) -> Any:
    """A boto3 SQS client for ``PIPELINE_JOBS_QUEUE_URL``.

    Every call is bounded: ``PIPELINE_AWS_TIMEOUT`` to connect and per read, plus
    ``wait_seconds`` for a client that long-polls, and one retry, so a frozen endpoint
    fails the call in a known time instead of blocking the relay or the worker.

    Credentials come from boto3's usual chain (environment, profile, instance role); the
    endpoint from ``PIPELINE_SQS_ENDPOINT_URL`` (empty: AWS's own); the region from
    ``AWS_DEFAULT_REGION``, else from the queue URL, else ``us-east-1``.
    """
    import boto3
    from botocore.config import Config

    if not settings.jobs_queue_url:
        raise QueueError(
            "PIPELINE_ENABLE_QUEUES=true needs PIPELINE_JOBS_QUEUE_URL (the SQS queue URL)"
        )
    session = boto3.session.Session()
    region = session.region_name or region_of(settings.jobs_queue_url) or "us-east-1"
    # Short timeouts and few retries: the relay holds its transaction (on SQLite the
    # write lock) while it sends, so an unreachable or frozen SQS must fail fast. A long
    # poll's read timeout outlasts its wait.
    config = Config(
        connect_timeout=settings.aws_timeout,
        read_timeout=settings.aws_timeout + wait_seconds,
        retries={"max_attempts": 2, "mode": "standard"},
    )
    return session.client(
        "sqs", region_name=region, endpoint_url=settings.sqs_endpoint_url or None, config=config
    )


@dataclass(frozen=True)
class JobMessage:
    """What a message announces: the id and type of a queued job."""

    job_id: int
    type: str

    def body(self) -> str:
        return orjson.dumps({"job_id": self.job_id, "type": self.type}).decode()


def parse_body(body: str) -> JobMessage:
    """The job a message body announces; :class:`ValueError` naming what is wrong."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"body is not JSON ({exc})") from None
    if not isinstance(data, dict):
        raise ValueError("body is not a JSON object")
    job_id = data.get("job_id")
    if not isinstance(job_id, int) or isinstance(job_id, bool) or job_id <= 0:
        raise ValueError(f"job_id must be a positive integer, got {job_id!r}")
    job_type = data.get("type")
    if not isinstance(job_type, str):
        raise ValueError(f"type must be a string, got {job_type!r}")
    return JobMessage(job_id, job_type)


def error_code(exc: BaseException) -> str:
    """A botocore error as a short text for a log line: its code, or the exception's name
    (never the request, which may carry signed headers)."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        code = response.get("Error", {}).get("Code")
        if code:
            text = f"{code}: {response['Error'].get('Message', '')}".rstrip(": ")
            if "NonExistentQueue" in code or code == "QueueDoesNotExist":
                text += (
                    "; there is no such queue at this endpoint: check "
                    "PIPELINE_JOBS_QUEUE_URL (and PIPELINE_SQS_ENDPOINT_URL), or create it"
                )
            return mask_text(text)
    return mask_text(f"{type(exc).__name__}: {exc}")


def shorten(text: str, limit: int = 120) -> str:
    """``text`` cut to ``limit`` characters for a log line."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


__all__ = [
    "MAX_DELAY_SECONDS",
    "MAX_VISIBILITY_SECONDS",
    "MAX_WAIT_SECONDS",
    "SQS_BATCH",
    "JobMessage",
    "error_code",
    "is_fifo",
    "parse_body",
    "region_of",
    "shorten",
    "sqs_client",
]
