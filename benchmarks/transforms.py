"""Records per second of map + validate + hash, without a database or Scrapy.

``python -m benchmarks.transforms`` runs the mapping stage's work on four feeds: the three
bundled real sources as their mappings in ``mappings/`` read them (Open Data Hub events,
the DATAtourisme point of interest, the Fáilte Ireland attractions) and the synthetic
feed of the ingest benchmark (``benchmarks.datagen``). Each record is mapped
(``CompiledMapping.apply``, transforms included), validated against the canonical schema
and hashed, as the item pipelines do. Beside it, in the same process and the same rounds,
a baseline does the least any stage must do with a record: parse its JSON and write it
back (``json.loads`` + ``orjson.dumps``); the ratio of the two is what the mapping costs,
and stays meaningful on a busy machine. Each feed runs in its own child process, so its
peak RSS is its own.

The DATAtourisme source is one record; it is repeated (``--copies``) to time it. Every
round compiles the mapping again, so transform caches start cold each round (the compile
is not timed).
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import multiprocessing
import resource
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from benchmarks import datagen

ROOT = Path(__file__).resolve().parent.parent
MAPPINGS = ROOT / "mappings"
SAMPLES = MAPPINGS / "samples"
FEEDS = ("odh-events", "datatourisme-poi", "failte-ireland-attractions", "synthetic")


def _records(feed: str, copies: int, synthetic: int) -> list[Any]:
    """The feed's records as its fetcher hands them to the stages."""
    if feed == "odh-events":
        body = (SAMPLES / "odh-events" / "events-100.json").read_bytes()
        items: list[Any] = orjson.loads(body)["Items"]
        return items
    if feed == "datatourisme-poi":
        from pipeline_core.builtin.schema_org import normalise

        (path,) = (SAMPLES / "datatourisme-poi").glob("*.json")
        item = normalise(orjson.loads(path.read_bytes()))
        return [item] * copies
    if feed == "failte-ireland-attractions":
        text = (SAMPLES / "failte-ireland-attractions" / "attractions.csv").read_text("utf-8")
        return list(csv.DictReader(io.StringIO(text)))
    return datagen.generate(synthetic)


def _compiler(feed: str) -> Callable[[], Any]:
    """A function compiling the feed's mapping afresh (cold transform caches)."""
    from pipeline_core.config import load_settings
    from pipeline_core.mapping import CompiledMapping, load_mapping_file, load_mapping_text
    from pipeline_core.plugins import get_plugin_manager

    pm = get_plugin_manager(load_settings({}))
    transforms, fetchers = pm.transforms(), pm.fetchers()
    if feed == "synthetic":
        text = datagen.mapping_yaml("https://bench.example/listings?page=1")
        doc = load_mapping_text(text, "synthetic.yaml")
    else:
        doc = load_mapping_file(MAPPINGS / f"{feed}.yaml")
    default = getattr(fetchers.get(doc.doc["fetcher"]), "default_mapping", None) or {}
    doc = doc.with_defaults(default)
    return lambda: CompiledMapping(doc, transforms)


def _pipeline_pass(mapping: Any, records: list[Any]) -> tuple[int, int]:
    """Map, validate and hash every record; (staged, invalid)."""
    from pipeline_core.exceptions import RecordError
    from pipeline_core.model import record_hash, validate_record

    good = bad = 0
    for payload in records:
        kept: list[RecordError] = []
        try:
            record = mapping.apply(payload, kept=kept)
        except RecordError:
            bad += 1
            continue
        if validate_record(record):
            bad += 1
            continue
        record_hash(record)
        good += 1
    return good, bad


def _baseline_pass(bodies: list[bytes]) -> None:
    """Parse each record's JSON and write it back: the least a stage does with a record."""
    loads, dumps = json.loads, orjson.dumps
    for body in bodies:
        dumps(loads(body))


def run_feed(feed: str, rounds: int, copies: int, synthetic: int) -> dict[str, Any]:
    """Time one feed (best of ``rounds``); runs in a child process."""
    records = _records(feed, copies, synthetic)
    bodies = [orjson.dumps(r) for r in records]
    compile_mapping = _compiler(feed)
    best_map = best_base = float("inf")
    good = bad = 0
    for _ in range(rounds):
        mapping = compile_mapping()
        started = time.perf_counter()
        good, bad = _pipeline_pass(mapping, records)
        best_map = min(best_map, time.perf_counter() - started)
        started = time.perf_counter()
        _baseline_pass(bodies)
        best_base = min(best_base, time.perf_counter() - started)
    n = len(records)
    return {
        "feed": feed,
        "records": n,
        "valid": good,
        "invalid": bad,
        "map_rate": n / best_map,
        "base_rate": n / best_base,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def _child(conn: Any, feed: str, rounds: int, copies: int, synthetic: int) -> None:
    conn.send(run_feed(feed, rounds, copies, synthetic))
    conn.close()


def measure(feed: str, rounds: int, copies: int, synthetic: int) -> dict[str, Any]:
    """Run :func:`run_feed` in a fresh (spawned) process."""
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe(duplex=False)
    process = ctx.Process(target=_child, args=(child, feed, rounds, copies, synthetic))
    process.start()
    result: dict[str, Any] = parent.recv()
    process.join()
    return result


def print_table(results: list[dict[str, Any]]) -> None:
    """The figures, one line per feed."""
    print(
        f"{'feed':<28}{'records':>8}{'invalid':>8}{'map+validate+hash/s':>21}"
        f"{'baseline/s':>12}{'ratio':>7}{'peak RSS MB':>13}"
    )
    for r in results:
        print(
            f"{r['feed']:<28}{r['records']:>8,}{r['invalid']:>8,}{r['map_rate']:>21,.0f}"
            f"{r['base_rate']:>12,.0f}{r['map_rate'] / r['base_rate']:>7.3f}"
            f"{r['peak_rss_mb']:>13.1f}"
        )


def main(argv: list[str] | None = None) -> int:
    """Measure every feed and print the table."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.transforms", description=__doc__)
    parser.add_argument("--rounds", type=int, default=5, help="rounds per feed (best counts)")
    parser.add_argument("--copies", type=int, default=200, help="DATAtourisme record copies")
    parser.add_argument("--synthetic", type=int, default=10000, help="synthetic records")
    parser.add_argument("--feed", choices=FEEDS, action="append", help="only these feeds")
    args = parser.parse_args(argv)
    results = [
        measure(feed, args.rounds, args.copies, args.synthetic) for feed in args.feed or FEEDS
    ]
    print_table(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
