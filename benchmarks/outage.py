"""``python -m benchmarks.outage``: the operator's run of issue 18, scripted.

PostgreSQL, moto's server as S3 and SQS behind a TCP proxy on 127.0.0.1
(``tests/aws_outage.py``), two worker processes, the scheduler and the relay
(``queue relay --forever``), for ``--seconds`` (60). Four sources on a feed server on
127.0.0.1 are due every minute; every two seconds the benchmark queues a ``noop`` probe job
by hand. In the middle of the run S3 and SQS are **stopped** (connections turned away) for a
quarter of the run, then **frozen** (connections accepted, never answered) for another
quarter. Then the scheduler stops, the queue is drained, and it prints:

- extra crawls: crawl rows beyond one per scrape job that ran (a crawl repeated because
  storage was away);
- orphan crawl rows: finished archive crawls whose file was never stored;
- jobs dead-lettered;
- the longest wait of a new job (probe: queued → its first attempt started), during the
  outages and, as the baseline of the same run, before them;
- the peak RSS of each process.

Figures depend on the machine's load; compare the outage wait with the baseline.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from benchmarks._harness import (
    ROOT,
    Check,
    add_database_arguments,
    check_database_name,
    child_env,
    clean_up,
    peak_mb,
    prepare_database,
    print_checks,
    psycopg_url,
)

DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/dmo_bench_outage"
SOURCES = 4
MAPPING = """\
source: outage-{n}
dmo: dmo-{n}
fetcher: json_api
url: {url}
records: data
id: id
scrape_frequency: "* * * * *"
pagination: {{type: next_link, path: next}}
fields:
  name: title
  category: {{const: attraction}}
"""


def _feed_pages(n: int) -> dict[str, bytes]:
    import orjson

    records = [{"id": f"S{n}-{i}", "title": f"Sight {i} of source {n}"} for i in range(50)]
    return {f"/s{n}": orjson.dumps({"data": records, "next": None})}


def _start(name: str, args: list[str], env: dict[str, str], work: Path) -> subprocess.Popen[bytes]:
    with (work / f"{name}.log").open("wb") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "pipeline_core.cli", *args],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )


def _stop(proc: subprocess.Popen[bytes], timeout: float = 120) -> int:
    """SIGTERM, wait; the peak RSS (KiB) of the process."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            proc.returncode = os.waitstatus_to_exitcode(status)
            return int(usage.ru_maxrss)
        if time.monotonic() > deadline:
            proc.kill()
        time.sleep(0.1)


def _figures(engine: sa.Engine) -> dict[str, Any]:
    from pipeline_core.db.tables import crawls, files, jobs, queue

    with engine.connect() as conn:
        crawl_rows = conn.execute(
            sa.select(crawls.c.id, crawls.c.finished_at, crawls.c.stats)
        ).all()
        with_file = set(
            conn.execute(sa.select(files.c.crawl_id).where(files.c.kind == "raw")).scalars()
        )
        scrapes_run = conn.execute(
            sa.select(sa.func.count(sa.distinct(jobs.c.queue_id)))
            .join(queue, queue.c.id == jobs.c.queue_id)
            .where(queue.c.type == "scrape")
        ).scalar_one()
        dead = conn.execute(
            sa.select(sa.func.count()).where(queue.c.dead_lettered.is_(True))
        ).scalar_one()
        statuses = dict(
            conn.execute(sa.select(queue.c.status, sa.func.count()).group_by(queue.c.status)).all()
        )
    orphans = [
        row.id
        for row in crawl_rows
        if row.finished_at is not None
        and (row.stats or {}).get("archived") is False
        and row.id not in with_file
    ]
    return {
        "crawls": len(crawl_rows),
        "scrapes": scrapes_run,
        "extra_crawls": len(crawl_rows) - scrapes_run,
        "orphans": len(orphans),
        "dead": dead,
        "statuses": statuses,
    }


def _waits(engine: sa.Engine, probes: dict[int, str]) -> dict[str, float]:
    """Longest wait (s) of a probe job, by the phase it was queued in."""
    from pipeline_core.db.tables import jobs, queue

    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(queue.c.id, queue.c.created_at, sa.func.min(jobs.c.started_at))
            .join(jobs, jobs.c.queue_id == queue.c.id)
            .where(queue.c.id.in_(list(probes)))
            .group_by(queue.c.id, queue.c.created_at)
        ).all()
    longest: dict[str, float] = {}
    for job_id, created, started in rows:
        phase = probes[job_id]
        wait = (started - created).total_seconds()
        longest[phase] = max(longest.get(phase, 0.0), wait)
    never = [i for i in probes if i not in {r[0] for r in rows}]
    if never:
        longest["never ran"] = float(len(never))
    return longest


def run(args: argparse.Namespace, url: str, work: Path) -> int:
    sys.path.insert(0, str(ROOT / "tests"))  # the outage proxy is the tests' helper
    import boto3
    from aws_outage import OutageProxy
    from moto_server import CREDENTIALS, moto_server

    from pipeline_core.config import load_settings
    from pipeline_core.db.engine import make_engine
    from pipeline_core.queue.enqueue import enqueue
    from pipeline_core.testing import FeedServer

    os.environ.update(CREDENTIALS)
    pages: dict[str, bytes] = {}
    for n in range(SOURCES):
        pages.update(_feed_pages(n))
    with moto_server() as endpoint, FeedServer(pages) as feed, OutageProxy(endpoint) as proxy:
        bucket = f"outage-{uuid.uuid4().hex[:8]}"
        boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket=bucket)
        queue_url = boto3.client(
            "sqs", region_name="us-east-1", endpoint_url=endpoint
        ).create_queue(QueueName=f"outage-{uuid.uuid4().hex[:8]}")["QueueUrl"]
        mappings = work / "mappings"
        mappings.mkdir()
        for n in range(SOURCES):
            (mappings / f"outage-{n}.yaml").write_text(
                MAPPING.format(n=n, url=feed.url(f"/s{n}")), "utf-8"
            )
        env = child_env(args.database_url, work, "INFO")
        env.update(
            CREDENTIALS,
            PIPELINE_SOURCES_PATH=str(mappings),
            PIPELINE_ALLOWED_HOSTS="127.0.0.1",
            PIPELINE_STORAGE_URL=f"s3://{bucket}/dmo",
            PIPELINE_S3_ENDPOINT_URL=proxy.url,
            PIPELINE_ENABLE_QUEUES="true",
            PIPELINE_JOBS_QUEUE_URL=queue_url,
            PIPELINE_SQS_ENDPOINT_URL=proxy.url,
            # No image job: the outage run is about the scrape chain, and no name of a feed's
            # image may be looked up off loopback.
            PIPELINE_DISABLE_PLUGINS="builtin-image-jobs",
            PIPELINE_AWS_TIMEOUT="2",
            PIPELINE_SWEEP_SECONDS="5",
            PIPELINE_STORAGE_RETRY_SECONDS=str(max(30, args.seconds)),
            PIPELINE_RETRY_BACKOFF="2",
            PIPELINE_RETRY_BACKOFF_MAX="10",
            PIPELINE_DMO_CONCURRENCY="0",
        )
        settings = load_settings(env)
        engine = make_engine(settings.database_url)
        procs = {
            "worker-1": _start("worker-1", ["worker"], env, work),
            "worker-2": _start("worker-2", ["worker"], env, work),
            "scheduler": _start("scheduler", ["scheduler", "--interval", "5"], env, work),
            "relay": _start("relay", ["queue", "relay", "--forever"], env, work),
        }
        quarter = args.seconds / 4
        phases = [("before", None), ("stopped", proxy.stop), ("frozen", proxy.freeze)]
        phases.append(("after", proxy.resume))
        probes: dict[int, str] = {}
        began = time.monotonic()
        current = 0
        print(
            f"running {args.seconds:g} s: 2 workers, scheduler, relay; S3/SQS stopped at "
            f"{quarter:g} s, frozen at {2 * quarter:g} s, back at {3 * quarter:g} s"
        )
        while (elapsed := time.monotonic() - began) < args.seconds:
            due = min(3, int(elapsed // quarter))
            while current < due:
                current += 1
                name, action = phases[current]
                if action is not None:
                    action()
                print(f"  {elapsed:5.1f} s ({time.strftime('%H:%M:%S')}): {name}")
            with engine.begin() as conn:
                job_id = enqueue(conn, "noop", {"probe": current}, settings=settings)
            assert job_id is not None
            probes[job_id] = phases[current][0]
            time.sleep(2.0)
        proxy.resume()
        rss = {"scheduler": _stop(procs.pop("scheduler"))}
        deadline = time.monotonic() + max(120, args.seconds)
        from pipeline_core.db.tables import queue

        while time.monotonic() < deadline:
            with engine.connect() as conn:
                left = conn.execute(
                    sa.select(sa.func.count()).where(queue.c.status.in_(["queued", "running"]))
                ).scalar_one()
            if not left:
                break
            time.sleep(0.5)
        for name, proc in procs.items():
            rss[name] = _stop(proc)
        figures = _figures(engine)
        waits = _waits(engine, probes)
        figures["turned_away"], figures["held"] = proxy.turned_away, proxy.held
        engine.dispose()
    print()
    print(f"jobs by status: {figures['statuses']}")
    print(f"scrape jobs that ran: {figures['scrapes']}; crawl rows: {figures['crawls']}")
    print(
        f"the outage: {figures['turned_away']} connection(s) turned away while stopped, "
        f"{figures['held']} held while frozen"
    )
    print(f"extra crawls:          {figures['extra_crawls']}")
    print(f"orphan crawl rows:     {figures['orphans']}")
    print(f"jobs dead-lettered:    {figures['dead']}")
    for name in ("before", "stopped", "frozen", "after", "never ran"):
        if name in waits:
            label = "probes that never ran" if name == "never ran" else f"longest wait, {name}"
            print(f"{label + ':':<27}{waits[name]:.1f}" + ("" if name == "never ran" else " s"))
    print("peak RSS: " + ", ".join(f"{k} {peak_mb(v):.0f} MB" for k, v in rss.items()))
    checks = [
        Check("extra crawls", 0, figures["extra_crawls"]),
        Check("orphan crawl rows", 0, figures["orphans"]),
        Check("jobs dead-lettered", 0, figures["dead"]),
        Check("probes that never ran", 0, int(waits.get("never ran", 0))),
    ]
    print_checks(checks)
    print(f"\nlogs in {work}" if args.keep else "")
    return 0 if all(c.ok for c in checks) else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.outage", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--seconds", type=float, default=60.0, help="length of the run (60)")
    add_database_arguments(parser, DEFAULT_DATABASE_URL)
    args = parser.parse_args(argv)
    url = psycopg_url(args.database_url)
    check_database_name(url)
    work = Path(tempfile.mkdtemp(prefix="dmo-bench-outage-"))
    created = False
    try:
        prepare_database(url)
        created = True
        result = run(args, url, work)
        if result:
            args.keep = True
        return result
    finally:
        clean_up(args, url, created, work)


if __name__ == "__main__":
    sys.exit(main())
