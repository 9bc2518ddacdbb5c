"""``python -m benchmarks.queue --latency``: enqueue-to-start latency on an idle worker.

For each of two workers, one after the other on the same PostgreSQL database, a
``dmo-pipeline worker`` process is started (``PIPELINE_POLL_INTERVAL`` as given, default 1 s)
and ``--latency-jobs`` noop jobs are queued one at a time: each is queued once the one before
it has completed and a random 50-150 ms have passed, so the worker is idle, waiting, every
time. The latency of a job is from just before its enqueue transaction began (this process's
clock) to the start of its handler (``pipeline.jobs.started_at``, the worker's clock; the same
machine). The first worker LISTENs (``PIPELINE_QUEUE_NOTIFY=true``, the default), the second
polls only (``false``). It prints p50, p95, p99 and the largest latency of each, and each
worker's peak RSS (``ru_maxrss`` from ``os.wait4``). Target: p99 at most 100 ms with NOTIFY.

The benchmark waits for each job through its own LISTEN on the job events channel (no
polling of its own that would load the machine).
"""

from __future__ import annotations

import math
import os
import random
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC
from pathlib import Path

import sqlalchemy as sa

from benchmarks._harness import ROOT, child_env, mark, peak_mb

#: p99 of the NOTIFY worker's enqueue-to-start latency, at most (milliseconds).
TARGET_P99_MS = 100.0


@dataclass
class LatencyRun:
    """One worker's latencies (ms) and peak RSS."""

    label: str
    latencies: list[float] = field(default_factory=list)
    max_rss_kib: int = 0
    returncode: int = 0

    def pct(self, p: int) -> float:
        """The nearest-rank ``p`` percentile, in seconds."""
        ordered = sorted(self.latencies)
        return ordered[max(1, math.ceil(p / 100 * len(ordered))) - 1]


def _completed_start(engine: sa.Engine, job_id: int) -> float | None:
    """The start of ``job_id``'s completed attempt (epoch seconds), or None."""
    from pipeline_core.db.tables import jobs

    with engine.connect() as conn:
        started = conn.execute(
            sa.select(jobs.c.started_at).where(
                jobs.c.queue_id == job_id, jobs.c.status == "completed"
            )
        ).scalar()
    if started is None:
        return None
    return float(started.replace(tzinfo=started.tzinfo or UTC).timestamp())


def _one_job(engine: sa.Engine, settings: object, listener: object, deadline: float) -> float:
    """Queue one noop job, wait for it to complete; its enqueue-to-start latency (s)."""
    from pipeline_core.db.engine import write_transaction
    from pipeline_core.queue.enqueue import enqueue

    began = time.time()
    with write_transaction(engine) as conn:
        job_id = enqueue(conn, "noop", {}, settings=settings)  # type: ignore[arg-type]
    assert job_id is not None
    while time.monotonic() < deadline:
        started = _completed_start(engine, job_id)
        if started is not None:
            return started - began
        listener.wait(0.5)  # type: ignore[attr-defined]
    raise SystemExit(f"job {job_id} did not complete in time")


def _run(label: str, notify: bool, url: str, work: Path, jobs: int, poll: float) -> LatencyRun:
    from pipeline_core.config import load_settings
    from pipeline_core.db.engine import make_engine
    from pipeline_core.queue.events import EVENTS_CHANNEL
    from pipeline_core.queue.wakeup import Listener

    env = child_env(url, work, "WARNING")
    env.update(PIPELINE_POLL_INTERVAL=str(poll), PIPELINE_QUEUE_NOTIFY=str(notify).lower())
    log = work / f"latency-{'notify' if notify else 'poll'}.log"
    with log.open("wb") as handle:
        proc = subprocess.Popen(
            [sys.executable, "-m", "pipeline_core.cli", "worker"],
            cwd=ROOT,
            env=env,
            stdout=handle,
            stderr=subprocess.STDOUT,
        )
    settings = load_settings({"PIPELINE_DATABASE_URL": url})
    engine = make_engine(settings.database_url)
    listener = Listener(engine.url, EVENTS_CHANNEL)
    listener.connect()
    run = LatencyRun(label)
    try:
        deadline = time.monotonic() + 120
        _one_job(engine, settings, listener, deadline)  # the worker is up and has run a job
        for n in range(jobs):
            time.sleep(random.uniform(0.05, 0.15))
            run.latencies.append(_one_job(engine, settings, listener, time.monotonic() + 60))
            if (n + 1) % 50 == 0:
                print(f"{n + 1}", end=" ", flush=True)
    finally:
        listener.close()
        engine.dispose()
        proc.send_signal(signal.SIGTERM)
        _, status, usage = os.wait4(proc.pid, 0)
        run.returncode = os.waitstatus_to_exitcode(status)
        run.max_rss_kib = usage.ru_maxrss
    return run


def run_latency(url: str, work: Path, jobs: int, poll: float) -> int:
    """Both workers' runs and the table; 1 when a worker failed or the target was missed."""
    runs = []
    for label, notify in (("LISTEN/NOTIFY", True), ("poll only", False)):
        print(f"{label}: {jobs} jobs ...", end=" ", flush=True)
        runs.append(_run(label, notify, url, work, jobs, poll))
        print(f"(worker exit {runs[-1].returncode})")
    load = os.getloadavg()
    print(
        f"\nenqueue-to-start latency of {jobs} noop jobs queued one at a time on an idle "
        f"worker, PostgreSQL, PIPELINE_POLL_INTERVAL={poll:g}; {os.cpu_count()} CPUs, "
        f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
    )
    header = (
        f"{'worker':<14} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'max ms':>8} "
        f"{'peak RSS MB':>12}"
    )
    print(header)
    print("-" * len(header))
    for run in runs:
        print(
            f"{run.label:<14} {run.pct(50) * 1000:>8.1f} {run.pct(95) * 1000:>8.1f} "
            f"{run.pct(99) * 1000:>8.1f} {max(run.latencies) * 1000:>8.1f} "
            f"{peak_mb(run.max_rss_kib):>12.1f}"
        )
    notify = runs[0]
    met = notify.pct(99) * 1000 <= TARGET_P99_MS
    print(
        f"\ntarget: LISTEN/NOTIFY p99 <= {TARGET_P99_MS:g} ms {mark(met)}; "
        f"poll-only p50 / NOTIFY p50 = {runs[1].pct(50) / max(notify.pct(50), 1e-6):.0f}x"
    )
    print(
        "latency = from just before the enqueue transaction began to the start of the job's "
        "handler (pipeline.jobs.started_at); peak RSS = the worker process's ru_maxrss."
    )
    ok = met and not any(r.returncode for r in runs)
    return 0 if ok else 1
