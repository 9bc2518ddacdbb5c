"""The text of ``/metrics``: this process's (or, in multiprocess mode, every process's)
counters and histograms, then the gauges read from the database."""

from __future__ import annotations

import os

import sqlalchemy as sa

from pipeline_core.metrics.database import DatabaseCollector
from pipeline_core.metrics.recording import MULTIPROC_ENV, process_metrics


def render_metrics(engine: sa.Engine) -> tuple[bytes, str]:
    """The Prometheus text exposition and its content type."""
    from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest

    process_metrics()  # this process's metrics exist, so a fresh process's families are listed
    folder = os.environ.get(MULTIPROC_ENV)
    if folder:
        from prometheus_client.multiprocess import MultiProcessCollector

        counted = CollectorRegistry()
        MultiProcessCollector(counted, folder)
    else:
        counted = REGISTRY
    database = CollectorRegistry(auto_describe=False)
    database.register(DatabaseCollector(engine))
    return generate_latest(counted) + generate_latest(database), CONTENT_TYPE_LATEST
