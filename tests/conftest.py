"""Shared fixtures: a clean, migrated database per test on SQLite and on PostgreSQL.

Tests that take ``db_url`` run twice: ``[sqlite]`` and ``[postgres]`` (marked ``postgres``).
PostgreSQL is the server at ``PIPELINE_TEST_POSTGRES_URL`` (default: 127.0.0.1:5432, user
postgres, trust auth). Each test gets its own database, copied from a template migrated once
per session. Without a server the postgres tests are skipped, unless
``PIPELINE_REQUIRE_POSTGRES=1`` (CI), which makes that an error.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from pipeline_core.db.engine import make_engine, sqlite_schema_files
from pipeline_core.db.migrate import upgrade

ROOT = Path(__file__).resolve().parent.parent
PG_ADMIN_URL = os.environ.get(
    "PIPELINE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
#: One template per process: each pytest-xdist worker (and each concurrent session on the
#: server, another checkout's say) migrates and drops its own.
TEMPLATE_DB = f"dmo_test_template_{os.getpid()}"


#: The longest modules (about a minute or more of one worker each), run first: xdist's
#: ``--dist loadfile`` hands modules out in collection order, so a long one collected last
#: would run alone at the end while the other worker idles.
LONG_MODULES = (
    "test_new_source.py",
    "test_drafting_corpus.py",
    "test_queue_pipeline.py",
    "test_queue_worker.py",
    "test_soak.py",
    "test_database_restart.py",
    "test_drafting.py",
    "test_sqs.py",
    "test_worker_limits.py",
    "test_queue_cli.py",
)


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """``-n auto``: one worker per CPU and one more. Many tests wait (a worker's grace
    period, a lease, a server's answer) rather than compute, and the extra worker fills
    those waits."""
    return (os.cpu_count() or 1) + 1


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run :data:`LONG_MODULES` first, longest first; the rest keep their order."""
    rank = {name: n for n, name in enumerate(LONG_MODULES)}
    items.sort(key=lambda item: rank.get(item.path.name, len(LONG_MODULES)))


def _pg_admin() -> sa.Engine:
    return sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)


def _pg_url(name: str) -> str:
    return sa.make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    """A PostgreSQL database migrated to head, used as the template of each test's database."""
    try:
        with _pg_admin().connect() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {TEMPLATE_DB}")
            conn.exec_driver_sql(f"CREATE DATABASE {TEMPLATE_DB}")
    except sa.exc.OperationalError as exc:
        if os.environ.get("PIPELINE_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"PostgreSQL is required but not reachable at {PG_ADMIN_URL}: {exc}")
        pytest.skip(f"PostgreSQL not reachable at {PG_ADMIN_URL}")
    upgrade(_pg_url(TEMPLATE_DB))
    yield TEMPLATE_DB
    with _pg_admin().connect() as conn:
        conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {TEMPLATE_DB} WITH (FORCE)")


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite database (main file and attached schema files) migrated to head."""
    folder = tmp_path_factory.mktemp("sqlite-template")
    main = folder / "pipeline.db"
    upgrade(f"sqlite:///{main}")
    return main


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """URL of a clean database at the newest schema, on each backend."""
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        main = tmp_path / "db" / "pipeline.db"
        main.parent.mkdir()
        shutil.copy(template, main)
        for schema, path in sqlite_schema_files(str(template)).items():
            shutil.copy(path, sqlite_schema_files(str(main))[schema])
        yield f"sqlite:///{main}"
        return
    template_name = request.getfixturevalue("pg_template")
    name = f"dmo_test_{uuid.uuid4().hex[:12]}"
    with _pg_admin().connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name} TEMPLATE {template_name}")
    yield _pg_url(name)
    with _pg_admin().connect() as conn:
        conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def engine(db_url: str) -> Iterator[sa.Engine]:
    """An engine on the test's database."""
    eng = make_engine(db_url)
    yield eng
    eng.dispose()


@pytest.fixture
def pipeline_env(db_url: str, tmp_path: Path) -> dict[str, str]:
    """Environment for a ``dmo-pipeline`` or ``scrapy`` child process on the test database."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIPELINE_")}
    env.update(
        PIPELINE_DATABASE_URL=db_url,
        PIPELINE_HOME=str(tmp_path / "home"),
        PIPELINE_STORAGE_URL=str(tmp_path / "files"),
        PIPELINE_ALLOWED_HOSTS="127.0.0.1",
        LOG_LEVEL="INFO",
        # The test feeds' photos are on hosts that do not exist: no image job after an
        # ingest (the image tests turn it back on with PIPELINE_DISABLE_PLUGINS="").
        PIPELINE_DISABLE_PLUGINS="builtin-image-jobs",
    )
    return env


def _run(
    module: str, args: tuple[str, ...], env: dict[str, str], cwd: Path | str | None, timeout: float
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        env=env,
        cwd=cwd or ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def run_cli(
    *args: str, env: dict[str, str], cwd: Path | str | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """Run ``dmo-pipeline ARGS`` in a child process (a crawl needs a fresh Twisted reactor)."""
    return _run("pipeline_core.cli", args, env, cwd, timeout)


def run_scrapy(
    *args: str, env: dict[str, str], cwd: Path | str | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """Run ``scrapy ARGS`` in a child process, by default in the checkout."""
    return _run("scrapy", args, env, cwd, timeout)
