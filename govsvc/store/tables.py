"""The service's tables, in their own `MetaData` (the ledger keeps its own).

- `decisions`: one row per decision, with the response body it was answered with
  and the index of its ledger entry;
- `reviews`: a reviewer's approval or rejection of a `review` decision;
- `idempotency_keys`: `Idempotency-Key` to the request digest and the decision;
- `tokens`: API tokens, stored as SHA-256 digests, with their roles;
- `policy_files`: the canonical text of each policy file in force;
- `bundle_state`: one row, the bundle's version number and digest; replicas compare
  the version with the one they compiled on every request;
- `policy_publications`: every publication, with its ledger index;
- `tier_states`: each model's current `govsvc.risk.TierState`, as JSON;
- `tier_history`: every change of a model's tier;
- `service_meta`: one-off facts, such as "the first admin token was printed".

Migrations `0002_service.py` and `0003_packed_facts.py` (`migrations/versions/`)
create exactly these; a test checks that they agree.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

# Timestamps are stored as RFC 3339 strings in UTC: they go into ledger entries
# verbatim, sort correctly as text, and mean the same on SQLite and PostgreSQL.
TIME = sa.String(40)

decisions = sa.Table(
    "decisions",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("created_at", TIME, nullable=False),
    sa.Column("model", sa.String(200), nullable=False),
    sa.Column("model_version", sa.String(200), nullable=False),
    sa.Column("stage", sa.String(40), nullable=False),
    sa.Column("verdict", sa.String(10), nullable=False),
    sa.Column("tier", sa.String(20), nullable=False),
    # pending, approved or rejected for a review verdict; final for the others
    sa.Column("status", sa.String(10), nullable=False),
    sa.Column("bundle_digest", sa.String(80), nullable=False),
    sa.Column("request_digest", sa.String(80), nullable=False),
    sa.Column("ledger_index", sa.BigInteger, nullable=False),
    sa.Column("token_id", sa.String(40), nullable=False),
    # The response without its facts and receipt; the facts are kept apart as JSON
    # text, encoded once per decision and spliced into answers as they are.
    sa.Column("body", sa.JSON, nullable=False),
    # Decisions since revision 0003 keep their facts packed (`govsvc.store.packed`,
    # a third of the bytes) and without `risk`, which is the body's and is spliced
    # back on reading (`decisions.facts_of`), and an empty `facts`; earlier ones
    # keep them there as JSON text, risk included, and no `facts_zstd`. (`facts`
    # stays NOT NULL so that the upgrade only adds a column: SQLite would copy the
    # whole table to relax it.)
    sa.Column("facts", sa.Text, nullable=False),
    sa.Column("facts_zstd", sa.LargeBinary, nullable=True),
    sa.Index("ix_decisions_model_created", "model", "created_at"),
    sa.Index("ix_decisions_created", "created_at"),
)

reviews = sa.Table(
    "reviews",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column(
        "decision_id",
        sa.String(40),
        sa.ForeignKey("decisions.id", ondelete="RESTRICT"),
        nullable=False,
    ),
    sa.Column("reviewer", sa.String(40), nullable=False),  # the reviewer's token id
    sa.Column("outcome", sa.String(10), nullable=False),  # approve or reject
    sa.Column("comment", sa.Text, nullable=False),
    sa.Column("created_at", TIME, nullable=False),
    sa.Column("ledger_index", sa.BigInteger, nullable=False),
    # A reviewer reviews a decision once; the database enforces it under races.
    sa.UniqueConstraint("decision_id", "reviewer", name="uq_reviews_decision_reviewer"),
)

idempotency_keys = sa.Table(
    "idempotency_keys",
    metadata,
    # Scoped by token so that two pipelines choosing the same key do not collide.
    sa.Column("token_id", sa.String(40), primary_key=True),
    sa.Column("key", sa.String(200), primary_key=True),
    sa.Column("request_digest", sa.String(80), nullable=False),
    sa.Column("decision_id", sa.String(40), nullable=False),
    sa.Column("created_at", TIME, nullable=False),
)

tokens = sa.Table(
    "tokens",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("digest", sa.String(64), nullable=False, unique=True),
    sa.Column("roles", sa.String(200), nullable=False),  # comma-separated
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("created_at", TIME, nullable=False),
    sa.Column("revoked_at", TIME, nullable=True),
)

policy_files = sa.Table(
    "policy_files",
    metadata,
    sa.Column("name", sa.String(200), primary_key=True),  # the file name
    sa.Column("source", sa.Text, nullable=False),  # canonical (formatted) text
    sa.Column("sha256", sa.String(80), nullable=False),
    sa.Column("updated_at", TIME, nullable=False),
)

bundle_state = sa.Table(
    "bundle_state",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),  # always 1
    sa.Column("version", sa.BigInteger, nullable=False),
    sa.Column("digest", sa.String(80), nullable=False),
    sa.Column("updated_at", TIME, nullable=False),
)

policy_publications = sa.Table(
    "policy_publications",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("sha256", sa.String(80), nullable=False),
    sa.Column("bundle_version", sa.BigInteger, nullable=False),
    sa.Column("bundle_digest", sa.String(80), nullable=False),
    sa.Column("author", sa.String(40), nullable=False),  # token id, or "seed"
    sa.Column("created_at", TIME, nullable=False),
    sa.Column("ledger_index", sa.BigInteger, nullable=False),
)

tier_states = sa.Table(
    "tier_states",
    metadata,
    sa.Column("model", sa.String(200), primary_key=True),
    sa.Column("state", sa.JSON, nullable=False),
    sa.Column("updated_at", TIME, nullable=False),
)

tier_history = sa.Table(
    "tier_history",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("model", sa.String(200), nullable=False),
    sa.Column("from_tier", sa.String(20), nullable=True),
    sa.Column("to_tier", sa.String(20), nullable=False),
    sa.Column("cause", sa.String(40), nullable=False),  # decision or review id
    sa.Column("created_at", TIME, nullable=False),
    sa.Column("ledger_index", sa.BigInteger, nullable=False),
    sa.Index("ix_tier_history_model", "model", "id"),
)

service_meta = sa.Table(
    "service_meta",
    metadata,
    sa.Column("key", sa.String(100), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)
