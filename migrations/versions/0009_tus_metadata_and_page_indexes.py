"""tus Upload-Metadata kept for HEAD; indexes the workspace pages read by

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("content_uploads") as batch:
        batch.add_column(sa.Column("metadata_header", sa.Text(), nullable=True))
    # The timeline pages: a case's entries by type or by exhibit, newest first, without
    # reading the whole log.
    op.create_index("ix_log_entries_case_type_seq", "log_entries", ["case_id", "type", "seq"])
    op.create_index(
        "ix_log_entries_case_exhibit_seq", "log_entries", ["case_id", "exhibit_id", "seq"]
    )
    # ... and by the actor's state, kept beside the canonical bytes from now on and taken
    # from them for the entries already logged.
    with op.batch_alter_table("log_entries") as batch:
        batch.add_column(sa.Column("actor_jurisdiction", sa.String(32), nullable=True))
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "UPDATE log_entries SET actor_jurisdiction = "
            "convert_from(canonical, 'UTF8')::jsonb -> 'actor' ->> 'jurisdiction'"
        )
    else:
        op.execute(
            "UPDATE log_entries SET actor_jurisdiction = "
            "json_extract(CAST(canonical AS TEXT), '$.actor.jurisdiction')"
        )
    op.create_index(
        "ix_log_entries_case_actor_seq",
        "log_entries",
        ["case_id", "actor_jurisdiction", "seq"],
    )


def downgrade() -> None:
    op.drop_index("ix_log_entries_case_actor_seq", table_name="log_entries")
    with op.batch_alter_table("log_entries") as batch:
        batch.drop_column("actor_jurisdiction")
    op.drop_index("ix_log_entries_case_exhibit_seq", table_name="log_entries")
    op.drop_index("ix_log_entries_case_type_seq", table_name="log_entries")
    with op.batch_alter_table("content_uploads") as batch:
        batch.drop_column("metadata_header")
