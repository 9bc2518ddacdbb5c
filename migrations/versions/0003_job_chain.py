"""job chain in operation: the traceback of a failed attempt

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-07 04:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("errors", sa.Column("traceback", sa.Text(), nullable=True), schema="pipeline")


def downgrade() -> None:
    with op.batch_alter_table("errors", schema="pipeline") as batch:
        batch.drop_column("traceback")
