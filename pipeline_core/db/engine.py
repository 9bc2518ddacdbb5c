"""Engines for SQLite (embedded default) and PostgreSQL.

On SQLite the schemas ``pipeline``, ``staging`` and ``production`` are attached database
files beside the main file (``pipeline.db`` → ``pipeline.staging.db`` …), attached on every
connection, so the same table names work on both backends. The main file holds only
Alembic's version table.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from pipeline_core.db.tables import SCHEMAS


def is_sqlite(engine: sa.Engine) -> bool:
    """True when the engine talks to SQLite."""
    return engine.dialect.name == "sqlite"


def sqlite_schema_files(database: str) -> dict[str, str]:
    """Attached file of each schema for a SQLite main file (``:memory:`` stays in memory)."""
    if database in ("", ":memory:"):
        return {schema: ":memory:" for schema in SCHEMAS}
    main = Path(database)
    return {schema: str(main.with_name(f"{main.stem}.{schema}{main.suffix}")) for schema in SCHEMAS}


def _json_dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def make_engine(url: str, **kwargs: Any) -> sa.Engine:
    """Create an engine for ``url``; on SQLite attach the schema files and set pragmas.

    SQLite connections run in autocommit at the driver level and SQLAlchemy emits ``BEGIN``
    itself (the documented recipe), so transactions and savepoints behave as on PostgreSQL.
    """
    parsed = make_url(url)
    kwargs.setdefault("json_serializer", _json_dumps)
    kwargs.setdefault("json_deserializer", orjson.loads)
    if parsed.get_backend_name() != "sqlite":
        kwargs.setdefault("pool_pre_ping", True)
        return sa.create_engine(url, **kwargs)

    database = parsed.database or ""
    if database not in ("", ":memory:"):
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    attached = sqlite_schema_files(database)
    connect_args = dict(kwargs.pop("connect_args", {}))
    connect_args.setdefault("timeout", 30)
    connect_args.setdefault("check_same_thread", False)
    if database in ("", ":memory:"):  # one connection, or each thread sees its own database
        kwargs.setdefault("poolclass", sa.pool.StaticPool)
    engine = sa.create_engine(url, connect_args=connect_args, **kwargs)

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for schema, path in attached.items():
            cursor.execute("ATTACH DATABASE ? AS " + schema, (path,))
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        if database not in ("", ":memory:"):
            for schema in ("main", *attached):
                cursor.execute(f"PRAGMA {schema}.journal_mode=WAL")
                cursor.execute(f"PRAGMA {schema}.synchronous=NORMAL")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        mode = conn.get_execution_options().get(SQLITE_BEGIN_OPTION)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if mode == "IMMEDIATE" else "BEGIN")

    return engine


#: Execution option naming how SQLite starts a transaction (``"IMMEDIATE"`` or unset).
SQLITE_BEGIN_OPTION = "sqlite_begin"


def database_away(exc: BaseException) -> bool:
    """True when ``exc`` says the database cannot be reached or its connection broke (try
    the same work again later), not that the statement or its data were refused."""
    if not isinstance(exc, sa.exc.DBAPIError):
        return False
    return exc.connection_invalidated or isinstance(exc, sa.exc.OperationalError)


@contextmanager
def write_transaction(engine: sa.Engine) -> Iterator[sa.Connection]:
    """A transaction that writes. On SQLite it starts with ``BEGIN IMMEDIATE``: it takes the
    write lock at once (waiting up to the busy timeout), so two writers never both read and
    then fail to upgrade their lock; on PostgreSQL it is an ordinary transaction."""
    with engine.connect() as conn:
        if is_sqlite(engine):
            conn.execution_options(**{SQLITE_BEGIN_OPTION: "IMMEDIATE"})
        with conn.begin():
            yield conn


def drop_sqlite_files(url: str) -> None:
    """Remove a SQLite main file and its attached schema files (used by tests and reset)."""
    database = make_url(url).database or ""
    if database in ("", ":memory:"):
        return
    for path in [database, *sqlite_schema_files(database).values()]:
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(path + suffix).unlink(missing_ok=True)


def database_revision(engine: sa.Engine) -> str | None:
    """The Alembic revision the database is at (None before the first migration), read
    without importing Alembic."""
    schema = "pipeline" if engine.dialect.name == "postgresql" else None
    version = sa.table("alembic_version", sa.column("version_num"), schema=schema)
    with engine.connect() as conn:
        if not sa.inspect(conn).has_table("alembic_version", schema=schema):
            return None
        return conn.execute(sa.select(version.c.version_num)).scalar()
