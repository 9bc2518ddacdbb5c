"""The soak benchmark, for half a minute: ``python -m benchmarks.soak --seconds 30`` runs the
worker pool against a steady stream of scrape, transform and ingest jobs and passes its
checks (every chain completed, no job failed, no worker dead, RSS growth and database
connections bounded). Its figures are printed (``-s``), never asserted."""

from __future__ import annotations

import re
import subprocess
import sys
import uuid

import pytest
from conftest import PG_ADMIN_URL, ROOT

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def test_a_half_minute_soak_passes_its_checks(pg_template: str) -> None:
    database = f"dmo_bench_soak_{uuid.uuid4().hex[:10]}"
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{database}"
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.soak", "--seconds", "30", "--scrape-every", "6",
         "--workers", "2", "--database-url", url],
        cwd=ROOT, capture_output=True, text=True, timeout=400, check=False,
    )  # fmt: skip
    print(result.stdout)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("soak: 30 s, 2 workers, a scrape every 6 s over 4 sources")
    assert re.search(r"^queued 5 scrapes in 3\d\.\d s; drained ", result.stdout, re.M)
    checks = [line.split()[0] for line in lines if line.startswith("  ok") or "FAILED" in line]
    assert checks == ["ok"] * 9
    workers = [line for line in lines if line.startswith("worker-")]
    assert len(workers) == 2
