"""Queue benchmark: 10,000 no-op jobs through dmo-pipeline's queue and through procrastinate.

``python -m benchmarks.queue [--jobs N] [--workers N] [--database-url URL] [--keep]``

1. The database named by ``--database-url`` (its name must contain ``bench``) is dropped,
   created and migrated; procrastinate's schema is applied in its own PostgreSQL schema,
   ``procrastinate``, of the same database.
2. ``--jobs`` no-op jobs are queued in each (not timed): ``noop`` jobs in
   ``pipeline.queue``, and jobs of an async no-op task in procrastinate.
3. Each queue is drained by ``--workers`` worker processes (:mod:`benchmarks._queue_worker`):
   dmo-pipeline's :class:`~pipeline_core.queue.worker.Worker` with ``once``, and
   procrastinate's ``run_worker_async(wait=False, concurrency=1)``. The workers set up,
   then start together; the run lasts from the start to the last worker's end.

It prints jobs per second of each, the ratio (target: dmo-pipeline at least 4 times
procrastinate), each worker's peak RSS (``ru_maxrss`` from ``os.wait4``) and CPU time, then
checks that every job ran exactly once. See ``benchmarks/README.md``.

``python -m benchmarks.queue --latency [--latency-jobs 200] [--poll-interval 1]`` measures
instead the enqueue-to-start latency of jobs queued one at a time on an idle worker woken by
LISTEN/NOTIFY, beside a poll-only worker (:mod:`benchmarks._latency`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from benchmarks._harness import (
    ROOT,
    Check,
    add_database_arguments,
    check_database_name,
    clean_up,
    code_version,
    mark,
    peak_mb,
    prepare_database,
    print_checks,
    psycopg_url,
)
from benchmarks._harness import (
    child_env as harness_env,
)
from benchmarks._queue_worker import PROCRASTINATE_SCHEMA, procrastinate_app

DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/dmo_bench_queue"
#: dmo-pipeline's rate divided by procrastinate's, at least.
TARGET_RATIO = 4.0

TIMING_NOTE = (
    "run s = from the moment every worker process was set up and told to start (imports, "
    "plugins and connections are left out for both) to the end of the last worker. "
    "jobs/s = jobs / run s. peak RSS = the largest ru_maxrss of the run's worker processes "
    "(os.wait4), in MB of 10^6 bytes. CPU s = user + system time of all its workers."
)


@dataclass
class Run:
    """One queue's run: its workers' figures."""

    label: str
    returncodes: list[int] = field(default_factory=list)
    starts: list[float] = field(default_factory=list)
    ends: list[float] = field(default_factory=list)
    max_rss_kib: int = 0
    cpu_seconds: float = 0.0
    counts: list[dict[str, Any]] = field(default_factory=list)
    logs: list[Path] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        return max(self.ends) - min(self.starts) if self.starts and self.ends else 0.0

    @property
    def peak_rss_mb(self) -> float:
        return peak_mb(self.max_rss_kib)

    def rate(self, jobs: int) -> float:
        return jobs / self.seconds if self.seconds > 0 else 0.0


def child_env(database_url: str, work: Path) -> dict[str, str]:
    """Environment of the worker processes: the benchmark database, quiet logs."""
    return harness_env(database_url, work, "WARNING")


def queue_dmo_jobs(url: str, jobs: int) -> None:
    """Queue ``jobs`` noop jobs in ``pipeline.queue`` (one transaction)."""
    from pipeline_core.config import load_settings
    from pipeline_core.db.engine import make_engine, write_transaction
    from pipeline_core.queue import enqueue

    settings = load_settings({"PIPELINE_DATABASE_URL": url})
    engine = make_engine(settings.database_url)
    with write_transaction(engine) as conn:
        for n in range(jobs):
            enqueue(conn, "noop", {"n": n}, settings=settings)
    engine.dispose()


def prepare_procrastinate(url: str, jobs: int) -> None:
    """Create procrastinate's schema in its own PostgreSQL schema and defer ``jobs`` jobs."""
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with engine.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {PROCRASTINATE_SCHEMA}")
    engine.dispose()
    app = procrastinate_app(url)

    async def main() -> None:
        async with app.open_async():
            await app.schema_manager.apply_schema_async()
            task = app.tasks["noop"]
            for start in range(0, jobs, 1000):
                await task.batch_defer_async(*({} for _ in range(start, min(jobs, start + 1000))))

    asyncio.run(main())


def analyze(url: str) -> None:
    """Refresh the planner statistics of both queues' tables after the bulk insert."""
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.exec_driver_sql("ANALYZE pipeline.queue")
        conn.exec_driver_sql(f"ANALYZE {PROCRASTINATE_SCHEMA}.procrastinate_jobs")
    engine.dispose()


def run_workers(system: str, workers: int, env: dict[str, str], work: Path, url: str) -> Run:
    """Start ``workers`` processes of ``system``, start them together, wait for them."""
    run = Run("dmo-pipeline" if system == "dmo" else "procrastinate")
    go = work / f"{system}.go"
    procs = []
    for n in range(workers):
        ready, out, log = (work / f"{system}-{n}.{ext}" for ext in ("ready", "json", "log"))
        command = [
            sys.executable,
            "-m",
            "benchmarks._queue_worker",
            system,
            "--ready",
            str(ready),
            "--go",
            str(go),
            "--out",
            str(out),
            "--database-url",
            url,
        ]
        with log.open("wb") as handle:
            proc = subprocess.Popen(
                command, cwd=ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT
            )
        procs.append((proc, ready, out))
        run.logs.append(log)
    deadline = time.monotonic() + 300
    while not all(ready.exists() for _, ready, _ in procs):
        if time.monotonic() > deadline or any(p.poll() is not None for p, _, _ in procs):
            break
        time.sleep(0.01)
    go.touch()
    for proc, _, out in procs:
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        run.returncodes.append(proc.returncode)
        run.max_rss_kib = max(run.max_rss_kib, usage.ru_maxrss)
        run.cpu_seconds += usage.ru_utime + usage.ru_stime
        if out.is_file():
            data = json.loads(out.read_text("utf-8"))
            run.starts.append(data["start"])
            run.ends.append(data["end"])
            run.counts.append(data["counts"])
    return run


def dmo_results(url: str) -> dict[str, Any]:
    """Statuses of ``pipeline.queue`` and completed attempts per job."""
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        statuses = dict(
            conn.exec_driver_sql(
                "SELECT status, count(*) FROM pipeline.queue GROUP BY status"
            ).all()
        )
        per_job = dict(
            conn.exec_driver_sql(
                "SELECT n, count(*) FROM (SELECT queue_id, count(*) AS n FROM pipeline.jobs "
                "WHERE status = 'completed' GROUP BY queue_id) AS t GROUP BY n"
            ).all()
        )
    engine.dispose()
    return {"statuses": statuses, "completed_attempts_per_job": per_job}


def procrastinate_results(url: str) -> dict[str, int]:
    """Statuses of procrastinate's jobs."""
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        rows = conn.exec_driver_sql(
            f"SELECT status::text, count(*) FROM {PROCRASTINATE_SCHEMA}.procrastinate_jobs "
            "GROUP BY status"
        ).all()
    engine.dispose()
    return {status: int(n) for status, n in rows}


def print_table(runs: list[Run], jobs: int) -> None:
    ours, theirs = runs
    base = theirs.rate(jobs)
    header = (
        f"{'queue':<14} {'jobs/s':>8} {'vs procrastinate':>16} {'target':>11} "
        f"{'run s':>7} {'peak RSS MB':>11} {'CPU s':>7}"
    )
    print(header)
    print("-" * len(header))
    for run in runs:
        rate = run.rate(jobs)
        ratio = rate / base if base else 0.0
        target = "-"
        if run is ours:
            target = f">= {TARGET_RATIO:.0f} {mark(ratio >= TARGET_RATIO)}"
        print(
            f"{run.label:<14} {rate:>8,.0f} {ratio:>16.2f} {target:>11} "
            f"{run.seconds:>7.2f} {run.peak_rss_mb:>11.1f} {run.cpu_seconds:>7.2f}"
        )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.queue",
        description="No-op jobs through dmo-pipeline's queue and through procrastinate.",
    )
    parser.add_argument("--jobs", type=int, default=10_000, help="jobs per queue (10000)")
    parser.add_argument("--workers", type=int, default=2, help="worker processes (2)")
    parser.add_argument(
        "--latency",
        action="store_true",
        help="measure enqueue-to-start latency on an idle worker instead (NOTIFY vs polling)",
    )
    parser.add_argument(
        "--latency-jobs", type=int, default=200, help="jobs queued one at a time (200)"
    )
    parser.add_argument(
        "--poll-interval", type=float, default=1.0, help="the workers' poll interval, s (1)"
    )
    add_database_arguments(parser, DEFAULT_DATABASE_URL)
    args = parser.parse_args(argv)
    if args.jobs < 1 or args.workers < 1:
        parser.error("--jobs and --workers must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; exit 1 when a worker failed or a job did not run exactly once."""
    args = parse_args(argv)
    url = psycopg_url(args.database_url)
    check_database_name(url)
    if args.latency:
        return latency_main(args, url)
    try:
        import procrastinate  # noqa: F401
    except ImportError:
        raise SystemExit("procrastinate is not installed: pip install -e '.[bench]'") from None
    work = Path(tempfile.mkdtemp(prefix="dmo-bench-queue-"))
    created = False
    n = args.jobs
    try:
        shown = sa.make_url(url).render_as_string(hide_password=True)
        print(f"database: {shown} (dropped, created, migrated)")
        created = True
        prepare_database(url)
        started = time.perf_counter()
        queue_dmo_jobs(url, n)
        prepare_procrastinate(url, n)
        analyze(url)
        print(
            f"queued {n:,} jobs in each queue in {time.perf_counter() - started:.1f} s "
            "(then ANALYZE, so both start with fresh planner statistics)"
        )
        env = child_env(args.database_url, work)
        versions = {code_version()}
        runs = []
        for system in ("dmo", "procrastinate"):
            print(f"{system}: {args.workers} workers ...", end=" ", flush=True)
            run = run_workers(system, args.workers, env, work, url)
            runs.append(run)
            versions.add(code_version())
            print(f"{run.seconds:.2f} s (exit {', '.join(map(str, run.returncodes))})")
            if any(run.returncodes) or len(run.starts) != args.workers:
                print(f"a {system} worker failed; logs in {work}")
                args.keep = True
                return 1
        print()
        print(
            f"{n:,} no-op jobs per queue, {args.workers} worker processes each; "
            f"{os.cpu_count()} CPUs shared by workers and PostgreSQL; "
            f"code: {' / '.join(sorted(versions))}"
        )
        print_table(runs, n)
        print(f"\n{TIMING_NOTE}\n")
        ours = dmo_results(url)
        theirs = procrastinate_results(url)
        claimed = sum(c.get("claimed", 0) for c in runs[0].counts)
        checks = [
            Check("dmo-pipeline: jobs completed", n, ours["statuses"].get("completed")),
            Check("dmo-pipeline: jobs in other states", 0, sum(ours["statuses"].values()) - n),
            Check(
                "dmo-pipeline: completed attempts per job (count of jobs)",
                {1: n},
                ours["completed_attempts_per_job"],
            ),
            Check("dmo-pipeline: claims by the workers", n, claimed),
            Check("procrastinate: jobs succeeded", {"succeeded": n}, theirs),
        ]
        print_checks(checks)
        ok = all(check.ok for check in checks)
        if not ok:
            args.keep = True
        return 0 if ok else 1
    finally:
        clean_up(args, url, created, work)


def latency_main(args: argparse.Namespace, url: str) -> int:
    """``--latency``: :func:`benchmarks._latency.run_latency` on a fresh database."""
    from benchmarks._latency import run_latency

    work = Path(tempfile.mkdtemp(prefix="dmo-bench-latency-"))
    shown = sa.make_url(url).render_as_string(hide_password=True)
    print(f"database: {shown} (dropped, created, migrated)")
    prepare_database(url)
    try:
        code = run_latency(url, work, args.latency_jobs, args.poll_interval)
        if code:
            args.keep = True
        return code
    finally:
        clean_up(args, url, True, work)


if __name__ == "__main__":
    sys.exit(main())
