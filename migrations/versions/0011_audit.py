"""pipeline.audit: who changed what, when and from where (rows are never updated or deleted)

Revision ID: 0011
Revises: 0009
Create Date: 2026-12-07 07:30:00

A trigger on each backend refuses UPDATE and DELETE of ``pipeline.audit`` rows (and, on
PostgreSQL, TRUNCATE), so the application (or a bug in it) cannot rewrite the trail; only
dropping the trigger, which needs the table's owner, can.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_NOW = sa.text("CURRENT_TIMESTAMP")
_TS = sa.DateTime(timezone=True)
_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
MESSAGE = "pipeline.audit rows are never updated or deleted"


def upgrade() -> None:
    op.create_table(
        "audit",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", _TS, server_default=_NOW, nullable=False),
        sa.Column("key_id", sa.Integer(), nullable=True),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("address", sa.String(length=200), nullable=True),
        sa.Column("action", sa.String(length=50), nullable=False),
        sa.Column("target", sa.String(length=300), nullable=True),
        sa.Column("dmo", sa.String(length=100), nullable=True),
        sa.Column("before", _JSON, nullable=True),
        sa.Column("after", _JSON, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit")),
        schema="pipeline",
    )
    op.create_index(op.f("ix_audit_action"), "audit", ["action"], schema="pipeline")
    op.create_index(op.f("ix_audit_dmo"), "audit", ["dmo"], schema="pipeline")
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION pipeline.audit_append_only() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN RAISE EXCEPTION '{MESSAGE}'; END $$"
        )
        op.execute(
            "CREATE TRIGGER audit_append_only BEFORE UPDATE OR DELETE ON pipeline.audit "
            "FOR EACH ROW EXECUTE FUNCTION pipeline.audit_append_only()"
        )
        op.execute(
            "CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON pipeline.audit "
            "FOR EACH STATEMENT EXECUTE FUNCTION pipeline.audit_append_only()"
        )
    else:
        for event in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER pipeline.audit_no_{event.lower()} BEFORE {event} ON audit "
                f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_no_truncate ON pipeline.audit")
        op.execute("DROP TRIGGER IF EXISTS audit_append_only ON pipeline.audit")
        op.execute("DROP FUNCTION IF EXISTS pipeline.audit_append_only()")
    else:
        op.execute("DROP TRIGGER IF EXISTS pipeline.audit_no_update")
        op.execute("DROP TRIGGER IF EXISTS pipeline.audit_no_delete")
    op.drop_index(op.f("ix_audit_dmo"), table_name="audit", schema="pipeline")
    op.drop_index(op.f("ix_audit_action"), table_name="audit", schema="pipeline")
    op.drop_table("audit", schema="pipeline")
