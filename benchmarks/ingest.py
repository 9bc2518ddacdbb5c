"""Ingest benchmark: crawl a generated 100,000-listing feed several ways, and load it with dlt.

``python -m benchmarks.ingest [--listings N] [--per-page N] [--database-url URL] [--keep]
[--profile] [--breakdown] [--no-dlt]``

1. A separate process generates the feed (:mod:`benchmarks.datagen`) and serves it in pages
   with a next link on 127.0.0.1 (:mod:`benchmarks._server`), so the server never shares
   the crawl's GIL.
2. The feed's mapping is written to a temporary folder named by ``PIPELINE_SOURCES_PATH``,
   and the database named by ``--database-url`` is dropped, created and migrated.
3. Crawls of the source, each in a fresh child process (:mod:`benchmarks._crawl`): the
   *ceiling* (Scrapy with no item pipelines: fetch and parse only), *stock* (the same with
   Scrapy's logging defaults), the *full* crawl into PostgreSQL staging, and an *unchanged*
   re-crawl of the same feed.
4. When dlt is installed (the ``bench`` extra) and ``--no-dlt`` is not given, dlt loads the
   same feed into the same database (:mod:`benchmarks._dlt_load`, dataset ``dlt_bench``,
   merge on ``id``): its first load and its reload of the same data.

For each it prints listings per second, the ratio to the ceiling and the child's peak RSS
(``ru_maxrss`` from ``os.wait4``) beside the targets, then checks the counts: every listing
but the deliberately broken ones staged, nothing written by the unchanged crawl, every
record loaded by dlt. The output ends with ``full crawl vs dlt first load: R`` and
``unchanged crawl vs dlt reload: R``. See ``benchmarks/README.md``.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from benchmarks import datagen
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

DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/dmo_bench"
DEFAULT_SEED = 2025

#: Targets: rate of the full and unchanged crawls as a share of the ceiling; peak RSS.
TARGET_FULL = 0.6
TARGET_UNCHANGED = 0.85
TARGET_RSS_MB = 200.0
#: Targets against dlt (``bench`` extra): the full crawl's rate over dlt's first load, the
#: unchanged crawl's over dlt's reload of the same data.
TARGET_VS_DLT_FIRST = 1.2
TARGET_VS_DLT_RELOAD = 5.0
#: The two dlt columns: its first load of the feed and its reload of the same feed.
DLT_LABELS = ("dlt-first", "dlt-reload")

#: The optional crawl "no-write" (``--breakdown``): map, hash and validate, no stage-write.
NO_WRITE: dict[str, Any] = {
    "ITEM_PIPELINES": {
        "pipeline_core.scrapy.pipelines.MapPipeline": 100,
        "pipeline_core.scrapy.pipelines.HashPipeline": 200,
        "pipeline_core.scrapy.pipelines.ValidatePipeline": 300,
    }
}

#: The reference crawl "stock": the ceiling's spider with Scrapy's own logging defaults, as
#: a new Scrapy project runs (LOG_LEVEL DEBUG: a log record, with the item, per item).
STOCK_SCRAPY: dict[str, Any] = {
    "ITEM_PIPELINES": {},
    "LOG_LEVEL": "DEBUG",
    "LOG_FORMATTER": "scrapy.logformatter.LogFormatter",
}

TIMING_NOTE = (
    "crawl s = the crawl's own duration, timed in the child from the first item pipeline "
    "opening (before the stage session opens and loads the staged hashes) to Scrapy's "
    "engine_stopped signal (after the last flush and the session's close); interpreter "
    "start-up, imports, plugin loading and Scrapy's engine set-up are left out. "
    "listings/s = listings in the feed / crawl s. scrapy s = Scrapy's elapsed_time_seconds "
    "(spider_opened to spider_closed), for reference. CPU s = user + system time of the "
    "whole child process (with the stage-writer process it starts). crawl CPU µs = CPU "
    "time of the crawl's own process (not its children) over crawl s, per listing: it "
    "depends little on what else runs on the machine. CPU vs ceiling = the ceiling's crawl "
    "CPU µs / this crawl's. machine CPU µs = busy CPU time of the whole machine (every "
    "process: the crawl, its stage-writer process, PostgreSQL, the feed server; /proc/stat) "
    "over crawl s, per listing. N-CPU bound = the rate the machine's N CPUs could give for "
    "that work if all were busy with nothing else (N / machine CPU per listing), as a share "
    "of the ceiling's listings/s: no scheduling of the same work does better, so a target "
    "above it needs less work, not more overlap. peak RSS = ru_maxrss of the crawl's "
    "child process (os.wait4), in MB of 10^6 bytes. stock = the ceiling's crawl with "
    "Scrapy's logging defaults (LOG_LEVEL DEBUG, Scrapy's LogFormatter: a log record with "
    "the item for every item, as a new Scrapy project logs); a reference, with no target. "
    "no-write (--breakdown) = map, hash and validate in the crawl, nothing written; it opens "
    "the stage session (a crawls row, the staged hashes) but stages nothing."
)


@dataclass
class CrawlResult:
    """One crawl's figures, as measured from the parent."""

    label: str
    returncode: int
    seconds: float = 0.0
    max_rss_kib: int = 0
    cpu_seconds: float = 0.0
    crawl_cpu_seconds: float = 0.0
    machine_cpu_seconds: float | None = None
    stats: dict[str, Any] = field(default_factory=dict)
    log: Path | None = None

    @property
    def peak_rss_mb(self) -> float:
        return peak_mb(self.max_rss_kib)

    @property
    def scrapy_seconds(self) -> float | None:
        value = self.stats.get("elapsed_time_seconds")
        return float(value) if value is not None else None

    def rate(self, listings: int) -> float:
        return listings / self.seconds if self.seconds > 0 else 0.0

    def cpu_bound(self, listings: int, cpus: int) -> float | None:
        """The most listings/s this machine's CPUs could give for this crawl's work: all of
        them busy with nothing else, whatever the scheduling."""
        if not self.machine_cpu_seconds:
            return None
        return cpus * listings / self.machine_cpu_seconds


def staged_count(url: str, source: str) -> int:
    """Rows of ``source`` in ``staging.listings``."""
    from pipeline_core.db.tables import staging

    listings = staging["listings"]
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            query = sa.select(sa.func.count()).where(listings.c.source == source)
            return int(conn.execute(query).scalar_one())
    finally:
        engine.dispose()


def child_env(database_url: str, work: Path) -> dict[str, str]:
    """Environment of the crawl children: this benchmark's database, mapping folder, hosts."""
    env = harness_env(database_url, work, "INFO")
    if "PIPELINE_BATCH_SIZE" in os.environ:
        env["PIPELINE_BATCH_SIZE"] = os.environ["PIPELINE_BATCH_SIZE"]
    env.update(
        PIPELINE_SOURCES_PATH=str(work / "sources"),
        PIPELINE_ALLOWED_HOSTS="127.0.0.1",
    )
    return env


def run_crawl(
    label: str,
    env: dict[str, str],
    work: Path,
    settings: dict[str, Any] | None = None,
    profile: Path | None = None,
) -> CrawlResult:
    """Crawl the benchmark source in a fresh child process; measure it with ``os.wait4``."""
    stats_file = work / f"{label}.stats.json"
    log = work / f"{label}.log"
    command = [
        sys.executable,
        "-m",
        "benchmarks._crawl",
        datagen.SOURCE,
        "--stats-out",
        str(stats_file),
        "--settings",
        json.dumps(settings or {}),
    ]
    if profile is not None:
        command += ["--profile", str(profile)]
    with log.open("wb") as out:
        proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    result = CrawlResult(
        label,
        proc.returncode,
        max_rss_kib=usage.ru_maxrss,
        cpu_seconds=usage.ru_utime + usage.ru_stime,
        log=log,
    )
    if stats_file.is_file():
        data = json.loads(stats_file.read_text("utf-8"))
        result.seconds = float(data.get("crawl_seconds", 0.0))
        result.crawl_cpu_seconds = float(data.get("crawl_cpu_seconds", 0.0))
        machine = data.get("machine_cpu_seconds")
        result.machine_cpu_seconds = None if machine is None else float(machine)
        result.stats = data["stats"]
    return result


def dlt_installed() -> bool:
    """Whether dlt (the ``bench`` extra) can be imported here."""
    import importlib.util

    return importlib.util.find_spec("dlt") is not None


def run_dlt(label: str, feed_url: str, database_url: str, work: Path) -> CrawlResult:
    """dlt loads the feed into the benchmark database (:mod:`benchmarks._dlt_load`) in a
    fresh child process; its pipeline folder in ``work`` is kept, so a second call is the
    reload of the same data."""
    stats_file = work / f"{label}.stats.json"
    log = work / f"{label}.log"
    command = [
        sys.executable,
        "-m",
        "benchmarks._dlt_load",
        feed_url,
        "--database-url",
        database_url,
        "--pipelines-dir",
        str(work / "dlt-pipelines"),
        "--stats-out",
        str(stats_file),
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIPELINE_")}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    with log.open("wb") as out:
        proc = subprocess.Popen(command, cwd=work, env=env, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
    result = CrawlResult(
        label,
        os.waitstatus_to_exitcode(status),
        max_rss_kib=usage.ru_maxrss,
        cpu_seconds=usage.ru_utime + usage.ru_stime,
        log=log,
    )
    if stats_file.is_file():
        data = json.loads(stats_file.read_text("utf-8"))
        result.seconds = float(data["seconds"])
        result.crawl_cpu_seconds = float(data["cpu_seconds"])
        machine = data.get("machine_cpu_seconds")
        result.machine_cpu_seconds = None if machine is None else float(machine)
        result.stats = {"rows": data["rows"], "finish_reason": "finished"}
    return result


def dlt_listings(url: str) -> int | None:
    """Rows of dlt's ``listings`` table (None when dlt made none)."""
    from benchmarks._dlt_load import DATASET

    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            return int(
                conn.exec_driver_sql(f"SELECT count(*) FROM {DATASET}.listings").scalar_one()
            )
    except sa.exc.ProgrammingError:
        return None
    finally:
        engine.dispose()


def print_dlt_comparison(results: dict[str, CrawlResult], listings: int) -> None:
    """The last two lines: the full and unchanged crawls' rates over dlt's."""
    pairs = (
        ("full crawl vs dlt first load", "full", "dlt-first", TARGET_VS_DLT_FIRST),
        ("unchanged crawl vs dlt reload", "unchanged", "dlt-reload", TARGET_VS_DLT_RELOAD),
    )
    for text, ours, theirs, target in pairs:
        if theirs not in results:
            print(f"{text}: - (dlt is not installed: pip install -e '.[bench]')")
            continue
        ratio = results[ours].rate(listings) / results[theirs].rate(listings)
        print(f"{text}: {ratio:.2f} (target >= {target:g} {mark(ratio >= target)})")


def start_server(n: int, seed: int, per_page: int) -> tuple[Any, Any, dict[str, Any]]:
    """Start the feed server process; return it, its pipe and what it serves."""
    from benchmarks._server import serve

    context = multiprocessing.get_context("spawn")
    parent_end, child_end = context.Pipe()
    process = context.Process(
        target=serve, args=(n, seed, per_page, child_end), name="bench-feed", daemon=True
    )
    process.start()
    child_end.close()
    try:
        if not parent_end.poll(900):
            process.terminate()
            raise SystemExit("the feed server did not start within 15 minutes")
        info: dict[str, Any] = parent_end.recv()
    except EOFError:
        process.join(5)
        raise SystemExit(f"the feed server exited (code {process.exitcode})") from None
    if "error" in info:
        process.join(5)
        raise SystemExit(f"the feed server failed: {info['error']}")
    if not info["url"].startswith("http://127.0.0.1:"):
        raise SystemExit(f"the feed server is not on 127.0.0.1: {info['url']}")
    return process, parent_end, info


def stop_server(process: Any, pipe: Any) -> None:
    """Tell the feed server to stop; terminate it if it does not."""
    try:
        pipe.send("stop")
    except OSError:
        pass
    process.join(10)
    if process.is_alive():
        process.terminate()
        process.join(5)


def print_table(results: list[CrawlResult], listings: int) -> None:
    """The figures of the three crawls beside the targets."""
    ceiling = results[0].rate(listings)
    ceiling_cpu = results[0].crawl_cpu_seconds
    cpus = os.cpu_count() or 1
    targets = {"full": TARGET_FULL, "unchanged": TARGET_UNCHANGED}
    width = max(10, *(len(result.label) for result in results))
    header = (
        f"{'crawl':<{width}} {'listings/s':>10} {'vs ceiling':>10} {'target':>14} "
        f"{'peak RSS MB':>11} {'target':>14} {'crawl s':>8} {'scrapy s':>8} {'CPU s':>7} "
        f"{'crawl CPU µs':>12} {'CPU vs ceiling':>14} {'machine CPU µs':>14} "
        f"{f'{cpus}-CPU bound':>12}"
    )
    print(header)
    print("-" * len(header))
    for result in results:
        rate = result.rate(listings)
        ratio = rate / ceiling if ceiling else 0.0
        target = targets.get(result.label)
        ratio_target = "-" if target is None else f">= {target:.2f} {mark(ratio >= target)}"
        rss_ok = result.peak_rss_mb < TARGET_RSS_MB
        rss_target = "-" if result.label in DLT_LABELS else f"< {TARGET_RSS_MB:.0f} {mark(rss_ok)}"
        scrapy_s = result.scrapy_seconds
        print(
            f"{result.label:<{width}} {rate:>10,.0f} {ratio:>10.2f} {ratio_target:>14} "
            f"{result.peak_rss_mb:>11.1f} {rss_target:>14} "
            f"{result.seconds:>8.2f} {'-' if scrapy_s is None else f'{scrapy_s:.2f}':>8} "
            f"{result.cpu_seconds:>7.2f} "
            f"{result.crawl_cpu_seconds * 1e6 / listings:>12.0f} "
            f"{ceiling_cpu / result.crawl_cpu_seconds if result.crawl_cpu_seconds else 0.0:>14.2f} "
            f"{_per_listing(result.machine_cpu_seconds, listings):>14} "
            f"{_bound(result.cpu_bound(listings, cpus), ceiling):>12}"
        )


def _per_listing(seconds: float | None, listings: int) -> str:
    return "-" if seconds is None else f"{seconds * 1e6 / listings:.0f}"


def _bound(rate: float | None, ceiling: float) -> str:
    return "-" if rate is None or not ceiling else f"{rate / ceiling:.2f}"


def print_stock_comparison(results: dict[str, CrawlResult], listings: int) -> None:
    """The full and unchanged crawls' rates against the stock Scrapy crawl's."""
    stock = results["stock"].rate(listings)
    if not stock:
        return
    print(
        f"against stock Scrapy with no item pipelines ({stock:,.0f} listings/s): "
        f"full crawl {results['full'].rate(listings) / stock:.2f}x, "
        f"unchanged crawl {results['unchanged'].rate(listings) / stock:.2f}x"
    )


def checks_for(
    results: dict[str, CrawlResult],
    listings: int,
    invalid: int,
    staged: int | None,
    dlt_rows: int | None = None,
) -> list[Check]:
    """What each crawl must have done."""
    good = listings - invalid
    ceiling = results["ceiling"].stats
    full = results["full"].stats
    unchanged = results["unchanged"].stats
    checks = [
        Check(f"{r.label}: finish_reason", "finished", r.stats.get("finish_reason"))
        for r in results.values()
    ]
    checks += [
        Check("ceiling: items scraped (no pipelines)", listings, ceiling.get("item_scraped_count")),
        Check("ceiling: no stage session ran", None, ceiling.get("dmo/scraped")),
        Check("stock: items scraped", listings, results["stock"].stats.get("item_scraped_count")),
        Check("full: dmo/scraped", listings, full.get("dmo/scraped")),
        Check("full: dmo/inserted", good, full.get("dmo/inserted")),
        Check("full: dmo/invalid (deliberate)", invalid, full.get("dmo/invalid")),
        Check("full: dmo/duplicates", 0, full.get("dmo/duplicates")),
        Check("full: staging.listings rows", good, staged),
        Check("full: dmo/complete", True, full.get("dmo/complete")),
        Check("unchanged: dmo/scraped", listings, unchanged.get("dmo/scraped")),
        Check("unchanged: dmo/unchanged", good, unchanged.get("dmo/unchanged")),
        Check("unchanged: dmo/inserted + dmo/updated", 0, _sum(unchanged, "inserted", "updated")),
        Check("unchanged: dmo/rows_written", 0, unchanged.get("dmo/rows_written")),
        Check("unchanged: dmo/withdrawn", 0, unchanged.get("dmo/withdrawn")),
    ]
    for label in DLT_LABELS:  # dlt loads every record, the broken ones too
        if label in results:
            rows = results[label].stats.get("rows", {})
            checks.append(Check(f"{label}: listings loaded", listings, rows.get("listings")))
    if DLT_LABELS[-1] in results:
        checks.append(Check("dlt: rows of dlt_bench.listings (merged)", listings, dlt_rows))
    return checks


def _sum(stats: dict[str, Any], *keys: str) -> int | None:
    values = [stats.get(f"dmo/{key}") for key in keys]
    return None if any(v is None for v in values) else sum(values)


def _area(filename: str) -> str:
    """The package (or pipeline_core module group) a profiled function belongs to."""
    if filename.startswith("~") or filename.startswith("<"):
        return "builtins (C)"
    if "site-packages/" in filename:
        return filename.split("site-packages/", 1)[1].split("/", 1)[0].removesuffix(".py")
    path = Path(filename)
    try:
        parts = path.resolve().relative_to(ROOT).parts
    except ValueError:
        return "stdlib"
    if parts[0] == "pipeline_core" and len(parts) > 2:
        return f"pipeline_core.{parts[1]}"
    return ".".join(parts[:2]).removesuffix(".py")


def print_profile(path: Path, listings: int, top: int = 25) -> None:
    """Where a profiled crawl spent its time, per listing: by package, then by function."""
    import pstats

    stats = pstats.Stats(str(path))
    table: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    total = sum(row[2] for row in table.values())
    per_listing = total / listings * 1e6
    print(f"\nprofile {path.name}: {total:.2f} s under cProfile, {per_listing:.0f} µs/listing")
    areas: dict[str, float] = {}
    for (filename, _line, _name), row in table.items():
        area = _area(filename)
        areas[area] = areas.get(area, 0.0) + row[2]
    print("  own time by package:")
    for area, own in sorted(areas.items(), key=lambda kv: kv[1], reverse=True)[:12]:
        print(f"  {own / listings * 1e6:>8.1f} µs/listing {own / total:>6.1%}  {area}")
    print(f"  {'own µs/listing':>14} {'cum µs/listing':>14} {'calls/listing':>13}  function")
    rows = sorted(table.items(), key=lambda kv: kv[1][2], reverse=True)
    for (filename, line, name), (_cc, calls, own, cum, _callers) in rows[:top]:
        where = filename.replace(str(ROOT) + "/", "")
        if "site-packages/" in where:
            where = where.split("site-packages/", 1)[1]
        elif "/lib/python3" in where:
            where = where.split("/lib/", 1)[1]
        print(
            f"  {own / listings * 1e6:>14.1f} {cum / listings * 1e6:>14.1f} "
            f"{calls / listings:>13.2f}  {where}:{line}({name})"
        )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.ingest",
        description="Crawl a generated listings feed: ceiling, full and unchanged crawl rates.",
    )
    parser.add_argument("--listings", type=int, default=100_000, help="feed size (100000)")
    parser.add_argument("--per-page", type=int, default=100, help="records per page (100)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="generator seed")
    add_database_arguments(parser, DEFAULT_DATABASE_URL)
    parser.add_argument(
        "--profile",
        action="store_true",
        help="run every crawl under cProfile and print where its time goes, per listing "
        "(the timings are then inflated by the profiler: use them only to compare costs)",
    )
    parser.add_argument(
        "--breakdown",
        action="store_true",
        help="also crawl with map, hash and validate but no stage-write (no-write), to "
        "tell the crawl process's own stages from the cost of writing",
    )
    parser.add_argument(
        "--no-dlt",
        action="store_true",
        help="leave out dlt's first load and reload (run by default when dlt, the bench "
        "extra, is installed)",
    )
    args = parser.parse_args(argv)
    if args.listings < 1 or args.per_page < 1:
        parser.error("--listings and --per-page must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; exit 1 when a crawl failed or a count check did not hold."""
    args = parse_args(argv)
    url = psycopg_url(args.database_url)
    check_database_name(url)
    n = args.listings
    work = Path(tempfile.mkdtemp(prefix="dmo-bench-"))
    (work / "sources").mkdir()
    server = pipe = None
    created = False
    try:
        print(f"generating {n:,} listings (seed {args.seed}) in the feed-server process ...")
        server, pipe, info = start_server(n, args.seed, args.per_page)
        print(
            f"feed: {info['url']}  {info['pages']:,} pages of {args.per_page}, "
            f"{info['bytes'] / 1e6:,.1f} MB, generated in {info['generate_seconds']:.1f} s; "
            f"{info['invalid']} records broken on purpose"
        )
        mapping_file = work / "sources" / f"{datagen.SOURCE}.yaml"
        mapping_file.write_text(datagen.mapping_yaml(info["url"]), "utf-8")
        shown = sa.make_url(url).render_as_string(hide_password=True)
        print(f"database: {shown} (dropped, created, migrated)")
        created = True  # from here on the database is ours to drop
        prepare_database(url)
        env = child_env(args.database_url, work)

        results: dict[str, CrawlResult] = {}
        staged: int | None = None
        plan: list[tuple[str, dict[str, Any]]] = [
            ("ceiling", {"ITEM_PIPELINES": {}}),
            ("stock", STOCK_SCRAPY),
            ("full", {}),
            ("unchanged", {}),
        ]
        if args.breakdown:
            plan.insert(2, ("no-write", NO_WRITE))
        versions = {code_version()}
        for label, settings in plan:
            profile = work / f"{label}.prof" if args.profile else None
            print(f"crawl {label} ...", end=" ", flush=True)
            started = time.perf_counter()
            result = run_crawl(label, env, work, settings, profile)
            results[label] = result
            versions.add(code_version())
            print(f"{time.perf_counter() - started:.1f} s with start-up (exit {result.returncode})")
            if result.returncode != 0 or not result.stats:
                print(f"crawl {label} failed; its log: {result.log}")
                print(_tail(result.log))
                args.keep = True
                return 1
            if label == "full":
                staged = staged_count(url, datagen.SOURCE)
        dlt_rows: int | None = None
        if not args.no_dlt and dlt_installed():
            for label in DLT_LABELS:
                print(f"load {label} ...", end=" ", flush=True)
                started = time.perf_counter()
                result = run_dlt(label, info["url"], args.database_url, work)
                results[label] = result
                took = time.perf_counter() - started
                print(f"{took:.1f} s with start-up (exit {result.returncode})")
                if result.returncode != 0 or not result.stats:
                    print(f"dlt {label} failed; its log: {result.log}")
                    print(_tail(result.log))
                    args.keep = True
                    return 1
            dlt_rows = dlt_listings(url)

        print()
        print(
            f"{n:,} listings, {args.per_page} per page; "
            f"{os.cpu_count()} CPUs shared by crawl, feed server and PostgreSQL; "
            f"code: {' / '.join(sorted(versions))}"
            + ("; UNDER cProfile: all timings inflated" if args.profile else "")
        )
        if len(versions) > 1:
            print("WARNING: the code changed while the benchmark ran; the figures are mixed")
        print_table(list(results.values()), n)
        print_stock_comparison(results, n)
        print(f"\n{TIMING_NOTE}\n")
        checks = checks_for(results, n, info["invalid"], staged, dlt_rows)
        print_checks(checks)
        print(f"\nstaging.listings after the full crawl: {staged:,} rows")
        if args.profile:
            for label in results:
                if label not in DLT_LABELS:
                    print_profile(work / f"{label}.prof", n)
        print()
        print_dlt_comparison(results, n)
        ok = all(check.ok for check in checks)
        if not ok:
            args.keep = True
        return 0 if ok else 1
    finally:
        if server is not None:
            stop_server(server, pipe)
        clean_up(args, url, created, work)


def _tail(path: Path | None, lines: int = 30) -> str:
    if path is None or not path.is_file():
        return ""
    return "\n".join(path.read_text("utf-8", errors="replace").splitlines()[-lines:])


if __name__ == "__main__":
    sys.exit(main())
