"""The Starlette application: ``create_app`` (an ASGI factory; ``dmo-pipeline serve`` runs it)."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from importlib import resources
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route, WebSocketRoute

from pipeline_core.api.endpoints import PREFIX, Endpoint, endpoint_handler, json_response
from pipeline_core.api.observe import ObserveRequests
from pipeline_core.api.problems import problem_response
from pipeline_core.api.state import ApiState
from pipeline_core.config import Settings, load_settings
from pipeline_core.metrics import setup_metrics

logger = logging.getLogger(__name__)


def all_endpoints() -> list[Endpoint]:
    """Every endpoint of the API, in the order of the OpenAPI document."""
    from pipeline_core.api.routes import (
        audit,
        configs,
        duplicates,
        exports,
        files,
        jobs,
        keys,
        metrics,
        promotions,
        queue,
        sources,
        staging,
    )

    return [
        *queue.ENDPOINTS,
        *jobs.ENDPOINTS,
        *files.ENDPOINTS,
        *staging.ENDPOINTS,
        *promotions.ENDPOINTS,
        *duplicates.ENDPOINTS,
        *exports.ENDPOINTS,
        *sources.ENDPOINTS,
        *configs.ENDPOINTS,
        *keys.ENDPOINTS,
        *audit.ENDPOINTS,
        *metrics.ENDPOINTS,
    ]


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else "error"
    if exc.status_code == 404:
        detail = f"no route {request.url.path}"
    elif exc.status_code == 405:
        detail = f"{request.method} is not allowed on {request.url.path}"
    return problem_response(exc.status_code, detail, headers=dict(exc.headers or {}))


async def _server_error(request: Request, exc: Exception) -> Response:
    logger.exception("500 %s %s", request.method, request.url.path)
    return problem_response(500, "internal error; the server log has the details")


def create_app(settings: Settings | None = None) -> Starlette:
    """Build the API app (uvicorn: ``--factory pipeline_core.api:create_app``)."""
    from pipeline_core import __version__
    from pipeline_core.api.dashboard import dashboard_mount
    from pipeline_core.api.events import PATH as EVENTS_PATH
    from pipeline_core.api.events import events_socket
    from pipeline_core.api.openapi import build_document
    from pipeline_core.db.engine import make_engine
    from pipeline_core.db.ensure import ensure_schema

    settings = settings or load_settings()
    setup_metrics(settings)
    if not logging.getLogger().handlers:  # a server process of its own (serve --workers N)
        from pipeline_core.log_format import configure_logging

        configure_logging(settings.log_level, settings.log_format)
    engine = make_engine(settings.database_url)
    ensure_schema(engine)
    state = ApiState(settings, engine)
    endpoints = all_endpoints()
    document = build_document(endpoints, __version__)
    page = resources.files(__package__).joinpath("static/docs.html").read_text("utf-8")

    async def openapi(_request: Request) -> Response:
        return json_response(document)

    async def docs(_request: Request) -> Response:
        return HTMLResponse(page)

    routes: list[Any] = [
        Route(e.full_path, endpoint_handler(e, state), methods=[e.method]) for e in endpoints
    ]
    routes += [
        Route(PREFIX.rsplit("/", 1)[0] + "/openapi.json", openapi, methods=["GET"]),
        Route("/docs", docs, methods=["GET"]),
        WebSocketRoute(EVENTS_PATH, events_socket),
        dashboard_mount(),
    ]

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        yield
        state.close_events()

    app = Starlette(
        routes=routes,
        exception_handlers={HTTPException: _http_error, Exception: _server_error},
        middleware=[Middleware(ObserveRequests)],
        lifespan=lifespan,
    )
    app.state.api = state
    app.state.openapi = document
    return app
