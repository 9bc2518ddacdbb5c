"""ASGI middleware that observes each HTTP request: its correlation id (the client's
``X-Correlation-ID`` or ``X-Request-ID``, else a new one; answered in ``X-Correlation-ID``
and set for every line logged and every job queued while the request runs), one access
line (``pipeline_core.api.access``: method, route, status, milliseconds, client), and the
metrics ``dmo_pipeline_http_requests_total{method, route, status}`` and its duration.
``route`` is the route's template (``/api/v1/pipeline/jobs/{id}``); a path no route
matches is counted as ``unmatched``, so raw paths never become labels."""

from __future__ import annotations

import logging
import time
from typing import Any

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pipeline_core.log_context import correlation_of, log_fields
from pipeline_core.metrics import observe_http

access = logging.getLogger("pipeline_core.api.access")


class ObserveRequests:
    """Wraps an ASGI app (see the module's docstring)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        correlation = correlation_of(Headers(scope=scope))
        status = 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                MutableHeaders(scope=message)["X-Correlation-ID"] = correlation
            await send(message)

        with log_fields(correlation_id=correlation):
            try:
                await self.app(scope, receive, sending)
            finally:
                seconds = time.perf_counter() - started
                route: Any = scope.get("route")
                template = getattr(route, "path", None) or "unmatched"
                observe_http(scope["method"], template, status, seconds)
                client = scope.get("client")
                access.info(
                    "%s %s %d in %.0f ms from %s",
                    scope["method"],
                    template,
                    status,
                    seconds * 1000,
                    client[0] if client else "?",
                )
