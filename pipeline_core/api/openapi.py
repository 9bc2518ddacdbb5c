"""The OpenAPI 3.1 document, built from the endpoints (never written by hand beside them)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pipeline_core.api.endpoints import YAML_TYPES, Endpoint
from pipeline_core.api.problems import PROBLEM_SCHEMA, PROBLEM_TYPE

_PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}


def _problem(description: str) -> dict[str, Any]:
    return {"description": description, "content": {PROBLEM_TYPE: {"schema": _PROBLEM_REF}}}


def _operation(endpoint: Endpoint) -> dict[str, Any]:
    parameters = [
        {"name": name, "in": "path", "required": True, "schema": schema}
        for name, schema in endpoint.path_params.items()
    ] + [
        {"name": name, "in": "query", "required": name in endpoint.required_query, "schema": schema}
        for name, schema in endpoint.query.items()
    ]
    success: dict[str, Any] = {
        "description": endpoint.summary,
        "content": {endpoint.media_type: {"schema": endpoint.response}},
    }
    if endpoint.yaml and endpoint.body is None:
        # GET: the mapping document as YAML text, to ``Accept: application/yaml``
        success["content"]["application/yaml"] = {"schema": {"type": "object"}}
    responses: dict[str, Any] = {str(endpoint.status): success}
    statuses = set(endpoint.errors)
    if endpoint.role is not None:
        statuses |= {401, 403, 429}
    if endpoint.query or endpoint.body is not None:
        statuses.add(422)
    if endpoint.body is not None:
        statuses.add(413)
    for status in sorted(statuses):
        responses[str(status)] = _problem(f"error {status} (problem details)")
    operation: dict[str, Any] = {
        "operationId": endpoint.operation_id(),
        "summary": endpoint.summary,
        "description": (endpoint.handler.__doc__ or "").strip(),
        "tags": [endpoint.tag or "service"],
        "responses": responses,
    }
    if parameters:
        operation["parameters"] = parameters
    if endpoint.body is not None:
        media = "application/octet-stream" if endpoint.raw else "application/json"
        content = {media: {"schema": endpoint.body}}
        if endpoint.yaml:
            content.update((kind, {"schema": endpoint.body}) for kind in YAML_TYPES)
        operation["requestBody"] = {"required": True, "content": content}
    if endpoint.role is None:
        operation["security"] = []
    else:
        operation["x-role"] = endpoint.role
    return operation


def build_document(endpoints: Iterable[Endpoint], version: str) -> dict[str, Any]:
    """The OpenAPI 3.1 document of ``endpoints``."""
    paths: dict[str, dict[str, Any]] = {}
    for endpoint in endpoints:
        paths.setdefault(endpoint.full_path, {})[endpoint.method.lower()] = _operation(endpoint)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "dmo-pipeline API",
            "version": version,
            "description": "Drive and read the dmo-pipeline over HTTP: queue, jobs, files, "
            "staging, sources, stored configurations, errors. Keys: `Authorization: Bearer "
            "KEY` (`dmo-pipeline keys create`); roles viewer < operator < admin; a key scoped "
            "to a DMO sees that DMO only. Errors are problem details (RFC 9457).",
        },
        "paths": paths,
        "components": {
            "schemas": {"Problem": PROBLEM_SCHEMA},
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearer": []}],
    }
