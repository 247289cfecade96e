"""exhibit shares: which party states an exhibit is shared with, on what conditions

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "exhibit_shares",
        sa.Column("exhibit_id", sa.String(length=36), nullable=False),
        sa.Column("jurisdiction", sa.String(length=32), nullable=False),
        sa.Column("case_id", sa.String(length=36), nullable=False),
        sa.Column("conditions", sa.Text(), nullable=False),
        sa.Column("shared_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("shared_seq", sa.BigInteger(), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_seq", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_exhibit_shares_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["exhibit_id"], ["exhibits.id"], name=op.f("fk_exhibit_shares_exhibit_id_exhibits")
        ),
        sa.PrimaryKeyConstraint("exhibit_id", "jurisdiction", name=op.f("pk_exhibit_shares")),
    )
    op.create_index(
        op.f("ix_exhibit_shares_case_id_jurisdiction"),
        "exhibit_shares",
        ["case_id", "jurisdiction"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_exhibit_shares_case_id_jurisdiction"), table_name="exhibit_shares")
    op.drop_table("exhibit_shares")
