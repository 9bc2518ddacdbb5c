"""Built-in ``job_failed`` notifier: a JSON POST to ``PIPELINE_WEBHOOK_URL``.

The body is ``{"event": "job_failed", "job": {...}, "error": "..."}`` where ``job`` holds
``id``, ``type``, ``attempts``, ``max_attempts``, ``dmo``, ``correlation_id`` and the
payload's ``source`` (the rest of the payload is left out: it may hold what a webhook
should not see). The URL is checked with the fetch policy before every POST (a loopback
or private host needs ``PIPELINE_ALLOWED_HOSTS``), and the connection goes only to an
address checked against it (a name that resolves elsewhere the second time is refused);
redirects are not followed, proxies from the environment are not used, the timeout is
short, and the URL is only ever logged masked (it often carries a token).
"""

from __future__ import annotations

import logging
import urllib.error
import urllib.request
from typing import Any

import orjson

from pipeline_core.checked_http import checked_opener
from pipeline_core.config import SETTINGS_BY_NAME, Settings
from pipeline_core.exceptions import URLPolicyError
from pipeline_core.hookspecs import hookimpl
from pipeline_core.urlpolicy import check_url

logger = logging.getLogger("pipeline_core.notify")

#: Seconds the webhook may take to answer.
TIMEOUT = 5.0


def webhook_body(job: dict[str, Any], error: str) -> dict[str, Any]:
    """What the webhook receives for a dead-lettered job."""
    payload = job.get("payload") or {}
    return {
        "event": "job_failed",
        "job": {
            "id": job["id"],
            "type": job["type"],
            "attempts": job["attempts"],
            "max_attempts": job["max_attempts"],
            "dmo": job.get("dmo"),
            "correlation_id": job.get("correlation_id"),
            "source": payload.get("source") if isinstance(payload, dict) else None,
        },
        "error": error,
    }


@hookimpl
def job_failed(job: dict[str, Any], error: str, settings: Settings) -> None:
    url = settings.webhook_url
    if not url:
        return
    shown = SETTINGS_BY_NAME["PIPELINE_WEBHOOK_URL"].shown(url)
    try:
        check_url(url, settings.allowed_hosts)
    except URLPolicyError as exc:
        logger.error("webhook %s refused: %s", shown, str(exc).replace(url, shown))
        return
    request = urllib.request.Request(
        url,
        data=orjson.dumps(webhook_body(job, error)),
        headers={"Content-Type": "application/json", "User-Agent": "dmo-pipeline"},
        method="POST",
    )
    try:
        opener = checked_opener(tuple(settings.allowed_hosts))
        with opener.open(request, timeout=TIMEOUT) as response:
            status = response.status
    except urllib.error.HTTPError as exc:
        status = exc.code
    except URLPolicyError as exc:  # the connection's own check, or its lookup, failed
        logger.error("webhook %s refused: %s", shown, str(exc).replace(url, shown))
        return
    except urllib.error.URLError as exc:
        reason = exc.reason
        if isinstance(reason, URLPolicyError):
            logger.error("webhook %s refused: %s", shown, str(reason).replace(url, shown))
        else:
            logger.error(
                "webhook %s for job %s failed: %s", shown, job["id"], type(reason).__name__
            )
        return
    except (OSError, ValueError) as exc:
        logger.error("webhook %s for job %s failed: %s", shown, job["id"], type(exc).__name__)
        return
    if not 200 <= status < 300:
        logger.error("webhook %s for job %s answered HTTP %d", shown, job["id"], status)
    else:
        logger.info("webhook %s notified of job %s", shown, job["id"])
