"""The metrics this process counts, created on first use (after :func:`setup_metrics` has
chosen the multiprocess folder, which prometheus-client reads when a metric is created)."""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from prometheus_client import Counter, Histogram

    from pipeline_core.config import Settings

logger = logging.getLogger(__name__)

#: Environment variable of prometheus-client's multiprocess mode.
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
#: Buckets of job and crawl durations, in seconds (a no-op job to an hour-long crawl).
DURATION_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900, 3600)
#: Buckets of HTTP request durations, in seconds.
HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
#: ``dmo_pipeline_records_total`` outcome → the ingest's stats keys it adds up.
RECORD_OUTCOMES: Mapping[str, tuple[str, ...]] = {
    "scraped": ("scraped",),
    "staged": ("inserted", "updated"),
    "unchanged": ("unchanged",),
    "invalid": ("invalid",),
}


@dataclass(frozen=True)
class _Metrics:
    jobs: Counter
    dead: Counter
    job_seconds: Histogram
    records: Counter
    crawl_seconds: Histogram
    requests: Counter
    request_seconds: Histogram


_lock = threading.Lock()
_metrics: _Metrics | None = None


def setup_metrics(settings: Settings) -> None:
    """Choose this process's metrics folder (``PIPELINE_METRICS_DIR``) before any metric is
    created: prometheus-client reads ``PROMETHEUS_MULTIPROC_DIR`` when it is first imported.
    A folder that does not exist is made."""
    folder = settings.metrics_dir
    if folder is None:
        return
    Path(folder).mkdir(parents=True, exist_ok=True)
    if os.environ.get(MULTIPROC_ENV) != folder:
        if "prometheus_client" in sys.modules and _metrics is not None:
            logger.warning(
                "PIPELINE_METRICS_DIR=%s is set after this process counted metrics: its "
                "counts stay in this process",
                folder,
            )
        os.environ[MULTIPROC_ENV] = folder


def process_metrics() -> _Metrics:
    """This process's metrics, created on first use."""
    global _metrics
    with _lock:
        if _metrics is None:
            from prometheus_client import Counter, Histogram

            _metrics = _Metrics(
                jobs=Counter(
                    "dmo_pipeline_jobs",
                    "Job attempts finished, by job type and outcome (completed, failed, expired).",
                    ["type", "outcome"],
                ),
                dead=Counter(
                    "dmo_pipeline_jobs_dead_lettered",
                    "Jobs dead-lettered (failed for good), by job type.",
                    ["type"],
                ),
                job_seconds=Histogram(
                    "dmo_pipeline_job_duration_seconds",
                    "How long job attempts ran, by job type.",
                    ["type"],
                    buckets=DURATION_BUCKETS,
                ),
                records=Counter(
                    "dmo_pipeline_records",
                    "Records of ingested crawls by source and outcome (scraped, staged, "
                    "unchanged, invalid).",
                    ["source", "outcome"],
                ),
                crawl_seconds=Histogram(
                    "dmo_pipeline_crawl_duration_seconds",
                    "How long the crawls of scrape jobs took, by source.",
                    ["source"],
                    buckets=DURATION_BUCKETS,
                ),
                requests=Counter(
                    "dmo_pipeline_http_requests",
                    "HTTP requests answered, by method, route template and status.",
                    ["method", "route", "status"],
                ),
                request_seconds=Histogram(
                    "dmo_pipeline_http_request_duration_seconds",
                    "How long HTTP requests took to answer, by method and route template.",
                    ["method", "route"],
                    buckets=HTTP_BUCKETS,
                ),
            )
        return _metrics


def observe_outcomes(outcomes: Iterable[Any], dead_types: Iterable[str] = ()) -> None:
    """Count finished attempts (:class:`pipeline_core.queue.job.Outcome` objects whose rows
    were written): outcome, duration and, for an ``ingest``, its crawl's records."""
    metrics = process_metrics()
    for outcome in outcomes:
        job_type = outcome.job.type
        metrics.jobs.labels(job_type, "completed" if outcome.ok else "failed").inc()
        metrics.job_seconds.labels(job_type).observe(outcome.duration_ms / 1000)
        stats = outcome.stats if outcome.ok else None
        payload = outcome.job.payload if isinstance(outcome.job.payload, dict) else {}
        source = (stats or {}).get("source") or payload.get("source")
        if job_type == "ingest" and isinstance(stats, dict) and source:
            for name, keys in RECORD_OUTCOMES.items():
                count = sum(int(stats.get(key) or 0) for key in keys)
                metrics.records.labels(str(source), name).inc(count)
    for job_type in dead_types:
        metrics.dead.labels(job_type).inc()


def observe_expired(job_types: Iterable[str], dead_types: Iterable[str] = ()) -> None:
    """Count attempts whose lease expired (rescued: outcome ``expired``)."""
    metrics = process_metrics()
    for job_type in job_types:
        metrics.jobs.labels(job_type, "expired").inc()
    for job_type in dead_types:
        metrics.dead.labels(job_type).inc()


def observe_crawl(source: str, seconds: float) -> None:
    """Count one crawl of ``source`` that took ``seconds``."""
    process_metrics().crawl_seconds.labels(source).observe(seconds)


def observe_http(method: str, route: str, status: int, seconds: float) -> None:
    """Count one HTTP request answered."""
    metrics = process_metrics()
    metrics.requests.labels(method, route, str(status)).inc()
    metrics.request_seconds.labels(method, route).observe(seconds)
