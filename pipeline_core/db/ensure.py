"""Keeping a database at the newest schema before it is used."""

from __future__ import annotations

import sqlalchemy as sa

from pipeline_core.config import mask_url
from pipeline_core.db.engine import database_revision
from pipeline_core.db.tables import SCHEMA_REVISION
from pipeline_core.exceptions import ConfigError


def ensure_schema(engine: sa.Engine) -> None:
    """Make sure the schema is current: the embedded SQLite database is migrated on the
    spot; a PostgreSQL database behind the code is an error asking for
    ``dmo-pipeline migrate``. Alembic is imported only when a migration runs."""
    if database_revision(engine) == SCHEMA_REVISION:
        return
    url = engine.url.render_as_string(hide_password=False)
    if engine.dialect.name != "sqlite":
        raise ConfigError(
            f"the database {mask_url(url)} is not at the newest schema ({SCHEMA_REVISION}); "
            "run `dmo-pipeline migrate`"
        )
    from pipeline_core.db.migrate import upgrade

    upgrade(url)
