"""Apply the Alembic migrations (``dmo-pipeline migrate``)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

import pipeline_core
from pipeline_core.exceptions import ConfigError


def migrations_dir() -> Path:
    """The Alembic script folder: ``migrations/`` of the checkout this package comes from."""
    here = Path(pipeline_core.__file__).resolve().parent
    for candidate in (here.parent / "migrations", here / "migrations"):
        if (candidate / "env.py").is_file():
            return candidate
    raise ConfigError(
        "the migrations/ folder was not found beside the pipeline_core package; install "
        "dmo-pipeline from its checkout (pip install -e .)"
    )


def alembic_config(database_url: str) -> Config:
    """An Alembic config for ``database_url`` that needs no alembic.ini."""
    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    config.attributes["database_url"] = database_url
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    """Migrate the database to ``revision`` (default: the newest)."""
    command.upgrade(alembic_config(database_url), revision)


def current(database_url: str) -> str | None:
    """The revision the database is at, or None before the first migration."""
    import sqlalchemy as sa

    from pipeline_core.db.engine import database_revision, make_engine

    engine = make_engine(database_url, poolclass=sa.pool.NullPool)
    try:
        return database_revision(engine)
    finally:
        engine.dispose()
