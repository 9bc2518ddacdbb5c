"""``GET /metrics``: Prometheus metrics (:mod:`pipeline_core.metrics`), for a viewer key not
scoped to a DMO (the metrics cover every DMO). Prometheus sends the key with
``authorization: {credentials_file: ...}`` (docs/operations/monitoring.md)."""

from __future__ import annotations

from starlette.responses import Response

from pipeline_core.api.endpoints import Call, Endpoint
from pipeline_core.api.problems import Problem
from pipeline_core.metrics.exposition import render_metrics


def metrics(call: Call) -> Response:
    """The Prometheus text exposition: counters of every process, gauges from the database."""
    if call.dmo is not None:
        raise Problem(
            403,
            f"metrics cover every DMO; key {call.key.id if call.key else '?'} "
            f"is scoped to DMO {call.dmo!r}: use a key without a DMO",
        )
    body, content_type = render_metrics(call.state.engine, call.request.headers.get("accept"))
    return Response(body, media_type=content_type)


ENDPOINTS = [
    Endpoint(
        "GET",
        "/metrics",
        metrics,
        "Prometheus metrics",
        "operations",
        role="viewer",
        absolute=True,
        media_type="text/plain",
        response={"type": "string"},
        errors=(403,),
    ),
]
