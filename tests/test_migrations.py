"""The Alembic migrations produce exactly the tables the code declares, on both backends."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from pipeline_core.db import metadata
from pipeline_core.db.migrate import alembic_config, current
from pipeline_core.db.tables import SCHEMA_REVISION, SCHEMAS


def _diff(engine: sa.Engine) -> list[object]:
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn,
            opts={
                "include_schemas": True,
                "compare_type": True,
                "include_name": lambda name, type_, parent: type_ != "schema" or name in SCHEMAS,
                "include_object": lambda obj, name, type_, reflected, compare_to: (
                    name != "alembic_version"
                ),
            },
        )
        return list(compare_metadata(context, metadata))


def test_migrations_match_declared_tables(engine: sa.Engine, db_url: str) -> None:
    assert current(db_url) == SCHEMA_REVISION
    assert _diff(engine) == []
    inspector = sa.inspect(engine)
    declared = {(t.schema, t.name) for t in metadata.tables.values()}
    found = {
        (schema, name) for schema in SCHEMAS for name in inspector.get_table_names(schema=schema)
    }
    found.discard(("pipeline", "alembic_version"))
    assert found == declared
    assert len(declared) == 37  # 15 pipeline, 11 staging, 8 + promotions + 2


def test_downgrade_and_upgrade_again(db_url: str, engine: sa.Engine) -> None:
    from alembic import command

    config = alembic_config(db_url)
    command.downgrade(config, "base")
    assert sa.inspect(engine).get_table_names(schema="staging") == []
    command.upgrade(config, "head")
    assert _diff(engine) == []


def test_schema_revision_is_the_newest_migration(db_url: str) -> None:
    from alembic.script import ScriptDirectory

    from pipeline_core.db.tables import SCHEMA_REVISION

    script = ScriptDirectory.from_config(alembic_config(db_url))
    assert script.get_current_head() == SCHEMA_REVISION
