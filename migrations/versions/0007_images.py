"""images: pipeline.images and the processing columns of listing_images

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07 04:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_NOW = sa.text("CURRENT_TIMESTAMP")
_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
_TS = sa.DateTime(timezone=True)


def _image_columns() -> list[sa.Column]:
    return [
        sa.Column("status", sa.String(length=20), server_default="pending", nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("width", sa.Integer(), nullable=True),
        sa.Column("height", sa.Integer(), nullable=True),
        sa.Column("bytes", sa.BigInteger(), nullable=True),
        sa.Column("content_hash", sa.String(length=64), nullable=True),
        sa.Column("original_key", sa.Text(), nullable=True),
        sa.Column("variants", _JSON, nullable=True),
    ]


def upgrade() -> None:
    op.create_table(
        "images",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("url_hash", sa.String(length=64), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("etag", sa.String(length=500), nullable=True),
        sa.Column("last_modified", sa.String(length=100), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("format", sa.String(length=20), nullable=True),
        sa.Column("width", sa.Integer(), nullable=True),
        sa.Column("height", sa.Integer(), nullable=True),
        sa.Column("bytes", sa.BigInteger(), nullable=True),
        sa.Column("content_hash", sa.String(length=64), nullable=True),
        sa.Column("spec", sa.String(length=64), nullable=True),
        sa.Column("original_key", sa.Text(), nullable=True),
        sa.Column("variants", _JSON, nullable=True),
        sa.Column("fetched_at", _TS, nullable=True),
        sa.Column("updated_at", _TS, server_default=_NOW, nullable=False),
        sa.CheckConstraint("status IN ('stored', 'failed')", name=op.f("ck_images_status")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_images")),
        sa.UniqueConstraint("url_hash", name=op.f("uq_images_url_hash")),
        schema="pipeline",
    )
    op.create_index(op.f("ix_images_content_hash"), "images", ["content_hash"], schema="pipeline")
    for schema in ("staging", "production"):
        for column in _image_columns():
            op.add_column("listing_images", column, schema=schema)


def downgrade() -> None:
    for schema in ("staging", "production"):
        for column in reversed(_image_columns()):
            op.drop_column("listing_images", column.name, schema=schema)
    op.drop_index(op.f("ix_images_content_hash"), table_name="images", schema="pipeline")
    op.drop_table("images", schema="pipeline")
