"""What the PostgreSQL benchmarks share: their throw-away database (named ``*bench*``,
dropped, created and migrated; dropped again at the end unless ``--keep``), the
environment of their child processes, the code version they measured, and their checks."""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Check:
    """One correctness check: what was expected and what was found."""

    what: str
    expected: Any
    found: Any

    @property
    def ok(self) -> bool:
        return bool(self.expected == self.found)


def mark(ok: bool) -> str:
    """How a table or a check shows a target met or missed."""
    return "ok" if ok else "MISSED"


def print_checks(checks: list[Check]) -> None:
    """One line per check; a failed one shows what was expected."""
    for check in checks:
        line = f"  {mark(check.ok) if check.ok else 'FAILED':<6} {check.what}: {check.found}"
        if not check.ok:
            line += f" (expected {check.expected})"
        print(line)


def peak_mb(max_rss_kib: int) -> float:
    """A child's ``ru_maxrss`` (KiB on Linux) in MB of 10^6 bytes."""
    return max_rss_kib * 1024 / 1e6


def add_database_arguments(parser: argparse.ArgumentParser, default_url: str) -> None:
    """The ``--database-url`` and ``--keep`` options."""
    parser.add_argument(
        "--database-url",
        default=default_url,
        help="PostgreSQL database to DROP, create and migrate; its name must contain "
        f"'bench' (default {default_url})",
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the database and the work folder afterwards"
    )


def psycopg_url(url: str) -> str:
    """``url`` with the psycopg 3 driver named (as pipeline_core.config does); PostgreSQL only."""
    scheme, sep, rest = url.partition("://")
    if not sep or not scheme.startswith("postgres"):
        raise SystemExit(f"--database-url must be a postgresql:// URL, not {url!r}")
    return "postgresql+psycopg://" + rest


def check_database_name(url: str) -> None:
    """Refuse a database whose name does not say it is a benchmark's (it will be dropped)."""
    name = sa.make_url(url).database or ""
    if "bench" not in name:
        raise SystemExit(
            f"refusing to drop and recreate database {name!r}: the benchmark's database "
            "name must contain 'bench' (e.g. dmo_bench)"
        )


def _recreate(url: str, *, create: bool) -> None:
    parsed = sa.make_url(url)
    admin = sa.create_engine(
        parsed.set(database="postgres"), isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool
    )
    quoted = admin.dialect.identifier_preparer.quote(parsed.database or "")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {quoted} WITH (FORCE)")
        if create:
            conn.exec_driver_sql(f"CREATE DATABASE {quoted}")
    admin.dispose()


def prepare_database(url: str) -> None:
    """Drop (if it exists), create and migrate the benchmark database named in ``url``."""
    from pipeline_core.db.migrate import upgrade

    check_database_name(url)
    _recreate(url, create=True)
    upgrade(url)


def drop_database(url: str) -> None:
    """Drop the benchmark database."""
    _recreate(url, create=False)


def clean_up(args: argparse.Namespace, url: str, created: bool, work: Path) -> None:
    """At the end: keep the database and ``work`` (``--keep``, or set after a failure), or
    drop the database (if this run created it) and remove ``work``."""
    if args.keep:
        print(f"\nkept: database {args.database_url}, work folder {work}")
        return
    if created:
        try:
            drop_database(url)
        except sa.exc.SQLAlchemyError as exc:
            print(f"could not drop the benchmark database: {exc}")
    shutil.rmtree(work, ignore_errors=True)


def child_env(database_url: str, work: Path, log_level: str) -> dict[str, str]:
    """Environment of a benchmark's child processes: no ``PIPELINE_*`` of the caller's, the
    benchmark database, home and files in ``work``, ``LOG_LEVEL`` (default ``log_level``)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIPELINE_")}
    env.update(
        PIPELINE_DATABASE_URL=database_url,
        PIPELINE_HOME=str(work / "home"),
        PIPELINE_STORAGE_URL=str(work / "files"),
        LOG_LEVEL=os.environ.get("LOG_LEVEL", log_level),
        PYTHONPATH=os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p),
    )
    return env


def code_version() -> str:
    """The checkout's commit, and whether pipeline_core/ has uncommitted changes."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "pipeline_core", "migrations"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"
    if not dirty:
        return f"git {commit}"
    digest = subprocess.run(
        ["git", "diff", "HEAD", "--", "pipeline_core", "migrations"],
        cwd=ROOT,
        capture_output=True,
        check=False,
    ).stdout
    return f"git {commit} + uncommitted changes in pipeline_core/ ({_short_hash(digest)})"


def _short_hash(data: bytes) -> str:
    return "diff " + hashlib.sha256(data).hexdigest()[:8]
