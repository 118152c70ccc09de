"""Decisions' facts packed with Zstandard: `decisions.facts_zstd`.

Rows written before keep their facts as JSON text in `facts` and are read as they
are; packed rows leave `facts` empty. Adding a nullable column rewrites no row on
SQLite or PostgreSQL, so the upgrade takes a moment however many decisions are
stored, and needs no room for a copy of the table.

Revision ID: 0003
Revises: 0002
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
    op.add_column("decisions", sa.Column("facts_zstd", sa.LargeBinary, nullable=True))


def downgrade() -> None:
    # Packed facts have no place in revision 0002's table: a downgrade would lose
    # them, so it refuses while any row has them.
    bind = op.get_bind()
    packed = bind.execute(
        sa.text("SELECT count(*) FROM decisions WHERE facts_zstd IS NOT NULL")
    ).scalar()
    if packed:
        raise RuntimeError(
            f"{packed} decisions keep their facts packed (revision 0003); a "
            "downgrade to 0002 would lose them, so it is refused"
        )
    with op.batch_alter_table("decisions") as batch:
        batch.drop_column("facts_zstd")
