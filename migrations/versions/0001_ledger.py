"""The ledger's tables: entries, tree nodes, head, verifier keys, checkpoints.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# As in govsvc/ledger/storage.py: INTEGER on SQLite makes the key the rowid.
INDEX = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
HASH = sa.LargeBinary(32)
TIME = sa.String(40)


def upgrade() -> None:
    op.create_table(
        "ledger_entries",
        sa.Column("idx", INDEX, primary_key=True, autoincrement=False),
        sa.Column("leaf_hash", HASH, nullable=False),
        sa.Column("body", sa.LargeBinary, nullable=False),
    )
    op.create_table(
        "ledger_nodes",
        sa.Column("level", sa.SmallInteger, primary_key=True, autoincrement=False),
        sa.Column("idx", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("hash", HASH, nullable=False),
        sqlite_with_rowid=False,
    )
    head = op.create_table(
        "ledger_head",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("size", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "ledger_keys",
        sa.Column("verifier_key", sa.String(500), primary_key=True),
        sa.Column("name", sa.String(300), nullable=False),
        sa.Column("added_at", TIME, nullable=False),
    )
    op.create_table(
        "ledger_checkpoints",
        sa.Column("size", INDEX, primary_key=True, autoincrement=False),
        sa.Column("root", HASH, nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column(
            "verifier_key",
            sa.String(500),
            sa.ForeignKey("ledger_keys.verifier_key", ondelete="RESTRICT"),
            nullable=False,
        ),
        sa.Column("signed_at", TIME, nullable=False),
    )
    # The empty tree; appenders lock and grow this one row.
    op.bulk_insert(head, [{"id": 1, "size": 0}])


def downgrade() -> None:
    # Dropping the ledger destroys the audit trail; Alembic asks for it explicitly.
    op.drop_table("ledger_checkpoints")
    op.drop_table("ledger_keys")
    op.drop_table("ledger_head")
    op.drop_table("ledger_nodes")
    op.drop_table("ledger_entries")
