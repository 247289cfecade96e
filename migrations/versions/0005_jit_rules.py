"""JIT rules: grant scope, party proposals and consents, several holds, salted notes

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("case_grants") as batch:
        batch.add_column(sa.Column("exhibits", sa.Text(), nullable=True))
    op.create_table(
        "party_proposals",
        sa.Column("case_id", sa.String(length=36), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("jurisdiction", sa.String(length=32), nullable=False),
        sa.Column("proposed_by", sa.String(length=32), nullable=False),
        sa.Column("required", sa.Text(), nullable=False),
        sa.Column("consented", sa.Text(), nullable=False),
        sa.Column("added_seq", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_party_proposals_case_id_cases")
        ),
        sa.PrimaryKeyConstraint("case_id", "seq", name=op.f("pk_party_proposals")),
    )
    op.create_table(
        "exhibit_holds",
        sa.Column("exhibit_id", sa.String(length=36), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("case_id", sa.String(length=36), nullable=False),
        sa.Column("jurisdiction", sa.String(length=32), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("sub", sa.String(length=200), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("authority", sa.Text(), nullable=False),
        sa.Column("set_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("released_seq", sa.BigInteger(), nullable=True),
        sa.Column("released_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_exhibit_holds_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["exhibit_id"], ["exhibits.id"], name=op.f("fk_exhibit_holds_exhibit_id_exhibits")
        ),
        sa.PrimaryKeyConstraint("exhibit_id", "seq", name=op.f("pk_exhibit_holds")),
    )
    op.create_index(op.f("ix_exhibit_holds_case_id"), "exhibit_holds", ["case_id"], unique=False)
    # note.added carries a salted commitment now (spec 2.1); the salt stays here.
    with op.batch_alter_table("notes") as batch:
        batch.alter_column(
            "sha256", new_column_name="commitment", existing_type=sa.String(length=64)
        )
        batch.add_column(sa.Column("salt", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("notes") as batch:
        batch.drop_column("salt")
        batch.alter_column(
            "commitment", new_column_name="sha256", existing_type=sa.String(length=64)
        )
    op.drop_index(op.f("ix_exhibit_holds_case_id"), table_name="exhibit_holds")
    op.drop_table("exhibit_holds")
    op.drop_table("party_proposals")
    with op.batch_alter_table("case_grants") as batch:
        batch.drop_column("exhibits")
