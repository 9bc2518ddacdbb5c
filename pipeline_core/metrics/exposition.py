"""The text of ``/metrics``: this process's (or, in multiprocess mode, every process's)
counters and histograms, and the gauges read from the database, in the format the
scraper asks for (Prometheus text, or OpenMetrics when its ``Accept`` header says so)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa

from pipeline_core.metrics.database import DatabaseCollector
from pipeline_core.metrics.recording import MULTIPROC_ENV, process_metrics


class _Together:
    """One collector yielding the families of several."""

    def __init__(self, *parts: Any) -> None:
        self.parts = parts

    def collect(self) -> Iterator[Any]:
        for part in self.parts:
            yield from part.collect()


def render_metrics(engine: sa.Engine, accept: str | None = None) -> tuple[bytes, str]:
    """The exposition for a scraper that sent ``accept``, and its content type."""
    from prometheus_client import REGISTRY, CollectorRegistry
    from prometheus_client.exposition import choose_encoder

    process_metrics()  # this process's metrics exist, so a fresh process's families are listed
    folder = os.environ.get(MULTIPROC_ENV)
    if folder:
        from prometheus_client.multiprocess import MultiProcessCollector

        counted: Any = CollectorRegistry()
        MultiProcessCollector(counted, folder)
    else:
        counted = REGISTRY
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Together(counted, DatabaseCollector(engine)))
    encoder, content_type = choose_encoder(accept or "")
    return encoder(registry), content_type
