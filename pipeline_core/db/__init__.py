"""Database layer: tables of the three schemas and engines for SQLite and PostgreSQL."""

from __future__ import annotations

from pipeline_core.db.engine import is_sqlite, make_engine
from pipeline_core.db.tables import metadata

__all__ = ["is_sqlite", "make_engine", "metadata"]
