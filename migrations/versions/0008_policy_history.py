"""the case policy history: an index for case.policy_set entries; exports' log size, the
witnesses of the bundle's policy and those that had not cosigned

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_POLICY_SET = sa.text("type = 'case.policy_set'")


def upgrade() -> None:
    op.create_index(
        "ix_log_entries_policy_set",
        "log_entries",
        ["case_id", "seq"],
        postgresql_where=_POLICY_SET,
        sqlite_where=_POLICY_SET,
    )
    with op.batch_alter_table("exports") as batch:
        batch.add_column(sa.Column("log_size", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("not_cosigned", sa.Text(), nullable=True))
        batch.add_column(sa.Column("witnesses", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("exports") as batch:
        batch.drop_column("witnesses")
        batch.drop_column("not_cosigned")
        batch.drop_column("log_size")
    op.drop_index("ix_log_entries_policy_set", table_name="log_entries")
