"""Endpoints: a route, its role, its parameter and body schemas, its answer's schema.

Each route of the API is one :class:`Endpoint`. The same object builds the Starlette route
(parameters coerced and checked with JSON Schema, the body read within its size limit and
checked, the key authenticated and its role checked) and the route's entry in the OpenAPI
document (:mod:`pipeline_core.api.openapi`), so the document cannot drift from the code.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import jsonschema
import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from pipeline_core.api.problems import Problem, field_problem

if TYPE_CHECKING:
    from pipeline_core.api.state import ApiState
    from pipeline_core.operations.keys import ApiKey

#: Prefix of every pipeline route.
PREFIX = "/api/v1/pipeline"


@dataclass
class Call:
    """What a handler gets: the checked parameters and body, the key, the app's state."""

    request: Request
    state: ApiState
    key: ApiKey | None
    path: dict[str, Any]
    query: dict[str, Any]
    body: Any

    @property
    def dmo(self) -> str | None:
        """The DMO the key is scoped to (None: every DMO)."""
        return self.key.dmo if self.key is not None else None


Handler = Callable[[Call], Any]


@dataclass(frozen=True)
class Endpoint:
    """One route of the API."""

    method: str
    path: str
    handler: Handler
    summary: str
    tag: str
    #: Least role allowed (None: no key needed).
    role: str | None = "viewer"
    path_params: dict[str, dict[str, Any]] = field(default_factory=dict)
    query: dict[str, dict[str, Any]] = field(default_factory=dict)
    body: dict[str, Any] | None = None
    response: dict[str, Any] = field(default_factory=lambda: {"type": "object"})
    status: int = 200
    #: Error statuses the route may answer besides the common ones.
    errors: tuple[int, ...] = ()
    #: A handler that reads the request itself (uploads, streamed answers): its body is not
    #: read or checked here, and it runs in the event loop (it must not block).
    raw: bool = False
    media_type: str = "application/json"
    #: The path is the whole path, not one under :data:`PREFIX` (``/health``, ``/docs``).
    absolute: bool = False
    #: Query parameters that must be given.
    required_query: tuple[str, ...] = ()

    @property
    def full_path(self) -> str:
        return self.path if self.absolute else PREFIX + self.path

    def operation_id(self) -> str:
        return self.handler.__name__.strip("_")


def _coerce(value: str, schema: dict[str, Any]) -> Any:
    kind = schema.get("type")
    if kind == "integer":
        if not value.strip().lstrip("-").isdigit():
            raise ValueError("a whole number")
        return int(value)
    if kind == "boolean":
        if value not in ("true", "false"):
            raise ValueError("true or false")
        return value == "true"
    if "\x00" in value:
        raise ValueError("text without NUL characters")
    if schema.get("format") == "date-time":
        try:
            moment = datetime.fromisoformat(value)
            moment.astimezone(UTC)
        except (ValueError, OverflowError):
            raise ValueError("an ISO 8601 date and time (2026-12-01T00:00:00Z)") from None
        if moment.tzinfo is None:
            raise ValueError("an ISO 8601 date and time with its offset (Z or +01:00)")
        return value
    return value


def _check(where: str, name: str, value: Any, schema: dict[str, Any]) -> None:
    error = jsonschema.exceptions.best_match(
        jsonschema.Draft202012Validator(schema, format_checker=None).iter_errors(value)
    )
    if error is not None:
        path = ".".join(str(p) for p in error.absolute_path)
        named = ".".join(p for p in (name, path) if p)
        raise field_problem(422, where, named, error.message)


def _params(
    where: str, given: Any, declared: dict[str, dict[str, Any]], required: tuple[str, ...] = ()
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, schema in declared.items():
        raw = given.get(name)
        if raw is None:
            if name in required:
                raise field_problem(422, where, name, "required")
            if "default" in schema:
                out[name] = schema["default"]
            elif where == "path":  # pragma: no cover - Starlette matched it
                raise field_problem(404, where, name, "missing")
            else:
                out[name] = None
            continue
        try:
            value = _coerce(raw, schema)
        except ValueError as exc:
            status = 404 if where == "path" else 422
            raise field_problem(status, where, name, f"{raw!r} is not {exc}") from None
        if where == "path" and schema.get("type") == "integer" and not 1 <= value <= 2**31 - 1:
            raise field_problem(404, where, name, f"no such id {raw}")
        _check(where, name, value, schema)
        out[name] = value
    if where == "query":
        unknown = sorted(set(given.keys()) - set(declared))
        if unknown:
            raise field_problem(
                422,
                where,
                unknown[0],
                f"unknown parameter (accepted: {', '.join(declared) or 'none'})",
            )
    return out


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refused with 413 as soon as it passes ``limit`` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise Problem(413, f"request body of {declared} bytes is over the limit of {limit} bytes")
    chunks = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise Problem(413, f"request body is over the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def json_response(data: Any, status: int = 200) -> Response:
    """A JSON answer (orjson; datetimes as ISO 8601)."""
    return Response(orjson.dumps(data), status_code=status, media_type="application/json")


def endpoint_handler(endpoint: Endpoint, state: ApiState) -> Callable[[Request], Any]:
    """The Starlette request handler of ``endpoint``."""
    from pipeline_core.api.auth import authenticate

    async def handle(request: Request) -> Response:
        try:
            key = await authenticate(request, state, endpoint.role)
            path = _params("path", request.path_params, endpoint.path_params)
            query = _params("query", request.query_params, endpoint.query, endpoint.required_query)
            if query.get("limit") and query["limit"] > state.settings.api_max_page:
                raise field_problem(
                    422,
                    "query",
                    "limit",
                    f"{query['limit']} is over PIPELINE_API_MAX_PAGE "
                    f"({state.settings.api_max_page})",
                )
            body: Any = None
            if endpoint.body is not None and not endpoint.raw:
                data = await read_body(request, state.settings.api_max_body)
                if not data:
                    raise field_problem(422, "body", "", "a JSON body is required")
                try:
                    body = orjson.loads(data)
                except orjson.JSONDecodeError as exc:
                    raise field_problem(422, "body", "", f"not JSON: {exc}") from None
                if b"\\u0000" in data:
                    raise field_problem(
                        422, "body", "", "NUL characters (\\u0000) are not accepted"
                    )
                _check("body", "", body, endpoint.body)
            call = Call(request, state, key, path, query, body)
            if endpoint.raw:
                result = await endpoint.handler(call)
            else:
                result = await run_in_threadpool(endpoint.handler, call)
        except Problem as problem:
            return problem.response()
        if isinstance(result, Response):
            return result
        return json_response(result, endpoint.status)

    handle.__name__ = endpoint.operation_id()
    return handle
