"""Child process of the ingest benchmark: one Scrapy crawl of one source, stats to a file.

Run as ``python -m benchmarks._crawl SOURCE --stats-out FILE [--settings JSON]
[--profile FILE]``. It sets Scrapy up the way :func:`pipeline_core.cli.run_crawls` does
(project settings, then the given settings at command-line priority), runs the crawl, and
writes JSON: every Scrapy stat plus ``crawl_seconds``, the crawl's own duration: from the
first item pipeline opening (:class:`CrawlTimer`, opened before the stage pipelines, so the
stage session's open and its load of the staged hashes count) to Scrapy's
``engine_stopped`` signal (after the last flush and the session's close). Interpreter
start-up, imports, plugin loading and Scrapy's engine set-up are left out.
``machine_cpu_seconds`` is the busy CPU time of the whole machine over the same span (every
process: this one, its stage-writer process, PostgreSQL, the feed server), from
``/proc/stat`` (absent where that cannot be read).
``crawl_cpu_seconds`` is the CPU time of this process (all its threads, not its child
processes) over the same span. ``wall_seconds`` is the whole ``CrawlerProcess.crawl()`` +
``start()``, for reference.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any


def machine_busy_seconds() -> float | None:
    """CPU seconds the whole machine has spent busy since boot (Linux ``/proc/stat``: user,
    nice, system, irq, softirq and steal of all CPUs), or None where it cannot be read."""
    try:
        with open("/proc/stat", encoding="ascii") as stat:
            fields = stat.readline().split()
    except OSError:
        return None
    if not fields or fields[0] != "cpu" or len(fields) < 9:
        return None
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(v) for v in fields[1:9])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


class CrawlTimer:
    """Item pipeline without ``process_item`` (no per-item cost) that times the crawl.

    The times are kept on the crawler (``bench_opened``, ``bench_stopped``), as this module
    may be loaded twice: as ``__main__`` and by Scrapy as ``benchmarks._crawl``.
    """

    def __init__(self, crawler: Any) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Any) -> CrawlTimer:
        from scrapy import signals

        timer = cls(crawler)
        crawler.signals.connect(timer.engine_stopped, signal=signals.engine_stopped)
        return timer

    def open_spider(self) -> None:
        self.crawler.bench_opened = time.perf_counter()
        self.crawler.bench_cpu_opened = time.process_time()
        self.crawler.bench_machine_opened = machine_busy_seconds()

    def engine_stopped(self) -> None:
        self.crawler.bench_stopped = time.perf_counter()
        self.crawler.bench_cpu_stopped = time.process_time()
        self.crawler.bench_machine_stopped = machine_busy_seconds()


def crawl(
    source: str, overrides: dict[str, Any], profile: str | None = None
) -> tuple[dict[str, Any], dict[str, float]]:
    """Crawl ``source`` in this process; return Scrapy's stats and the crawl's timings."""
    from scrapy.crawler import CrawlerProcess
    from scrapy.settings import Settings

    from pipeline_core.scrapy.runtime import get_runtime

    runtime = get_runtime()
    runtime.source(source)  # an unknown name fails before anything starts
    runtime.ensure_database()
    settings = Settings()
    settings.setmodule("pipeline_core.scrapy.settings", priority="project")
    settings.update(overrides, priority="cmdline")
    pipelines = settings.getdict("ITEM_PIPELINES")
    pipelines["benchmarks._crawl.CrawlTimer"] = 1
    settings.set("ITEM_PIPELINES", pipelines, priority="cmdline")
    process = CrawlerProcess(settings)
    crawler = process.create_crawler(source)
    profiler = None
    if profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    started = time.perf_counter()
    process.crawl(crawler)
    process.start()
    wall = time.perf_counter() - started
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(profile)
    stats = crawler.stats.get_stats() if crawler.stats else {}
    timings = {"wall_seconds": wall}
    opened = getattr(crawler, "bench_opened", None)
    stopped = getattr(crawler, "bench_stopped", None)
    if opened is not None and stopped is not None:
        timings["crawl_seconds"] = stopped - opened
        timings["crawl_cpu_seconds"] = crawler.bench_cpu_stopped - crawler.bench_cpu_opened
        if crawler.bench_machine_opened is not None and crawler.bench_machine_stopped is not None:
            timings["machine_cpu_seconds"] = (
                crawler.bench_machine_stopped - crawler.bench_machine_opened
            )
    return stats, timings


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments, crawl, write the stats file; exit 1 unless the crawl finished."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks._crawl")
    parser.add_argument("source")
    parser.add_argument("--stats-out", required=True, help="JSON file to write the stats to")
    parser.add_argument("--settings", default="{}", help="Scrapy settings as a JSON object")
    parser.add_argument("--profile", help="write cProfile stats of the crawl to this file")
    args = parser.parse_args(argv)
    stats, timings = crawl(args.source, json.loads(args.settings), args.profile)
    out = {**timings, "stats": stats}
    Path(args.stats_out).write_text(json.dumps(out, default=str, indent=1), "utf-8")
    return 0 if stats.get("finish_reason") == "finished" else 1


if __name__ == "__main__":
    sys.exit(main())
