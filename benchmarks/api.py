"""API benchmark: ``GET /staging/listings`` over 1,000,000 staged listings on PostgreSQL.

``python -m benchmarks.api [--listings N] [--depth PAGES] [--clients N] [--seconds S]
[--database-url URL] [--keep]``

1. The database named by ``--database-url`` (its name must contain ``bench``) is dropped,
   created and migrated, and ``--listings`` staged listings are written with one
   ``INSERT … SELECT generate_series`` (not timed), then ANALYZEd.
2. Two servers run, each one uvicorn process on loopback: the API
   (``pipeline_core.api:create_app``, a viewer key, ``PIPELINE_API_RATE_LIMIT=0`` so the
   load is not refused) and the baseline, the same query behind a bare Starlette route with
   no key, no parameter checks and no row formatting (:mod:`benchmarks._bare_api`).
3. Latency: the median of 15 sequential requests of the first page and of the page
   ``--depth`` pages deep (keyset: ``after`` = the id ending page depth-1), 50 listings a
   page, twice per server in the order bare, API, API, bare (the mean is shown). Target:
   deep within 1.5 times the first.
4. Throughput: ``--clients`` concurrent clients (asyncio + httpx, one process) request
   random pages, ``--seconds`` per server in two halves in the order bare, API, API, bare.
   Target: the API at least 0.7 times the baseline's requests per second.

The servers' peak RSS (``VmHWM``) is printed. Figures come from one run on one machine:
compare the ratios, not the absolute numbers. See ``benchmarks/README.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import sqlalchemy as sa

from benchmarks._harness import (
    Check,
    add_database_arguments,
    check_database_name,
    child_env,
    clean_up,
    code_version,
    mark,
    prepare_database,
    print_checks,
    psycopg_url,
)

DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/dmo_bench_api"
PAGE = 50
DEEP_TARGET = 1.5
RATE_TARGET = 0.7
PATH = "/api/v1/pipeline/staging/listings"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.api", description=__doc__)
    parser.add_argument("--listings", type=int, default=1_000_000, help="staged listings")
    parser.add_argument("--depth", type=int, default=5000, help="pages deep (of 50)")
    parser.add_argument("--clients", type=int, default=50, help="concurrent clients")
    parser.add_argument("--seconds", type=float, default=15.0, help="load time per server")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="use the database a --keep run left (its listings), not a new one",
    )
    add_database_arguments(parser, DEFAULT_DATABASE_URL)
    return parser.parse_args(argv)


def fill(url: str, count: int) -> None:
    """``count`` listings of 40 sources and 4 DMOs, in one statement; then ANALYZE."""
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with engine.begin() as conn:
        conn.exec_driver_sql(
            """
            INSERT INTO staging.listings (source, external_id, dmo, category, status,
                record_hash, record, licence, created_at, updated_at)
            SELECT 'bench-' || (n %% 40), 'L' || n, 'dmo-' || (n %% 4),
                   (ARRAY['attraction','event','lodging','restaurant'])[1 + n %% 4], 'active',
                   md5(n::text) || md5((n + 1)::text),
                   jsonb_build_object('name', jsonb_build_object('en', 'Listing ' || n),
                       'category', 'attraction', 'location',
                       jsonb_build_object('locality', 'Town ' || (n %% 500), 'country', 'IE')),
                   'CC-BY-4.0', now(), now()
            FROM generate_series(1, %(count)s) AS n
            """,
            {"count": count},
        )
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        # Hint bits and the visibility map set now, and the WAL written out: else the first
        # server to read the fresh rows pays for it.
        conn.exec_driver_sql("VACUUM (FREEZE, ANALYZE) staging.listings")
        conn.exec_driver_sql("CHECKPOINT")
    engine.dispose()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start(command: list[str], env: dict[str, str], log: Path, base: str) -> subprocess.Popen[bytes]:
    with log.open("wb") as handle:
        process = subprocess.Popen(command, env=env, stdout=handle, stderr=subprocess.STDOUT)
    for _ in range(400):
        try:
            httpx.get(base + "/", timeout=1)
            return process
        except httpx.HTTPError:
            if process.poll() is not None:
                raise SystemExit(f"server exited: {log.read_text()[-2000:]}") from None
            time.sleep(0.05)
    raise SystemExit(f"server did not start: {log}")


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024 / 1e6
    return float("nan")


def latency(url: str, headers: dict[str, str], after: int, rounds: int) -> tuple[float, int]:
    """Median milliseconds of ``rounds`` sequential requests of the page after ``after``."""
    times = []
    with httpx.Client(headers=headers, timeout=30) as client:
        first = client.get(url, params={"limit": PAGE, "after": after})
        first.raise_for_status()
        for _ in range(rounds):
            began = time.perf_counter()
            client.get(url, params={"limit": PAGE, "after": after}).raise_for_status()
            times.append((time.perf_counter() - began) * 1000)
    return statistics.median(times), len(first.json()["items"])


async def _load(
    url: str, headers: dict[str, str], clients: int, seconds: float, top: int
) -> tuple[int, int]:
    done = errors = 0
    stop = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(headers=headers, timeout=60, limits=limits) as client:

        async def one() -> None:
            nonlocal done, errors
            rng = random.Random()
            while time.perf_counter() < stop:
                after = rng.randrange(0, max(1, top - PAGE))
                try:
                    answer = await client.get(url, params={"limit": PAGE, "after": after})
                except httpx.TransportError:  # a keep-alive connection closed under us
                    errors += 1
                    continue
                if answer.status_code == 200:
                    done += 1
                else:
                    errors += 1

        await asyncio.gather(*(one() for _ in range(clients)))
    return done, errors


def throughput(
    url: str, headers: dict[str, str], clients: int, seconds: float, top: int
) -> tuple[float, int]:
    began = time.perf_counter()
    done, errors = asyncio.run(_load(url, headers, clients, seconds, top))
    return done / (time.perf_counter() - began), errors


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    url = psycopg_url(args.database_url)
    check_database_name(url)
    work = Path(tempfile.mkdtemp(prefix="dmo-bench-api-"))
    created = False
    servers: list[subprocess.Popen[bytes]] = []
    try:
        shown = sa.make_url(url).render_as_string(hide_password=True)
        if args.reuse:
            print(f"database: {shown} (the listings of a --keep run)")
        else:
            print(f"database: {shown} (dropped, created, migrated)")
            prepare_database(url)
            created = True
            began = time.perf_counter()
            fill(url, args.listings)
            print(
                f"staged {args.listings:,} listings in {time.perf_counter() - began:.1f} s "
                "(not timed below)"
            )
        engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
        from pipeline_core.operations.keys import create_key

        _, secret = create_key(engine, role="viewer", name="benchmark")
        offset = min(args.depth * PAGE, args.listings - PAGE) - 1
        with engine.connect() as conn:
            deep_after = conn.exec_driver_sql(
                f"SELECT id FROM staging.listings ORDER BY id OFFSET {offset} LIMIT 1"
            ).scalar_one()
            top = conn.exec_driver_sql("SELECT max(id) FROM staging.listings").scalar_one()
        engine.dispose()
        env = child_env(url, work, "WARNING") | {"PIPELINE_API_RATE_LIMIT": "0"}
        api_port, bare_port = free_port(), free_port()
        api_base, bare_base = f"http://127.0.0.1:{api_port}", f"http://127.0.0.1:{bare_port}"
        servers.append(
            start(
                [
                    sys.executable,
                    "-m",
                    "uvicorn",
                    "--factory",
                    "pipeline_core.api:create_app",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(api_port),
                    "--log-level",
                    "warning",
                    "--no-access-log",
                    "--timeout-keep-alive",
                    "30",
                ],
                env,
                work / "api.log",
                api_base,
            )
        )
        servers.append(
            start(
                [sys.executable, "-m", "benchmarks._bare_api", url, str(bare_port)],
                env,
                work / "bare.log",
                bare_base,
            )
        )
        api = (api_base + PATH, {"Authorization": f"Bearer {secret}"})
        bare = (bare_base + "/bare/listings", {})
        # warm both; then each measure alternates the servers (bare, API, API, bare) and
        # keeps the mean, so neither gets the quieter moment of the machine
        throughput(*bare, clients=args.clients, seconds=1, top=top)
        throughput(*api, clients=args.clients, seconds=1, top=top)
        order = ("bare", "api", "api", "bare")
        target = {"api": api, "bare": bare}
        lat: dict[tuple[str, int], list[float]] = {}
        counts: dict[int, int] = {}
        for after in (0, deep_after):
            for name in order:
                ms, n = latency(*target[name], after=after, rounds=15)
                lat.setdefault((name, after), []).append(ms)
                counts[after] = n
        first_ms, deep_ms = (statistics.mean(lat[("api", a)]) for a in (0, deep_after))
        bare_first_ms, bare_deep_ms = (statistics.mean(lat[("bare", a)]) for a in (0, deep_after))
        first_n, deep_n = counts[0], counts[deep_after]
        rates: dict[str, list[float]] = {"api": [], "bare": []}
        failed = {"api": 0, "bare": 0}
        for name in order:
            rate, errors = throughput(
                *target[name], clients=args.clients, seconds=args.seconds / 2, top=top
            )
            rates[name].append(rate)
            failed[name] += errors
        api_rate, bare_rate = statistics.mean(rates["api"]), statistics.mean(rates["bare"])
        api_errors, bare_errors = failed["api"], failed["bare"]
        rss = [peak_rss_mb(p.pid) for p in servers]
        deep_ratio = deep_ms / first_ms
        rate_ratio = api_rate / bare_rate
        print(
            f"code: {code_version()}; {os.cpu_count()} CPUs; one uvicorn process per server; "
            f"{args.clients} clients in this process"
        )
        print(f"\nlatency, mean of 2 medians of 15 sequential requests, {PAGE} listings a page:")
        print(f"  {'':<22} {'API ms':>8} {'bare ms':>8}")
        print(f"  {'first page':<22} {first_ms:>8.2f} {bare_first_ms:>8.2f}")
        print(f"  {f'page {args.depth:,} deep':<22} {deep_ms:>8.2f} {bare_deep_ms:>8.2f}")
        print(
            f"  deep / first (API): {deep_ratio:.2f}  target <= {DEEP_TARGET}  "
            f"{mark(deep_ratio <= DEEP_TARGET)}"
        )
        print(
            f"\nthroughput, {args.clients} concurrent clients, {args.seconds:g} s each (2 halves):"
        )
        for label, rate, errors, peak in (
            ("API", api_rate, api_errors, rss[0]),
            ("bare", bare_rate, bare_errors, rss[1]),
        ):
            print(
                f"  {label:<5} {rate:>8.1f} requests/s  ({errors} errors)  peak RSS {peak:.0f} MB"
            )
        print(
            f"  API / bare: {rate_ratio:.2f}  target >= {RATE_TARGET}  "
            f"{mark(rate_ratio >= RATE_TARGET)}"
        )
        checks = [
            Check("first page holds a full page", PAGE, first_n),
            Check("deep page holds a full page", PAGE, deep_n),
            Check("API errors under load", 0, api_errors),
            Check("baseline errors under load", 0, bare_errors),
        ]
        print()
        print_checks(checks)
        return 0 if all(c.ok for c in checks) else 1
    finally:
        for process in servers:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
        clean_up(args, url, created, work)


if __name__ == "__main__":
    sys.exit(main())
