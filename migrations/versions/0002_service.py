"""The service's tables: decisions, reviews, tokens, idempotency keys, policies, tiers.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIME = sa.String(40)


def upgrade() -> None:
    op.create_table(
        "decisions",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("model_version", sa.String(200), nullable=False),
        sa.Column("stage", sa.String(40), nullable=False),
        sa.Column("verdict", sa.String(10), nullable=False),
        sa.Column("tier", sa.String(20), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("bundle_digest", sa.String(80), nullable=False),
        sa.Column("request_digest", sa.String(80), nullable=False),
        sa.Column("ledger_index", sa.BigInteger, nullable=False),
        sa.Column("token_id", sa.String(40), nullable=False),
        sa.Column("body", sa.JSON, nullable=False),
        sa.Column("facts", sa.Text, nullable=False),
    )
    op.create_index("ix_decisions_model_created", "decisions", ["model", "created_at"])
    op.create_index("ix_decisions_created", "decisions", ["created_at"])

    op.create_table(
        "reviews",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column(
            "decision_id",
            sa.String(40),
            sa.ForeignKey("decisions.id", ondelete="RESTRICT"),
            nullable=False,
        ),
        sa.Column("reviewer", sa.String(40), nullable=False),
        sa.Column("outcome", sa.String(10), nullable=False),
        sa.Column("comment", sa.Text, nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("ledger_index", sa.BigInteger, nullable=False),
        sa.UniqueConstraint(
            "decision_id", "reviewer", name="uq_reviews_decision_reviewer"
        ),
    )

    op.create_table(
        "idempotency_keys",
        sa.Column("token_id", sa.String(40), primary_key=True),
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("request_digest", sa.String(80), nullable=False),
        sa.Column("decision_id", sa.String(40), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
    )

    op.create_table(
        "tokens",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("digest", sa.String(64), nullable=False, unique=True),
        sa.Column("roles", sa.String(200), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("revoked_at", TIME, nullable=True),
    )

    op.create_table(
        "policy_files",
        sa.Column("name", sa.String(200), primary_key=True),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("sha256", sa.String(80), nullable=False),
        sa.Column("updated_at", TIME, nullable=False),
    )

    op.create_table(
        "bundle_state",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("version", sa.BigInteger, nullable=False),
        sa.Column("digest", sa.String(80), nullable=False),
        sa.Column("updated_at", TIME, nullable=False),
    )

    op.create_table(
        "policy_publications",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("sha256", sa.String(80), nullable=False),
        sa.Column("bundle_version", sa.BigInteger, nullable=False),
        sa.Column("bundle_digest", sa.String(80), nullable=False),
        sa.Column("author", sa.String(40), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("ledger_index", sa.BigInteger, nullable=False),
    )

    op.create_table(
        "tier_states",
        sa.Column("model", sa.String(200), primary_key=True),
        sa.Column("state", sa.JSON, nullable=False),
        sa.Column("updated_at", TIME, nullable=False),
    )

    op.create_table(
        "tier_history",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("from_tier", sa.String(20), nullable=True),
        sa.Column("to_tier", sa.String(20), nullable=False),
        sa.Column("cause", sa.String(40), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("ledger_index", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_tier_history_model", "tier_history", ["model", "id"])

    op.create_table(
        "service_meta",
        sa.Column("key", sa.String(100), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("service_meta")
    op.drop_index("ix_tier_history_model", table_name="tier_history")
    op.drop_table("tier_history")
    op.drop_table("tier_states")
    op.drop_table("policy_publications")
    op.drop_table("bundle_state")
    op.drop_table("policy_files")
    op.drop_table("tokens")
    op.drop_table("idempotency_keys")
    op.drop_table("reviews")
    op.drop_index("ix_decisions_created", table_name="decisions")
    op.drop_index("ix_decisions_model_created", table_name="decisions")
    op.drop_table("decisions")
