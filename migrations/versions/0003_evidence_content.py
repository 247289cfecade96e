"""evidence content: ingest state and resumable uploads (issue 4)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27
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
    op.create_table(
        "exhibit_contents",
        sa.Column("exhibit_id", sa.String(length=36), nullable=False),
        sa.Column("case_id", sa.String(length=36), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("blake3", sa.String(length=64), nullable=False),
        sa.Column("filename", sa.Text(), nullable=False),
        sa.Column("media_type", sa.String(length=255), nullable=False),
        sa.Column("ingested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ingested_seq", sa.BigInteger(), nullable=False),
        sa.Column("disposed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("disposed_seq", sa.BigInteger(), nullable=True),
        sa.Column("removed", sa.Boolean(), nullable=False),
        sa.Column("retained_until", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_exhibit_contents_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["exhibit_id"], ["exhibits.id"], name=op.f("fk_exhibit_contents_exhibit_id_exhibits")
        ),
        sa.PrimaryKeyConstraint("exhibit_id", name=op.f("pk_exhibit_contents")),
    )
    op.create_index(
        op.f("ix_exhibit_contents_case_id"), "exhibit_contents", ["case_id"], unique=False
    )
    op.create_table(
        "content_uploads",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("case_id", sa.String(length=36), nullable=False),
        sa.Column("exhibit_id", sa.String(length=36), nullable=False),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("length", sa.BigInteger(), nullable=True),
        sa.Column("filename", sa.Text(), nullable=False),
        sa.Column("media_type", sa.String(length=255), nullable=False),
        sa.Column("expected_sha256", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_content_uploads_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["exhibit_id"], ["exhibits.id"], name=op.f("fk_content_uploads_exhibit_id_exhibits")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_content_uploads")),
    )
    op.create_index(
        op.f("ix_content_uploads_exhibit_id"), "content_uploads", ["exhibit_id"], unique=False
    )
    op.create_index(
        op.f("ix_content_uploads_expires_at"), "content_uploads", ["expires_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_content_uploads_expires_at"), table_name="content_uploads")
    op.drop_index(op.f("ix_content_uploads_exhibit_id"), table_name="content_uploads")
    op.drop_table("content_uploads")
    op.drop_index(op.f("ix_exhibit_contents_case_id"), table_name="exhibit_contents")
    op.drop_table("exhibit_contents")
