"""Row-level security: a connection opened for a DMO reads only that DMO's rows, in every
staging and production table, by plain SQL."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from promotion_kit import crawl, listings

from pipeline_core.db.tables import (
    PRODUCTION,
    STAGING,
    duplicate_candidates,
    duplicate_decisions,
    metadata,
    production,
    promotions,
    staging,
)
from pipeline_core.db.tenant import tenant_engine
from pipeline_core.exceptions import ConfigError
from pipeline_core.promotion import promote
from pipeline_core.quality.store import score_listings

DMOS = {"alpha-dmo": "alpha", "beta-dmo": "beta"}


def _fill(engine: sa.Engine, tmp_path: Path) -> None:
    """Rows of both DMOs in every staging and production table."""
    now = datetime.now(UTC)
    for dmo, source in DMOS.items():
        crawl(engine, tmp_path / source, listings(8), name=source, dmo=dmo)
        promote(engine, dmo)
        with engine.begin() as conn:
            ids = (
                conn.execute(
                    sa.select(staging["listings"].c.id)
                    .where(staging["listings"].c.dmo == dmo)
                    .order_by(staging["listings"].c.id)
                    .limit(2)
                )
                .scalars()
                .all()
            )
            conn.execute(
                sa.insert(duplicate_candidates).values(
                    dmo=dmo,
                    listing_a=ids[0],
                    listing_b=ids[1],
                    score=0.9,
                    evidence={},
                    found_at=now,
                )
            )
            conn.execute(
                sa.insert(duplicate_decisions).values(
                    dmo=dmo,
                    source_a=source,
                    external_id_a="L00001",
                    source_b=source,
                    external_id_b="L00002",
                    decision="different",
                    decided_at=now,
                )
            )
            conn.execute(sa.insert(promotions).values(started_at=now, source=source))
    score_listings(engine)


def _tables() -> list[sa.Table]:
    return sorted(
        (t for t in metadata.tables.values() if t.schema in (STAGING, PRODUCTION)),
        key=lambda t: t.fullname,
    )


def _rows_of(conn: sa.Connection, table: sa.Table) -> list[sa.Row[object]]:
    return list(conn.execute(sa.text(f"SELECT * FROM {table.fullname}")))


def test_each_dmo_reads_only_its_own_rows_in_every_table(
    engine: sa.Engine, db_url: str, tmp_path: Path
) -> None:
    if engine.dialect.name != "postgresql":
        with pytest.raises(ConfigError, match="row-level security needs PostgreSQL"):
            tenant_engine(db_url, "alpha-dmo")
        return
    _fill(engine, tmp_path)
    with engine.connect() as admin:
        listing_dmo = {
            schema: dict(
                admin.execute(sa.select(tables["listings"].c.id, tables["listings"].c.dmo)).all()
            )
            for schema, tables in ((STAGING, staging), (PRODUCTION, production))
        }
        batch_dmo = dict(
            admin.execute(sa.text("SELECT id, dmo FROM production.promotion_batches")).all()
        )
        source_dmo = {source: dmo for dmo, source in DMOS.items()}
        everything = {t.fullname: _rows_of(admin, t) for t in _tables()}

    def owner(table: sa.Table, row: sa.Row[object]) -> str:
        values = row._mapping
        if "dmo" in values:
            return str(values["dmo"])
        if "listing_id" in values and table.name != "promotion_changes":
            return listing_dmo[str(table.schema)][values["listing_id"]]
        if "batch_id" in values:
            return batch_dmo[values["batch_id"]]
        return source_dmo[values["source"]]

    for dmo in DMOS:
        tenant = tenant_engine(db_url, dmo)
        try:
            with tenant.connect() as conn:
                for table in _tables():
                    seen = _rows_of(conn, table)
                    expected = [r for r in everything[table.fullname] if owner(table, r) == dmo]
                    assert expected, f"{table.fullname} has no row of {dmo} to read"
                    assert sorted(map(tuple, seen)) == sorted(map(tuple, expected)), table.fullname
                # Writing a row of another DMO is refused too.
                with pytest.raises(sa.exc.ProgrammingError, match="row-level security"):
                    other = next(d for d in DMOS if d != dmo)
                    conn.execute(
                        sa.insert(duplicate_decisions).values(
                            dmo=other,
                            source_a="x",
                            external_id_a="1",
                            source_b="x",
                            external_id_b="2",
                            decision="same",
                            decided_at=datetime.now(UTC),
                        )
                    )
        finally:
            tenant.dispose()


def test_a_connection_without_a_dmo_reads_nothing(
    engine: sa.Engine, db_url: str, tmp_path: Path
) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("row-level security is PostgreSQL's")
    _fill(engine, tmp_path)
    with engine.connect() as conn:
        conn.exec_driver_sql("SET ROLE pipeline_dmo")
        for table in _tables():
            assert _rows_of(conn, table) == [], table.fullname


def test_another_role_of_the_pipeline_still_reads_every_row(
    engine: sa.Engine, tmp_path: Path
) -> None:
    # A role that is neither the tables' owner nor a DMO's (the pipeline run as its own
    # user) is not hidden from by row-level security.
    if engine.dialect.name != "postgresql":
        pytest.skip("row-level security is PostgreSQL's")
    _fill(engine, tmp_path)
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "DO $$ BEGIN CREATE ROLE dmo_test_service NOLOGIN; "
            "EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$"
        )
        conn.exec_driver_sql("GRANT USAGE ON SCHEMA staging, production TO dmo_test_service")
        conn.exec_driver_sql(
            "GRANT SELECT ON ALL TABLES IN SCHEMA staging, production TO dmo_test_service"
        )
    with engine.connect() as conn:
        everything = {t.fullname: len(_rows_of(conn, t)) for t in _tables()}
        conn.exec_driver_sql("SET ROLE dmo_test_service")
        assert {t.fullname: len(_rows_of(conn, t)) for t in _tables()} == everything
        conn.exec_driver_sql("RESET ROLE")
        conn.rollback()
