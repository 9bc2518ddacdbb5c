"""Monitoring pieces in one process: /metrics labels requests by route template and shows
every family the example alert rules use; the example Prometheus files are the ones the
docs show; JSON log lines mask secrets; LOG_LEVEL=debug and PIPELINE_LOG_FORMAT are read."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml
from api_kit import PREFIX, app_maker, bearer, http_client
from conftest import ROOT
from prometheus_client.parser import text_string_to_metric_families

from pipeline_core.config import load_settings
from pipeline_core.exceptions import ConfigError
from pipeline_core.operations.keys import create_key

EXAMPLES = ROOT / "docs" / "operations" / "prometheus"


@pytest.fixture
def make_app(db_url: str, tmp_path: Path) -> Iterator[Callable[..., Any]]:
    yield from app_maker(db_url, tmp_path)


def _requests(text: str) -> dict[tuple[str, str, str], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "dmo_pipeline_http_requests_total":
                labels = sample.labels
                found[(labels["method"], labels["route"], labels["status"])] = sample.value
    return found


def _names(text: str) -> set[str]:
    names = set()
    for family in text_string_to_metric_families(text):
        names.add(family.name)
        names |= {sample.name for sample in family.samples}
    return names


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_requests_are_counted_by_route_template_and_alerts_use_real_metrics(
    make_app: Any,
) -> None:
    app = make_app()
    client = http_client(app)
    viewer = bearer(create_key(app.state.api.engine, role="viewer")[1])
    before = _requests(client.get("/metrics", headers=viewer).text)
    for job_id in (5, 6, 7):
        assert client.get(PREFIX + f"/jobs/{job_id}", headers=viewer).status_code == 404
    assert client.get("/no/such/path/123").status_code == 404
    answer = client.get("/metrics", headers=viewer)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain; version=")
    assert answer.headers["x-correlation-id"]
    after = _requests(answer.text)

    def grew(key: tuple[str, str, str]) -> float:
        return after.get(key, 0) - before.get(key, 0)

    assert grew(("GET", "/api/v1/pipeline/jobs/{id}", "404")) == 3
    assert grew(("GET", "unmatched", "404")) == 1
    assert grew(("GET", "/metrics", "200")) == 1  # the first scrape, counted once it answered
    assert not [key for key in after if "/5" in key[1] or "123" in key[1]]

    openmetrics = client.get(
        "/metrics", headers=viewer | {"Accept": "application/openmetrics-text; version=1.0.0"}
    )
    assert openmetrics.headers["content-type"].startswith("application/openmetrics-text")
    assert openmetrics.text.endswith("# EOF\n")  # one document: the database's gauges inside
    assert "dmo_pipeline_queue_jobs" in openmetrics.text

    exposed = _names(answer.text)
    rules = yaml.safe_load((EXAMPLES / "dmo-pipeline-alerts.yml").read_text("utf-8"))
    alerts = [rule for group in rules["groups"] for rule in group["rules"]]
    assert [rule["alert"] for rule in alerts] == [
        "DmoPipelineDeadLettersGrowing",
        "DmoPipelineQueueNotFalling",
        "DmoPipelineSourceFailingTwice",
    ]
    for rule in alerts:
        used = set(re.findall(r"dmo_pipeline_[a-z_]+", rule["expr"]))
        assert used and used <= exposed, (rule["alert"], used - exposed)
        assert rule["annotations"]["summary"] and rule["labels"]["severity"]


def test_the_docs_show_the_example_files_and_the_scrape_config_sends_a_key() -> None:
    page = (ROOT / "docs" / "operations" / "monitoring.md").read_text("utf-8")
    for name in ("prometheus.yml", "dmo-pipeline-alerts.yml"):
        text = (EXAMPLES / name).read_text("utf-8")
        assert f"```yaml\n{text}```" in page, name
    config = yaml.safe_load((EXAMPLES / "prometheus.yml").read_text("utf-8"))
    (job,) = config["scrape_configs"]
    assert job["metrics_path"] == "/metrics"
    assert job["authorization"]["type"] == "Bearer"
    assert job["authorization"]["credentials_file"]
    assert config["rule_files"] == ["dmo-pipeline-alerts.yml"]


def test_log_settings_are_read_and_checked() -> None:
    settings = load_settings({"LOG_LEVEL": "debug", "PIPELINE_LOG_FORMAT": "JSON"})
    assert (settings.log_level, settings.log_format) == ("DEBUG", "json")
    assert load_settings({}).log_format == "text"
    with pytest.raises(
        ConfigError, match="PIPELINE_LOG_FORMAT='xml' is not accepted: expected one of text, json"
    ):
        load_settings({"PIPELINE_LOG_FORMAT": "xml"})


def test_json_lines_at_debug_carry_fields_and_mask_secrets() -> None:
    program = """
import logging
from pipeline_core.config import load_settings
from pipeline_core.log_context import log_fields
from pipeline_core.log_format import configure_logging
settings = load_settings()
configure_logging(settings.log_level, settings.log_format)
log = logging.getLogger("demo")
log.debug("connecting to postgresql://dmo:hunter22secret@db/dmo with token=abc123def")
with log_fields(correlation_id="c-1", job_id=7, attempt=2, job_type="scrape", source="s"):
    try:
        raise ValueError("the key was TOPSECRETVALUE99")
    except ValueError:
        log.exception("failed")
"""
    env = {
        "LOG_LEVEL": "debug",
        "PIPELINE_LOG_FORMAT": "json",
        "DMO_SECRET_API": "TOPSECRETVALUE99",
        "PATH": "/usr/bin:/bin",
    }
    done = subprocess.run(
        [sys.executable, "-c", program], env=env, capture_output=True, text=True, check=True
    )
    first, second = (orjson.loads(line) for line in done.stderr.splitlines())
    assert (first["level"], first["logger"]) == ("debug", "demo")
    assert first["message"] == "connecting to postgresql://***@db/dmo with token=***"
    assert "correlation_id" not in first
    assert {
        k: second[k] for k in ("correlation_id", "job_id", "attempt", "job_type", "source")
    } == {"correlation_id": "c-1", "job_id": 7, "attempt": 2, "job_type": "scrape", "source": "s"}
    assert second["level"] == "error" and "ValueError: the key was ***" in second["exception"]
    assert "TOPSECRETVALUE99" not in done.stderr and "hunter22secret" not in done.stderr
