"""workspace schema: jurisdictions, cases, exhibits, custody log

Revision ID: 0001
Revises:
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "cases",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("agreement", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cases")),
    )
    op.create_index(op.f("ix_cases_created_at_id"), "cases", ["created_at", "id"], unique=False)
    op.create_table(
        "jurisdictions",
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_jurisdictions")),
    )
    op.create_table(
        "revoked_tokens",
        sa.Column("jti", sa.String(length=200), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("jti", name=op.f("pk_revoked_tokens")),
    )
    op.create_table(
        "case_grants",
        sa.Column("case_id", sa.String(length=36), nullable=False),
        sa.Column("jurisdiction", sa.String(length=32), nullable=False),
        sa.Column("sub", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_case_grants_case_id_cases")
        ),
        sa.PrimaryKeyConstraint(
            "case_id", "jurisdiction", "sub", "role", name=op.f("pk_case_grants")
        ),
    )
    op.create_index(
        op.f("ix_case_grants_jurisdiction_sub_role"),
        "case_grants",
        ["jurisdiction", "sub", "role"],
        unique=False,
    )
    op.create_table(
        "case_parties",
        sa.Column("case_id", sa.String(length=36), nullable=False),
        sa.Column("jurisdiction", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_case_parties_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["jurisdiction"],
            ["jurisdictions.code"],
            name=op.f("fk_case_parties_jurisdiction_jurisdictions"),
        ),
        sa.PrimaryKeyConstraint("case_id", "jurisdiction", name=op.f("pk_case_parties")),
    )
    op.create_index(
        op.f("ix_case_parties_jurisdiction"), "case_parties", ["jurisdiction"], unique=False
    )
    op.create_table(
        "checkpoints",
        sa.Column("case_id", sa.String(length=36), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("root", sa.LargeBinary(length=32), nullable=False),
        sa.Column("note", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_checkpoints_case_id_cases")
        ),
        sa.PrimaryKeyConstraint("case_id", "size", name=op.f("pk_checkpoints")),
    )
    op.create_table(
        "exhibits",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("case_id", sa.String(length=36), nullable=False),
        sa.Column("label", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("owner", sa.String(length=32), nullable=False),
        sa.Column("acquisition", sa.Text(), nullable=False),
        sa.Column("sealed", sa.Boolean(), nullable=False),
        sa.Column("legal_hold", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_leaf", sa.LargeBinary(length=32), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_exhibits_case_id_cases")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exhibits")),
    )
    op.create_index(
        op.f("ix_exhibits_case_id_created_at_id"),
        "exhibits",
        ["case_id", "created_at", "id"],
        unique=False,
    )
    op.create_table(
        "jurisdiction_keys",
        sa.Column("jurisdiction", sa.String(length=32), nullable=False),
        sa.Column("kid", sa.String(length=128), nullable=False),
        sa.Column("jwk", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["jurisdiction"],
            ["jurisdictions.code"],
            name=op.f("fk_jurisdiction_keys_jurisdiction_jurisdictions"),
        ),
        sa.PrimaryKeyConstraint("jurisdiction", "kid", name=op.f("pk_jurisdiction_keys")),
    )
    op.create_table(
        "log_entries",
        sa.Column("case_id", sa.String(length=36), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("leaf_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("canonical", sa.LargeBinary(), nullable=False),
        sa.Column("type", sa.String(length=64), nullable=False),
        sa.Column("exhibit_id", sa.String(length=36), nullable=True),
        sa.Column("time", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_log_entries_case_id_cases")
        ),
        sa.PrimaryKeyConstraint("case_id", "seq", name=op.f("pk_log_entries")),
    )
    op.create_table(
        "log_heads",
        sa.Column("case_id", sa.String(length=36), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("last_leaf", sa.LargeBinary(length=32), nullable=False),
        sa.Column("last_time", sa.String(length=32), nullable=False),
        sa.Column("peaks", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_log_heads_case_id_cases")),
        sa.PrimaryKeyConstraint("case_id", name=op.f("pk_log_heads")),
    )
    op.create_table(
        "log_nodes",
        sa.Column("case_id", sa.String(length=36), nullable=False),
        sa.Column("level", sa.SmallInteger(), nullable=False),
        sa.Column("idx", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.LargeBinary(length=32), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_log_nodes_case_id_cases")),
        sa.PrimaryKeyConstraint("case_id", "level", "idx", name=op.f("pk_log_nodes")),
    )
    op.create_table(
        "checkpoint_cosignatures",
        sa.Column("case_id", sa.String(length=36), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("key_name", sa.String(length=200), nullable=False),
        sa.Column("line", sa.Text(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id", "size"],
            ["checkpoints.case_id", "checkpoints.size"],
            name=op.f("fk_checkpoint_cosignatures_case_id_checkpoints"),
        ),
        sa.PrimaryKeyConstraint(
            "case_id", "size", "key_name", name=op.f("pk_checkpoint_cosignatures")
        ),
    )
    op.create_table(
        "notes",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("case_id", sa.String(length=36), nullable=False),
        sa.Column("exhibit_id", sa.String(length=36), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_notes_case_id_cases")),
        sa.ForeignKeyConstraint(
            ["exhibit_id"], ["exhibits.id"], name=op.f("fk_notes_exhibit_id_exhibits")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notes")),
    )
    op.create_index(op.f("ix_notes_case_id_seq"), "notes", ["case_id", "seq"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_notes_case_id_seq"), table_name="notes")
    op.drop_table("notes")
    op.drop_table("checkpoint_cosignatures")
    op.drop_table("log_nodes")
    op.drop_table("log_heads")
    op.drop_table("log_entries")
    op.drop_table("jurisdiction_keys")
    op.drop_index(op.f("ix_exhibits_case_id_created_at_id"), table_name="exhibits")
    op.drop_table("exhibits")
    op.drop_table("checkpoints")
    op.drop_index(op.f("ix_case_parties_jurisdiction"), table_name="case_parties")
    op.drop_table("case_parties")
    op.drop_index(op.f("ix_case_grants_jurisdiction_sub_role"), table_name="case_grants")
    op.drop_table("case_grants")
    op.drop_table("revoked_tokens")
    op.drop_table("jurisdictions")
    op.drop_index(op.f("ix_cases_created_at_id"), table_name="cases")
    op.drop_table("cases")
