"""Logs an operator can follow (issue 18, item 9): every line a job writes names the job and
its correlation id (its crawl's relayed lines too); Scrapy's settings and stats dumps only
at DEBUG; the dead-letter line names the source; the scheduler logs in the same format."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import sqlalchemy as sa
from conftest import run_cli
from queue_helpers import make_settings

from pipeline_core.queue.enqueue import enqueue

LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} \[\d+\] [A-Z]+ [\w.]+: ")


@pytest.mark.parametrize(
    "db_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
def test_a_workers_lines_name_their_job(
    pipeline_env: dict[str, str], db_url: str, engine: sa.Engine, tmp_path: Path
) -> None:
    settings = make_settings(db_url, tmp_path)
    with engine.begin() as conn:
        scrape = enqueue(
            conn, "scrape", {"source": "example-city"}, settings=settings, correlation_id="c-7"
        )
        gone = enqueue(conn, "scrape", {"source": "gone"}, settings=settings)
    result = run_cli("worker", "--once", env=dict(pipeline_env, LOG_LEVEL="INFO"))
    assert result.returncode == 0, result.stderr
    lines = result.stderr.splitlines()
    assert all(LINE.match(line) for line in lines if line and not line.startswith(" ")), lines
    crawl_lines = [line for line in lines if "example-city crawl | " in line]
    assert len(crawl_lines) >= 3
    tag = f": job {scrape} (correlation c-7): "
    assert all(tag in line for line in crawl_lines), crawl_lines
    scrape_lines = [line for line in lines if "pipeline_core.jobs.scrape: " in line]
    assert scrape_lines and all(tag in line for line in scrape_lines), scrape_lines
    assert "Dumping Scrapy stats" not in result.stderr
    assert "Overridden settings" not in result.stderr
    assert "Enabled item pipelines" not in result.stderr
    assert any(
        f"job {gone} (scrape, source gone) dead-lettered after attempt 1 of 5: "
        "UnknownSourceError: no source named 'gone'" in line
        for line in lines
    )


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_scheduler_logs_in_the_workers_format(
    pipeline_env: dict[str, str],
) -> None:
    result = run_cli("scheduler", "--once", env=dict(pipeline_env, LOG_LEVEL="INFO"))
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stderr.splitlines() if line]
    assert lines and all(LINE.match(line) for line in lines), lines
