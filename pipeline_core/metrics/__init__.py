"""Prometheus metrics of the pipeline (prometheus-client), served at ``/metrics``.

Counted where things happen, in whichever process does them (API processes, workers):

- ``dmo_pipeline_jobs_total{type, outcome}``: attempts finished, ``completed``, ``failed``
  or ``expired`` (one per ``pipeline.jobs`` row, as its status);
  ``dmo_pipeline_jobs_dead_lettered_total{type}``;
  ``dmo_pipeline_job_duration_seconds{type}``: how long attempts ran (histogram);
- ``dmo_pipeline_records_total{source, outcome}``: records ``scraped``, ``staged`` (inserted or
  updated), ``unchanged`` and ``invalid`` by the ingests of each source (their crawl's
  counts); ``dmo_pipeline_crawl_duration_seconds{source}`` (histogram, per scrape job);
- ``dmo_pipeline_http_requests_total{method, route, status}`` and
  ``dmo_pipeline_http_request_duration_seconds{method, route}``: ``route`` is the route's
  template (``/api/v1/pipeline/jobs/{id}``), never the raw path.

Read from the database at each scrape (:mod:`pipeline_core.metrics.database`), so they are
right whatever process changed them: ``dmo_pipeline_queue_jobs{state, type}`` (queue depth;
state ``queued``, ``running``, ``completed``, ``failed``), ``dmo_pipeline_dead_letters{type}``,
``dmo_pipeline_jobs_past_lease`` and ``dmo_pipeline_source_failures_in_a_row{source}``.

With ``PIPELINE_METRICS_DIR`` set, every process writes its counts to files in that folder
(prometheus-client's multiprocess mode) and ``/metrics`` adds them up.
"""

from __future__ import annotations

from pipeline_core.metrics.recording import (
    observe_crawl,
    observe_expired,
    observe_http,
    observe_outcomes,
    setup_metrics,
)

__all__ = ["observe_crawl", "observe_expired", "observe_http", "observe_outcomes", "setup_metrics"]
