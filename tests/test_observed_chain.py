"""One chain queued over HTTP and run by a worker process: ``/metrics`` (read with
prometheus-client's own parser, every process's counts added up through
PIPELINE_METRICS_DIR) equals the database's counts, and the JSON log lines of the API
process, the worker and the crawl child all carry the request's correlation id."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import orjson
import sqlalchemy as sa
from conftest import ROOT, run_cli
from feeds import feed, write_mapping
from prometheus_client.parser import text_string_to_metric_families

from pipeline_core.db.tables import crawls, jobs, queue
from pipeline_core.operations.keys import create_key
from pipeline_core.testing import FeedServer, paginate_json

SOURCE = "observed-feed"
COUNT = 60
CORRELATION = "chain-7f3a.req-42"


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def _named(samples: dict[Any, float], name: str) -> dict[tuple[tuple[str, str], ...], float]:
    return {labels: value for (n, labels), value in samples.items() if n == name}


def _json_lines(text: str) -> list[dict[str, Any]]:
    lines = [line for line in text.splitlines() if line.strip()]
    return [orjson.loads(line) for line in lines]  # every line is JSON


def test_http_queued_chain_metrics_and_json_logs(
    db_url: str, engine: sa.Engine, pipeline_env: dict[str, str], tmp_path: Path
) -> None:
    records = feed(COUNT)
    records[4]["lat"] = 123.5  # out of range: invalid
    _, secret = create_key(engine, role="operator")
    auth = {"Authorization": f"Bearer {secret}"}
    port = _port()
    with FeedServer(paginate_json(records, per_page=25)) as server:
        write_mapping(tmp_path / "mappings", SOURCE, server.url("/listings?page=1"))
        env = pipeline_env | {
            "PIPELINE_SOURCES_PATH": str(tmp_path / "mappings"),
            "PIPELINE_METRICS_DIR": str(tmp_path / "metrics"),
            "PIPELINE_LOG_FORMAT": "json",
            "LOG_LEVEL": "info",
            "PIPELINE_API_RATE_LIMIT": "0",
        }
        api = subprocess.Popen(
            [sys.executable, "-m", "pipeline_core.cli", "serve", "--port", str(port)],
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            healthy = 0
            for _ in range(300):
                try:
                    healthy += httpx.get(base + "/health", timeout=1).status_code == 200
                    break
                except httpx.HTTPError:
                    time.sleep(0.05)
            assert healthy == 1
            queued = httpx.post(
                base + "/api/v1/pipeline/queue",
                json={"type": "scrape", "payload": {"source": SOURCE}},
                headers=auth | {"X-Correlation-ID": CORRELATION},
            )
            assert queued.status_code == 201, queued.text
            assert queued.headers["x-correlation-id"] == CORRELATION
            assert queued.json()["correlation_id"] == CORRELATION
            worker_logs = ""
            for _ in range(4):  # each run takes what is due: scrape, then transform, ingest
                ran = run_cli("worker", "--once", env=env)
                assert ran.returncode == 0, ran.stderr
                worker_logs += ran.stderr
                with engine.connect() as conn:
                    left = conn.execute(
                        sa.select(sa.func.count()).where(queue.c.status != "completed")
                    ).scalar_one()
                if not left:
                    break
            assert left == 0
            metrics_text = httpx.get(base + "/metrics", headers=auth).text
            refused = httpx.get(base + "/metrics")
        finally:
            api.terminate()
            _, api_logs = api.communicate(timeout=30)
    assert refused.status_code == 401

    with engine.connect() as conn:
        chain = conn.execute(sa.select(queue.c.type, queue.c.correlation_id)).all()
        ids = conn.execute(sa.select(queue.c.id)).all()
        attempts = Counter(
            (kind, status)
            for kind, status in conn.execute(
                sa.select(queue.c.type, jobs.c.status).join(queue, queue.c.id == jobs.c.queue_id)
            )
        )
        depth = Counter(
            (status, kind) for status, kind in conn.execute(sa.select(queue.c.status, queue.c.type))
        )
        (crawl_stats,) = conn.execute(sa.select(crawls.c.stats)).scalars().all()
    assert sorted(chain) == sorted(
        [("scrape", CORRELATION), ("transform", CORRELATION), ("ingest", CORRELATION)]
    )

    # /metrics: the counters are the database's counts
    samples = _samples(metrics_text)
    assert _named(samples, "dmo_pipeline_jobs_total") == {
        (("outcome", status), ("type", kind)): float(n) for (kind, status), n in attempts.items()
    }
    assert attempts == Counter(
        {("scrape", "completed"): 1, ("transform", "completed"): 1, ("ingest", "completed"): 1}
    )
    durations = _named(samples, "dmo_pipeline_job_duration_seconds_count")
    assert durations == {(("type", kind),): 1.0 for kind in ("scrape", "transform", "ingest")}
    assert _named(samples, "dmo_pipeline_records_total") == {
        (("outcome", "invalid"), ("source", SOURCE)): float(crawl_stats["invalid"]),
        (("outcome", "scraped"), ("source", SOURCE)): float(crawl_stats["scraped"]),
        (("outcome", "staged"), ("source", SOURCE)): float(
            crawl_stats["inserted"] + crawl_stats["updated"]
        ),
        (("outcome", "unchanged"), ("source", SOURCE)): float(crawl_stats["unchanged"]),
    }
    assert (crawl_stats["scraped"], crawl_stats["invalid"]) == (COUNT, 1)
    assert _named(samples, "dmo_pipeline_crawl_duration_seconds_count") == {
        (("source", SOURCE),): 1.0
    }
    assert _named(samples, "dmo_pipeline_queue_jobs") == {
        (("state", state), ("type", kind)): float(n) for (state, kind), n in depth.items()
    }
    assert _named(samples, "dmo_pipeline_source_failures_in_a_row") == {(("source", SOURCE),): 0.0}
    assert _named(samples, "dmo_pipeline_jobs_past_lease") == {(): 0.0}
    requests = _named(samples, "dmo_pipeline_http_requests_total")
    assert (
        requests[(("method", "POST"), ("route", "/api/v1/pipeline/queue"), ("status", "201"))]
        == 1.0
    )
    assert requests[(("method", "GET"), ("route", "/health"), ("status", "200"))] == 1.0

    # JSON logs: one object per line; the API, the worker and its crawl child carry the id
    api_lines = _json_lines(api_logs)
    worker_lines = _json_lines(worker_logs)
    for line in api_lines + worker_lines:
        assert {"time", "level", "logger", "message", "process"} <= line.keys()
    api_pid = api.pid
    from_api = [line for line in api_lines if line.get("correlation_id") == CORRELATION]
    assert {line["process"] for line in from_api} == {api_pid}
    (access,) = [line for line in from_api if line["logger"] == "pipeline_core.api.access"]
    assert access["message"].startswith("POST /api/v1/pipeline/queue 201 in ")
    chained = [line for line in worker_lines if line.get("correlation_id") == CORRELATION]
    relayed = [line for line in chained if "relayed_by" in line]
    own = [line for line in chained if "relayed_by" not in line]
    worker_pids = {line["process"] for line in own}
    assert {line["job_type"] for line in own} == {"scrape", "transform", "ingest"}
    assert {line["source"] for line in own} == {SOURCE}
    assert {line["attempt"] for line in own} == {1}
    # the scrape was queued without a DMO; the jobs it queued next carry its source's
    assert {line.get("dmo") for line in own if line["job_type"] != "scrape"} == {"test-dmo"}
    assert {line["job_id"] for line in own} == {job_id for (job_id,) in ids}
    assert relayed, "\n".join(orjson.dumps(x).decode() for x in worker_lines)
    assert {line["relayed_by"] for line in relayed} <= worker_pids
    assert not {line["process"] for line in relayed} & worker_pids  # another process
    assert any(line["logger"].startswith("scrapy.") for line in relayed)
    assert {line["job_type"] for line in relayed} == {"scrape"}
    # every worker line of a job belongs to the chain
    assert [line for line in worker_lines if "job_id" in line and line not in chained] == []
