"""outbox and schedule slots

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 15:05:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_NOW = sa.text("CURRENT_TIMESTAMP")


def upgrade() -> None:
    op.create_table(
        "outbox",
        sa.Column("id", _ID, nullable=False),
        sa.Column("queue_id", _ID, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=_NOW, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
        schema="pipeline",
    )
    op.create_table(
        "schedule_slots",
        sa.Column("source", sa.String(length=100), nullable=False),
        sa.Column("slot_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("queue_id", _ID, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=_NOW, nullable=False),
        sa.PrimaryKeyConstraint("source", "slot_at", name=op.f("pk_schedule_slots")),
        schema="pipeline",
    )


def downgrade() -> None:
    op.drop_table("schedule_slots", schema="pipeline")
    op.drop_table("outbox", schema="pipeline")
