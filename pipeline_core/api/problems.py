"""The API's one error format: RFC 9457 problem details (``application/problem+json``).

Every 4xx and 5xx body is ``{"type", "title", "status", "detail"}``, plus ``errors``, a list
of ``{"in", "name", "detail"}`` naming each parameter or body field at fault (with ``line``
and ``column`` in the body's text when a stored configuration's key is named). Routes raise
:class:`Problem`; the app turns it (and Starlette's own HTTP errors) into that body.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

import orjson
from starlette.responses import Response

PROBLEM_TYPE = "application/problem+json"

#: JSON Schema of a problem body (shown in the OpenAPI document for every error status).
PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["in", "name", "detail"],
                "properties": {
                    "in": {"enum": ["path", "query", "header", "body"]},
                    "name": {"type": "string"},
                    "detail": {"type": "string"},
                    "line": {"type": "integer", "description": "line of the body's text"},
                    "column": {"type": "integer", "description": "column of the body's text"},
                },
            },
        },
    },
}


class Problem(Exception):
    """An answer other than success: status, detail and the fields at fault."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.errors = errors or []
        self.headers = headers or {}

    def response(self) -> Response:
        return problem_response(self.status, self.detail, self.errors, self.headers)


def field_problem(status: int, where: str, name: str, detail: str) -> Problem:
    """A problem about one parameter or body field: ``detail`` names it too."""
    shown = name or "(body)"
    return Problem(
        status, f"{where} {shown}: {detail}", errors=[{"in": where, "name": name, "detail": detail}]
    )


def problem_response(
    status: int,
    detail: str,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """The problem-details response."""
    try:
        title = HTTPStatus(status).phrase
    except ValueError:
        title = "Error"
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": title,
        "status": status,
        "detail": detail,
    }
    if errors:
        body["errors"] = errors
    return Response(
        orjson.dumps(body), status_code=status, media_type=PROBLEM_TYPE, headers=headers
    )
