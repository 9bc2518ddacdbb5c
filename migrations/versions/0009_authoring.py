"""staging.listings.warnings: each staged listing's current warnings

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 04:20:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.add_column("listings", sa.Column("warnings", _JSON, nullable=True), schema="staging")


def downgrade() -> None:
    with op.batch_alter_table("listings", schema="staging") as batch:
        batch.drop_column("warnings")
