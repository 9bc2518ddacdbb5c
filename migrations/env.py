"""Alembic environment: migrates the database named by PIPELINE_DATABASE_URL.

On PostgreSQL the schemas are created first; on SQLite they are attached files.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context

from pipeline_core.config import load_settings
from pipeline_core.db import make_engine, metadata
from pipeline_core.db.tables import SCHEMAS

config = context.config
target_metadata = metadata


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = config.attributes.get("database_url") or load_settings().database_url
    engine = make_engine(url, poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        _run(conn)
    engine.dispose()


def _run(conn: sa.Connection) -> None:
    if conn.dialect.name == "postgresql":
        for schema in SCHEMAS:
            conn.exec_driver_sql(f"CREATE SCHEMA IF NOT EXISTS {schema}")
        conn.commit()
    context.configure(
        connection=conn,
        target_metadata=target_metadata,
        include_schemas=True,
        render_as_batch=conn.dialect.name == "sqlite",
        compare_type=True,
        version_table_schema="pipeline" if conn.dialect.name == "postgresql" else None,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("offline (--sql) migrations are not supported; run against a database")
run_migrations_online()
