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
#: Media types of YAML bodies and answers (of endpoints with ``yaml=True``).
YAML_TYPES = ("application/yaml", "text/yaml")


def media_type(header: str) -> str:
    """The media type of a Content-Type or Accept entry, without parameters, lower case."""
    return header.split(";", 1)[0].strip().lower()


@dataclass
class Call:
    """What a handler gets: the checked parameters and body, the key, the app's state."""

    request: Request
    state: ApiState
    key: ApiKey | None
    path: dict[str, Any]
    query: dict[str, Any]
    body: Any
    #: The body's text (JSON or YAML), to find the line of a value named in an error.
    text: str | None = None
    #: The body came as YAML (``Content-Type: application/yaml`` or ``text/yaml``).
    yaml_body: bool = False

    def wants_yaml(self) -> bool:
        """The client asks for YAML (``Accept: application/yaml`` or ``text/yaml``)."""
        accept = self.request.headers.get("accept", "")
        return any(media_type(part) in YAML_TYPES for part in accept.split(","))

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
    #: The body may be YAML too (read with the mapping reader's bounds; an error names the
    #: line), and a GET answers YAML to ``Accept: application/yaml`` (the handler's job).
    yaml: bool = False

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


def _parse_body(data: bytes, yaml_body: bool) -> tuple[Any, str | None]:
    """The body read as JSON (or YAML) and its text; 422 naming what is wrong, and where."""
    if not data:
        raise field_problem(422, "body", "", "a JSON body is required")
    if yaml_body:
        from pipeline_core.exceptions import MappingError
        from pipeline_core.mapping.yaml_reader import compose_bounded

        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise field_problem(
                422, "body", "", f"not UTF-8 text: {exc.reason} at byte {exc.start}"
            ) from None
        if "\x00" in text:
            raise field_problem(422, "body", "", "NUL characters are not accepted")
        try:
            return compose_bounded(text, "YAML body")[0], text
        except MappingError as exc:
            raise Problem(
                422, str(exc), errors=[{"in": "body", "name": "", "detail": str(exc)}]
            ) from None
    try:
        body = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise field_problem(422, "body", "", f"not JSON: {exc}") from None
    if b"\\u0000" in data:
        raise field_problem(422, "body", "", "NUL characters (\\u0000) are not accepted")
    return body, data.decode("utf-8")


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
            text: str | None = None
            yaml_body = False
            if endpoint.body is not None and not endpoint.raw:
                data = await read_body(request, state.settings.api_max_body)
                yaml_body = endpoint.yaml and (
                    media_type(request.headers.get("content-type", "")) in YAML_TYPES
                )
                body, text = _parse_body(data, yaml_body)
                _check("body", "", body, endpoint.body)
            call = Call(request, state, key, path, query, body, text, yaml_body)
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
