"""promotion batches, quality scores, duplicate candidates, row-level security

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 04:20:00

On PostgreSQL this also creates the role ``pipeline_dmo`` (if missing: roles belong to the
server, not the database) and row-level security policies on every staging and production
table: a connection that ``SET ROLE pipeline_dmo`` and sets ``app.dmo`` sees only that DMO's
rows (see ``pipeline_core.db.tenant``).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_NOW = sa.text("CURRENT_TIMESTAMP")
_TS = sa.DateTime(timezone=True)
_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")

ROLE = "pipeline_dmo"
_CHILDREN = (
    "listing_info",
    "locations",
    "contact_info",
    "listing_images",
    "attributes",
    "opening_hours",
    "opening_dates",
)
_DMO = "current_setting('app.dmo', true)"
#: Roles that are not (members of) the DMO role: the pipeline itself.
_SERVICE = f"NOT pg_has_role(current_user, '{ROLE}', 'MEMBER')"


def _policies() -> dict[str, str]:
    """``schema.table`` → the condition a row must meet to be seen by ``app.dmo``."""
    out: dict[str, str] = {}
    for schema in ("staging", "production"):
        out[f"{schema}.listings"] = f"dmo = {_DMO}"
        for child in _CHILDREN:
            out[f"{schema}.{child}"] = f"listing_id IN (SELECT id FROM {schema}.listings)"
    out["staging.listing_quality"] = f"dmo = {_DMO}"
    out["staging.duplicate_candidates"] = f"dmo = {_DMO}"
    out["staging.duplicate_decisions"] = f"dmo = {_DMO}"
    out["production.promotion_batches"] = f"dmo = {_DMO}"
    out["production.promotion_changes"] = (
        "batch_id IN (SELECT id FROM production.promotion_batches)"
    )
    out["production.promotions"] = (
        f"source IN (SELECT name FROM pipeline.sources WHERE dmo = {_DMO})"
    )
    return out


def upgrade() -> None:
    op.create_table(
        "promotion_batches",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("dmo", sa.String(length=100), nullable=False),
        sa.Column("source", sa.String(length=100), nullable=True),
        sa.Column("kind", sa.String(length=20), server_default="promote", nullable=False),
        sa.Column("status", sa.String(length=20), server_default="running", nullable=False),
        sa.Column("requested", _JSON, nullable=True),
        sa.Column("counts", _JSON, nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("rollback_of", sa.Integer(), nullable=True),
        sa.Column("rolled_back_by", sa.Integer(), nullable=True),
        sa.Column("promoted_by", sa.String(length=200), nullable=True),
        sa.Column("started_at", _TS, server_default=_NOW, nullable=False),
        sa.Column("finished_at", _TS, nullable=True),
        sa.CheckConstraint(
            "kind IN ('promote', 'rollback')", name=op.f("ck_promotion_batches_kind")
        ),
        sa.CheckConstraint(
            "status IN ('running', 'completed', 'failed', 'rolled_back')",
            name=op.f("ck_promotion_batches_status"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_promotion_batches")),
        schema="production",
    )
    op.create_index(
        op.f("ix_promotion_batches_dmo"), "promotion_batches", ["dmo"], schema="production"
    )
    op.create_table(
        "promotion_changes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("batch_id", sa.Integer(), nullable=False),
        sa.Column("listing_id", sa.Integer(), nullable=True),
        sa.Column("staging_id", sa.Integer(), nullable=True),
        sa.Column("source", sa.String(length=100), nullable=False),
        sa.Column("external_id", sa.String(length=300), nullable=False),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("diff", _JSON, nullable=True),
        sa.Column("before", _JSON, nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_promotion_changes")),
        schema="production",
    )
    op.create_index(
        op.f("ix_promotion_changes_batch_id"),
        "promotion_changes",
        ["batch_id"],
        schema="production",
    )
    op.create_index(
        op.f("ix_promotion_changes_listing_id"),
        "promotion_changes",
        ["listing_id"],
        schema="production",
    )
    op.create_table(
        "listing_quality",
        sa.Column("listing_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("source", sa.String(length=100), nullable=False),
        sa.Column("dmo", sa.String(length=100), nullable=False),
        sa.Column("record_hash", sa.String(length=64), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("breakdown", _JSON, nullable=False),
        sa.Column("scored_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("listing_id", name=op.f("pk_listing_quality")),
        schema="staging",
    )
    op.create_index(
        op.f("ix_listing_quality_source"), "listing_quality", ["source"], schema="staging"
    )
    op.create_table(
        "duplicate_candidates",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("dmo", sa.String(length=100), nullable=False),
        sa.Column("listing_a", sa.Integer(), nullable=False),
        sa.Column("listing_b", sa.Integer(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("evidence", _JSON, nullable=False),
        sa.Column("found_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_duplicate_candidates")),
        sa.UniqueConstraint(
            "listing_a", "listing_b", name=op.f("uq_duplicate_candidates_listing_a_listing_b")
        ),
        schema="staging",
    )
    op.create_index(
        op.f("ix_duplicate_candidates_dmo"), "duplicate_candidates", ["dmo"], schema="staging"
    )
    op.create_table(
        "duplicate_decisions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("dmo", sa.String(length=100), nullable=False),
        sa.Column("source_a", sa.String(length=100), nullable=False),
        sa.Column("external_id_a", sa.String(length=300), nullable=False),
        sa.Column("source_b", sa.String(length=100), nullable=False),
        sa.Column("external_id_b", sa.String(length=300), nullable=False),
        sa.Column("decision", sa.String(length=20), nullable=False),
        sa.Column("decided_by", sa.String(length=200), nullable=True),
        sa.Column("decided_at", _TS, nullable=False),
        sa.CheckConstraint(
            "decision IN ('same', 'different')", name=op.f("ck_duplicate_decisions_decision")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_duplicate_decisions")),
        sa.UniqueConstraint(
            "source_a",
            "external_id_a",
            "source_b",
            "external_id_b",
            name="uq_duplicate_decisions_pair",
        ),
        schema="staging",
    )
    op.create_index(
        op.f("ix_duplicate_decisions_dmo"), "duplicate_decisions", ["dmo"], schema="staging"
    )
    if op.get_context().dialect.name == "postgresql":
        _enable_row_level_security()


def _enable_row_level_security() -> None:
    # Two migrations on one server may race to create the role: either may win.
    op.execute(
        f"""DO $$ BEGIN CREATE ROLE {ROLE} NOLOGIN;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$"""
    )
    op.execute(f"GRANT USAGE ON SCHEMA staging, production, pipeline TO {ROLE}")
    op.execute(f"GRANT SELECT ON pipeline.sources TO {ROLE}")
    op.execute(f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA staging, production TO {ROLE}")
    for table, condition in _policies().items():
        op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {table} TO {ROLE}")
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(
            f"CREATE POLICY dmo_isolation ON {table} TO {ROLE} "
            f"USING ({condition}) WITH CHECK ({condition})"
        )
        # Every other role (the pipeline's own, when it is not the tables' owner) sees all
        # rows, as before: row-level security would otherwise hide everything from it.
        op.execute(
            f"CREATE POLICY pipeline_service ON {table} USING ({_SERVICE}) WITH CHECK ({_SERVICE})"
        )


def downgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        for table in reversed(list(_policies())):
            op.execute(f"DROP POLICY IF EXISTS dmo_isolation ON {table}")
            op.execute(f"DROP POLICY IF EXISTS pipeline_service ON {table}")
            op.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")
            op.execute(f"REVOKE ALL ON {table} FROM {ROLE}")
        op.execute(f"REVOKE ALL ON pipeline.sources FROM {ROLE}")
        op.execute(f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA staging, production FROM {ROLE}")
        op.execute(f"REVOKE USAGE ON SCHEMA staging, production, pipeline FROM {ROLE}")
    op.drop_index(op.f("ix_duplicate_decisions_dmo"), "duplicate_decisions", schema="staging")
    op.drop_table("duplicate_decisions", schema="staging")
    op.drop_index(op.f("ix_duplicate_candidates_dmo"), "duplicate_candidates", schema="staging")
    op.drop_table("duplicate_candidates", schema="staging")
    op.drop_index(op.f("ix_listing_quality_source"), "listing_quality", schema="staging")
    op.drop_table("listing_quality", schema="staging")
    op.drop_index(op.f("ix_promotion_changes_listing_id"), "promotion_changes", schema="production")
    op.drop_index(op.f("ix_promotion_changes_batch_id"), "promotion_changes", schema="production")
    op.drop_table("promotion_changes", schema="production")
    op.drop_index(op.f("ix_promotion_batches_dmo"), "promotion_batches", schema="production")
    op.drop_table("promotion_batches", schema="production")
