"""Child process of the ingest benchmark: dlt loads the generated feed into PostgreSQL.

Run as ``python -m benchmarks._dlt_load URL --database-url URL --pipelines-dir DIR
--stats-out FILE``. It follows the feed's next links from ``URL`` with ``requests`` (as a
dlt resource), and runs one dlt pipeline (``bench_listings`` in ``--pipelines-dir``) into
the dataset (PostgreSQL schema) ``dlt_bench`` of the benchmark database with
``write_disposition="merge"`` and ``primary_key="id"``. dlt's own flattening makes the child
tables (names, descriptions, images, hours, dates, ...). The one transformation it is given
reads the feed's ids (an integer, its text, a float or padded text) as one integer, which a
merge key needs; every other value goes in as published (dlt makes a variant column where a
field's type varies).

Run twice with the same ``--pipelines-dir``: the first load, then the reload of the same
data, which dlt merges again (a staging table, then delete and insert by key).

Writes JSON: ``seconds`` (the ``pipeline.run`` call: extract, normalize, load),
``cpu_seconds`` (this process's CPU time over it, all threads), ``machine_cpu_seconds``
(the whole machine's busy CPU time, ``/proc/stat``), and the row counts dlt reported.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

#: The dataset (PostgreSQL schema) dlt loads into, apart from dmo-pipeline's schemas.
DATASET = "dlt_bench"
PIPELINE = "bench_listings"


def feed_pages(url: str, records_key: str, next_key: str) -> Iterator[list[dict[str, Any]]]:
    """The records of each page of the feed, following next links (127.0.0.1 only)."""
    from urllib.parse import urljoin

    import requests

    session = requests.Session()
    while url:
        if not url.startswith("http://127.0.0.1:"):
            raise SystemExit(f"refusing to fetch {url!r}: the benchmark feed is on 127.0.0.1")
        response = session.get(url, timeout=60)
        response.raise_for_status()
        page = response.json()
        yield page[records_key]
        following = page.get(next_key)
        url = urljoin(url, following) if following else ""


def listing_id(record: dict[str, Any]) -> dict[str, Any]:
    """The record with its id as one integer (the feed sends 7, "7", 7.0 or " 7 ")."""
    record["id"] = int(float(str(record["id"]).strip()))
    return record


def load(url: str, database_url: str, pipelines_dir: Path) -> dict[str, Any]:
    """Run the pipeline once; return the timings and what dlt loaded."""
    import dlt
    import sqlalchemy as sa

    from benchmarks import datagen
    from benchmarks._crawl import machine_busy_seconds

    @dlt.resource(name="listings", write_disposition="merge", primary_key="id")
    def listings() -> Iterator[list[dict[str, Any]]]:
        yield from feed_pages(url, datagen.RECORDS_KEY, datagen.NEXT_KEY)

    credentials = sa.make_url(database_url).set(drivername="postgresql")
    if credentials.password is None:  # dlt insists on one; trust authentication ignores it
        credentials = credentials.set(password="unused")
    pipeline = dlt.pipeline(
        pipeline_name=PIPELINE,
        pipelines_dir=str(pipelines_dir),
        destination=dlt.destinations.postgres(
            credentials=credentials.render_as_string(hide_password=False)
        ),
        dataset_name=DATASET,
    )
    machine = machine_busy_seconds()
    cpu = time.process_time()
    started = time.perf_counter()
    info = pipeline.run(listings().add_map(listing_id))
    seconds = time.perf_counter() - started
    cpu_seconds = time.process_time() - cpu
    machine_after = machine_busy_seconds()
    rows = pipeline.last_trace.last_normalize_info.row_counts  # type: ignore[union-attr]
    return {
        "seconds": seconds,
        "cpu_seconds": cpu_seconds,
        "machine_cpu_seconds": None
        if machine is None or machine_after is None
        else machine_after - machine,
        "rows": {name: int(count) for name, count in rows.items()},
        "failed_jobs": bool(info.has_failed_jobs),
    }


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments, load, write the stats file."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks._dlt_load")
    parser.add_argument("url", help="first page of the feed")
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--pipelines-dir", required=True, type=Path)
    parser.add_argument("--stats-out", required=True, type=Path)
    args = parser.parse_args(argv)
    # no usage report to dlthub: the benchmark sends nothing off 127.0.0.1
    os.environ["RUNTIME__DLTHUB_TELEMETRY"] = "false"
    out = load(args.url, args.database_url, args.pipelines_dir)
    args.stats_out.write_text(json.dumps(out, indent=1), "utf-8")
    return 1 if out["failed_jobs"] else 0


if __name__ == "__main__":
    sys.exit(main())
