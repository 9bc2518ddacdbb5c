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

import http.client
import logging
import ssl
import urllib.error
import urllib.request
from functools import partial
from typing import Any

import orjson

from pipeline_core.config import SETTINGS_BY_NAME, Settings
from pipeline_core.exceptions import URLPolicyError
from pipeline_core.hookspecs import hookimpl
from pipeline_core.urlpolicy import check_url, connect_checked

logger = logging.getLogger("pipeline_core.notify")

#: Seconds the webhook may take to answer.
TIMEOUT = 5.0


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # a redirect is an answer, not a new URL to post to


class _CheckedHTTPConnection(http.client.HTTPConnection):
    """Connects only to an address the URL policy allows (see ``connect_checked``)."""

    def __init__(self, *args: Any, allowed_hosts: tuple[str, ...] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.allowed_hosts = allowed_hosts

    def connect(self) -> None:
        self.sock = connect_checked(self.host, self.port, self.timeout, self.allowed_hosts)


class _CheckedHTTPSConnection(http.client.HTTPSConnection):
    """TLS over a connection the URL policy allows; the certificate is checked for the
    URL's host name."""

    def __init__(self, *args: Any, allowed_hosts: tuple[str, ...] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.allowed_hosts = allowed_hosts

    def connect(self) -> None:
        sock = connect_checked(self.host, self.port, self.timeout, self.allowed_hosts)
        context: ssl.SSLContext = self._context  # type: ignore[attr-defined]
        self.sock = context.wrap_socket(sock, server_hostname=self.host)


class _CheckedHTTPHandler(urllib.request.HTTPHandler):
    def __init__(self, allowed_hosts: tuple[str, ...]) -> None:
        super().__init__()
        self.allowed_hosts = allowed_hosts

    def http_open(self, req: urllib.request.Request) -> Any:
        connection = partial(_CheckedHTTPConnection, allowed_hosts=self.allowed_hosts)
        return self.do_open(connection, req)  # type: ignore[arg-type]


class _CheckedHTTPSHandler(urllib.request.HTTPSHandler):
    def __init__(self, allowed_hosts: tuple[str, ...]) -> None:
        super().__init__()
        self.allowed_hosts = allowed_hosts

    def https_open(self, req: urllib.request.Request) -> Any:
        connection = partial(_CheckedHTTPSConnection, allowed_hosts=self.allowed_hosts)
        context = self._context  # type: ignore[attr-defined]
        return self.do_open(connection, req, context=context)  # type: ignore[arg-type]


def _opener(allowed_hosts: tuple[str, ...]) -> urllib.request.OpenerDirector:
    """An opener that follows no redirect, uses no proxy from the environment, and connects
    only where the URL policy allows (the address connected to is the one checked)."""
    return urllib.request.build_opener(
        urllib.request.ProxyHandler({}),
        _NoRedirect,
        _CheckedHTTPHandler(allowed_hosts),
        _CheckedHTTPSHandler(allowed_hosts),
    )


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
        with _opener(tuple(settings.allowed_hosts)).open(request, timeout=TIMEOUT) as response:
            status = response.status
    except urllib.error.HTTPError as exc:
        status = exc.code
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
