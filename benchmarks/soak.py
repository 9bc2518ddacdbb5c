"""Soak: the worker pool against a steady stream of scrape, transform and ingest jobs.

``python -m benchmarks.soak [--seconds 600] [--workers 4] [--scrape-every 2] [--sources 4]
[--records 200] [--database-url URL] [--keep]``

1. The database named by ``--database-url`` (its name must contain ``bench``) is dropped,
   created and migrated. A generated feed of ``--records`` listings is served on
   127.0.0.1 (:class:`~pipeline_core.testing.FeedServer`) as ``--sources`` sources.
2. ``--workers`` worker processes (``dmo-pipeline worker``) start. For ``--seconds`` the
   soak queues one ``scrape`` every ``--scrape-every`` seconds, the sources in turn;
   each scrape queues its ``transform``, which queues its ``ingest``.
3. Then it stops queueing and waits (at most ``--drain`` seconds) for the queue to empty.

It prints the throughput (jobs completed per second) and the p99 and median latency of
the jobs (queued to completed), from the first completed ingest to the end of queueing,
for the first and the second half (the first is the baseline of the same run: a soak
that degrades shows ratios far from 1); the RSS of every process at start (the first
ingest completed) and at the end, with its growth; the open file
descriptors of each process and the database connections at the end. Checks: every scrape
was followed by its transform and ingest, no job failed, every worker is alive at the end
and exits cleanly, RSS grew by at most ``--rss-growth-mb`` per process, and the database
connections are no more than the workers' pools allow. The exit code is 1 if a check
fails. See ``benchmarks/README.md``.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from benchmarks._harness import (
    ROOT,
    Check,
    add_database_arguments,
    check_database_name,
    clean_up,
    code_version,
    prepare_database,
    print_checks,
    psycopg_url,
)
from benchmarks._harness import child_env as harness_env
from benchmarks.datagen import NEXT_KEY, RECORDS_KEY, generate, mapping_yaml

DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/dmo_bench_soak"
#: Connections a worker may hold: its engine's pool (5 + 10 overflow) and the scrape's crawl.
CONNECTIONS_PER_WORKER = 16


@dataclass
class Sample:
    """One process's figures at one moment (from ``/proc``)."""

    label: str
    pid: int
    rss_mb: float
    fds: int


def sample(label: str, pid: int) -> Sample | None:
    """RSS (MB of 10^6 bytes) and open file descriptors of ``pid``; None once it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        fds = len(os.listdir(f"/proc/{pid}/fd"))
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    kib = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS"))
    return Sample(label, pid, kib * 1024 / 1e6, fds)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.soak", description=__doc__)
    parser.add_argument("--seconds", type=float, default=600.0, help="how long jobs are queued")
    parser.add_argument("--workers", type=int, default=4, help="worker processes")
    parser.add_argument(
        "--scrape-every", type=float, default=2.0, help="seconds between two queued scrapes"
    )
    parser.add_argument("--sources", type=int, default=4, help="sources scraped in turn")
    parser.add_argument("--records", type=int, default=200, help="listings of each source")
    parser.add_argument(
        "--drain", type=float, default=180.0, help="seconds to wait for the queue to empty"
    )
    parser.add_argument(
        "--rss-growth-mb",
        type=float,
        default=50.0,
        help="largest RSS growth of a process, start to end, that passes (MB)",
    )
    add_database_arguments(parser, DEFAULT_DATABASE_URL)
    return parser.parse_args(argv)


def _counts(engine: sa.Engine) -> dict[tuple[str, str], int]:
    with engine.connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT type, status, count(*) FROM pipeline.queue GROUP BY type, status"
        ).all()
    return {(row[0], row[1]): int(row[2]) for row in rows}


def _latencies(engine: sa.Engine) -> list[tuple[float, float]]:
    """(completed at, seconds from queued to completed) of every completed job, in order."""
    with engine.connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT extract(epoch FROM finished_at), "
            "extract(epoch FROM finished_at - created_at) FROM pipeline.queue "
            "WHERE status = 'completed' ORDER BY finished_at"
        ).all()
    return [(float(row[0]), float(row[1])) for row in rows]


def _connections(engine: sa.Engine, database: str) -> int:
    with engine.connect() as conn:
        return int(
            conn.exec_driver_sql(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND pid <> "
                "pg_backend_pid()",
                (database,),
            ).scalar_one()
        )


def _p(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def window_figures(latencies: list[tuple[float, float]], start: float, end: float) -> str:
    done = [lat for at, lat in latencies if start <= at < end]
    seconds = max(end - start, 1e-9)
    return (
        f"{len(done) / seconds:8.2f} jobs/s  p99 {_p(done, 0.99):7.2f} s  "
        f"median {statistics.median(done) if done else 0.0:6.2f} s  ({len(done)} jobs)"
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    url = psycopg_url(args.database_url)
    check_database_name(url)
    work = Path(tempfile.mkdtemp(prefix="dmo-soak-"))
    created = False
    checks: list[Check] = []
    from pipeline_core.config import load_settings
    from pipeline_core.db.engine import make_engine, write_transaction
    from pipeline_core.queue import enqueue
    from pipeline_core.testing import FeedServer, paginate_json

    print(f"soak: {args.seconds:g} s, {args.workers} workers, a scrape every "
          f"{args.scrape_every:g} s over {args.sources} sources of {args.records} listings; "
          f"code {code_version()}")  # fmt: skip
    records = generate(args.records, 2025)
    pages = paginate_json(records, per_page=50, records_key=RECORDS_KEY, next_key=NEXT_KEY)
    server = FeedServer(pages)
    server.start()
    workers: list[subprocess.Popen[bytes]] = []
    try:
        prepare_database(url)
        created = True
        mappings = work / "mappings"
        mappings.mkdir()
        sources = [f"soak-{n}" for n in range(args.sources)]
        for name in sources:
            (mappings / f"{name}.yaml").write_text(
                mapping_yaml(server.url("/listings?page=1"), name), "utf-8"
            )
        env = harness_env(url, work, "WARNING")
        env.update(
            PIPELINE_SOURCES_PATH=str(mappings),
            PIPELINE_ALLOWED_HOSTS="127.0.0.1",
            PIPELINE_POLL_INTERVAL="0.5",
            PIPELINE_DMO_CONCURRENCY="0",
            # The generated feed's images are on hosts that do not exist: the soak is about
            # scrape, transform and ingest, and no image job may look a name up off loopback.
            PIPELINE_DISABLE_PLUGINS="builtin-image-jobs",
        )
        settings = load_settings({"PIPELINE_DATABASE_URL": url})
        engine = make_engine(settings.database_url)
        for n in range(args.workers):
            with (work / f"worker-{n}.log").open("wb") as log:
                workers.append(
                    subprocess.Popen(
                        [sys.executable, "-m", "pipeline_core.cli", "worker"],
                        env=env,
                        cwd=ROOT,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                    )
                )
        labels = [(f"worker-{n}", w.pid) for n, w in enumerate(workers)]
        labels.append(("soak (queue + feed server)", os.getpid()))
        began = time.monotonic()
        wall_start = time.time()
        queued = 0
        start_samples: dict[int, Sample] = {}
        warm = 0.0  # when the first chain completed: the start of the measurement
        while time.monotonic() - began < args.seconds:
            due = began + queued * args.scrape_every
            if time.monotonic() >= due:
                with write_transaction(engine) as conn:
                    enqueue(
                        conn, "scrape", {"source": sources[queued % len(sources)]},
                        settings=settings,
                    )  # fmt: skip
                queued += 1
            if not start_samples and _counts(engine).get(("ingest", "completed")):
                warm = time.time()
                for label, pid in labels:
                    found = sample(label, pid)
                    if found is not None:
                        start_samples[pid] = found
            if any(w.poll() is not None for w in workers):
                break
            time.sleep(0.1)
        queue_end = time.time()
        deadline = time.monotonic() + args.drain
        while time.monotonic() < deadline:
            counts = _counts(engine)
            waiting = sum(n for (_, status), n in counts.items() if status in ("queued", "running"))
            if not waiting:
                break
            time.sleep(0.5)
        wall_end = time.time()
        end_samples = {pid: found for label, pid in labels if (found := sample(label, pid))}
        database = sa.make_url(url).database or ""
        connections = _connections(engine, database)
        alive = [w.poll() is None for w in workers]
        latencies = _latencies(engine)
        counts = _counts(engine)
        engine.dispose()
        for worker in workers:
            if worker.poll() is None:
                worker.send_signal(signal.SIGTERM)
        codes = [worker.wait(120) for worker in workers]

        warm = warm or wall_start
        middle = (warm + queue_end) / 2
        print()
        print(f"queued {queued} scrapes in {queue_end - wall_start:.1f} s; drained "
              f"{wall_end - queue_end:.1f} s later")  # fmt: skip
        for what in ("scrape", "transform", "ingest"):
            print(f"  {what:<9} completed {counts.get((what, 'completed'), 0):5d}  "
                  f"failed {counts.get((what, 'failed'), 0)}")  # fmt: skip
        first = [lat for at, lat in latencies if warm <= at < middle]
        second = [lat for at, lat in latencies if middle <= at < queue_end]
        print(
            f"measured from the first completed ingest, {warm - wall_start:.1f} s in, to "
            "the end of queueing, in two halves (the first is the second's baseline):"
        )
        print(f"  first half   {window_figures(latencies, warm, middle)}")
        print(f"  second half  {window_figures(latencies, middle, queue_end)}")
        ratio = len(second) / len(first) if first else 0.0
        p99_ratio = _p(second, 0.99) / _p(first, 0.99) if _p(first, 0.99) else 0.0
        print(f"  ratio second/first: throughput {ratio:.2f}, p99 latency {p99_ratio:.2f}")
        print(f"  whole run    {window_figures(latencies, wall_start, wall_end + 1)}")
        print()
        print(f"{'process':<28} {'pid':>7} {'RSS start MB':>13} {'RSS end MB':>11} "
              f"{'growth MB':>10} {'fds end':>8}")  # fmt: skip
        growths = []
        for label, pid in labels:
            start_sample, end_sample = start_samples.get(pid), end_samples.get(pid)
            if start_sample is None or end_sample is None:
                print(f"{label:<28} {pid:>7} {'-':>13} {'-':>11} {'-':>10} {'-':>8}")
                continue
            growth = end_sample.rss_mb - start_sample.rss_mb
            growths.append(growth)
            print(f"{label:<28} {pid:>7} {start_sample.rss_mb:13.1f} {end_sample.rss_mb:11.1f} "
                  f"{growth:10.1f} {end_sample.fds:8d}")  # fmt: skip
        print(f"database connections at the end: {connections} "
              f"(bound {CONNECTIONS_PER_WORKER * args.workers})")  # fmt: skip
        scrapes = counts.get(("scrape", "completed"), 0)
        failed = sum(n for (_, status), n in counts.items() if status == "failed")
        checks = [
            Check("scrapes completed", queued, scrapes),
            Check("transforms completed", scrapes, counts.get(("transform", "completed"), 0)),
            Check("ingests completed", scrapes, counts.get(("ingest", "completed"), 0)),
            Check("jobs failed", 0, failed),
            Check("workers alive at the end", [True] * args.workers, alive),
            Check("worker exit codes", [0] * args.workers, codes),
            Check("processes sampled at start and end", len(labels), len(growths)),
            Check(
                f"processes whose RSS grew more than {args.rss_growth_mb:g} MB",
                0,
                sum(1 for growth in growths if growth > args.rss_growth_mb),
            ),
            Check(
                "database connections within the bound",
                True,
                connections <= CONNECTIONS_PER_WORKER * args.workers,
            ),
        ]
        print()
        print_checks(checks)
        print("\nfigures taken on this machine as it was loaded; compare the halves, not runs")
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
                worker.wait()
        server.stop()
        clean_up(args, url, created, work)
    return 0 if checks and all(check.ok for check in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
