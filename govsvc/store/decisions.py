"""Decision, review, idempotency and tier-state rows.

Every writer here runs inside the ledger's transaction (`Ledger.submit`), so that a
row and its ledger entry commit together or not at all.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
from typing import Any

import sqlalchemy as sa

from govsvc.ledger.storage import on_driver, placeholder
from govsvc.store.errors import BadRequest, NotFound
from govsvc.store.jsontext import dumps, with_member
from govsvc.store.packed import unpack
from govsvc.store.tables import (
    decisions,
    idempotency_keys,
    reviews,
    tier_history,
    tier_states,
)

STATUSES = ("final", "pending", "approved", "rejected")

# The statements a decision runs, built once. A statement built per call
# (`insert().values(**row)`, `select().where(column == value)`) costs SQLAlchemy 50
# to 150 microseconds of construction and cache-key generation before it reaches
# the driver; a prebuilt one with bound parameters hits the compiled cache at once
# (tests/bench/bench_service.py, docs/api.md "Speed"). Bound parameter names differ
# from column names, which SQLAlchemy reserves for the SET and VALUES clauses.
_INSERT_KEY = idempotency_keys.insert()
_LOCK_TIER_STATE = (
    sa.select(tier_states.c.state)
    .where(tier_states.c.model == sa.bindparam("b_model"))
    .with_for_update()
)
_INSERT_TIER_STATE = tier_states.insert()
_INSERT_TIER_CHANGE = tier_history.insert()


def find_idempotent(
    conn: sa.Connection, token_id: str, key: str
) -> tuple[str, str] | None:
    """(request digest, decision id) recorded for this token's key, or None."""
    row = conn.execute(
        sa.select(idempotency_keys.c.request_digest, idempotency_keys.c.decision_id)
        .where(idempotency_keys.c.token_id == token_id)
        .where(idempotency_keys.c.key == key)
    ).first()
    return (row.request_digest, row.decision_id) if row is not None else None


def claim_idempotency_key(
    conn: sa.Connection,
    token_id: str,
    key: str,
    request_digest: str,
    decision_id: str,
    created_at: str,
) -> None:
    """Insert the key; a concurrent claim of the same key fails on the primary key."""
    conn.execute(
        _INSERT_KEY,
        {
            "token_id": token_id,
            "key": key,
            "request_digest": request_digest,
            "decision_id": decision_id,
            "created_at": created_at,
        },
    )


DECISION_COLUMNS = tuple(column.name for column in decisions.columns)


@functools.cache
def _insert_decisions_sql(dialect: str, mark: str) -> str:
    # The body arrives as JSON text; PostgreSQL's json column takes it by a cast,
    # SQLite stores the text as it is (what SQLAlchemy's JSON type would send).
    marks = [
        f"CAST({mark} AS JSON)" if name == "body" and dialect == "postgresql" else mark
        for name in DECISION_COLUMNS
    ]
    return (
        f"INSERT INTO decisions ({', '.join(DECISION_COLUMNS)}) "
        f"VALUES ({', '.join(marks)})"
    )


def insert_decisions(conn: sa.Connection, values: list[dict[str, Any]]) -> None:
    """Many decision rows in one executemany (a ledger batch's), each a value per
    column with the body as JSON text. Written through the driver: SQLAlchemy's
    per-row parameter processing cost more than the inserts themselves."""
    if values:
        sql = _insert_decisions_sql(conn.dialect.name, placeholder(conn))
        rows = [tuple(row[name] for name in DECISION_COLUMNS) for row in values]
        on_driver(conn, sql, rows, many=True)


def get_decision(conn: sa.Connection, decision_id: str) -> sa.Row[Any]:
    row = conn.execute(
        sa.select(decisions).where(decisions.c.id == decision_id)
    ).first()
    if row is None:
        raise NotFound(
            f"no decision {decision_id!r}; GET /v1/decisions lists the recorded ones"
        )
    return row


def facts_of(row: sa.Row[Any]) -> str:
    """A decision row's facts as JSON text, risk included, however they are kept
    (`govsvc.store.tables.decisions`)."""
    if row.facts_zstd is None:
        text: str = row.facts
        return text
    return facts_with_risk(unpack(row.facts_zstd), row.body["risk"])


def facts_with_risk(assessed_json: str, risk: dict[str, Any]) -> str:
    """Assessed facts' JSON with the risk a decision concluded added, as answered
    and as `facts_of` gives them back, without encoding the rest again."""
    return with_member(assessed_json, "risk", dumps(risk))


def lock_decision(conn: sa.Connection, decision_id: str) -> sa.Row[Any]:
    row = conn.execute(
        sa.select(decisions).where(decisions.c.id == decision_id).with_for_update()
    ).first()
    if row is None:
        raise NotFound(
            f"no decision {decision_id!r}; GET /v1/decisions lists the recorded ones"
        )
    return row


def set_status(conn: sa.Connection, decision_id: str, status: str) -> None:
    conn.execute(
        decisions.update().where(decisions.c.id == decision_id).values(status=status)
    )


def reviews_of(conn: sa.Connection, decision_id: str) -> list[dict[str, Any]]:
    rows = conn.execute(
        sa.select(reviews)
        .where(reviews.c.decision_id == decision_id)
        .order_by(reviews.c.created_at, reviews.c.id)
    )
    return [
        {
            "id": r.id,
            "reviewer": r.reviewer,
            "outcome": r.outcome,
            "comment": r.comment,
            "time": r.created_at,
            "ledger_index": r.ledger_index,
        }
        for r in rows
    ]


def insert_review(conn: sa.Connection, **values: Any) -> None:
    conn.execute(reviews.insert().values(**values))


def has_reviewed(conn: sa.Connection, decision_id: str, reviewer: str) -> bool:
    row = conn.execute(
        sa.select(reviews.c.id).where(
            reviews.c.decision_id == decision_id, reviews.c.reviewer == reviewer
        )
    ).first()
    return row is not None


# Listing is keyset-paginated on (created_at, id), newest first: a cursor stays
# valid while new decisions arrive, and a page costs an index range scan.


def encode_cursor(created_at: str, decision_id: str) -> str:
    raw = json.dumps([created_at, decision_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[str, str]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        created_at, decision_id = json.loads(base64.urlsafe_b64decode(padded))
        return str(created_at), str(decision_id)
    except (binascii.Error, ValueError, TypeError) as exc:
        raise BadRequest(
            "the cursor is not one this service gave out; use the `next` value of "
            "the previous page as it is"
        ) from exc


def list_decisions(
    conn: sa.Connection,
    *,
    model: str | None,
    verdict: str | None,
    status: str | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[sa.Row[Any]], str | None]:
    query = sa.select(decisions)
    if model is not None:
        query = query.where(decisions.c.model == model)
    if verdict is not None:
        query = query.where(decisions.c.verdict == verdict)
    if status is not None:
        query = query.where(decisions.c.status == status)
    if cursor is not None:
        created_at, decision_id = decode_cursor(cursor)
        query = query.where(
            sa.or_(
                decisions.c.created_at < created_at,
                sa.and_(
                    decisions.c.created_at == created_at, decisions.c.id < decision_id
                ),
            )
        )
    query = query.order_by(decisions.c.created_at.desc(), decisions.c.id.desc())
    rows = list(conn.execute(query.limit(limit + 1)))
    following = None
    if len(rows) > limit:
        rows = rows[:limit]
        following = encode_cursor(rows[-1].created_at, rows[-1].id)
    return rows, following


def lock_tier_state(conn: sa.Connection, model: str) -> dict[str, Any] | None:
    """The model's stored tier state, locked until the transaction ends (PostgreSQL;
    SQLite has one writer at a time anyway)."""
    row = conn.execute(_LOCK_TIER_STATE, {"b_model": model}).first()
    return dict(row.state) if row is not None else None


def lock_tier_states(
    conn: sa.Connection, models: list[str]
) -> dict[str, dict[str, Any]]:
    """The stored tier states of `models` (those that have one), locked until the
    transaction ends. Locked in the order of their names, as every caller asks, so
    that two replicas locking overlapping sets cannot deadlock."""
    return _tier_states(conn, models, lock=True)


def read_tier_states(
    conn: sa.Connection, models: list[str]
) -> dict[str, dict[str, Any]]:
    """The stored tier states of `models` (those that have one), unlocked: a guess,
    for work that checks it again under the lock."""
    return _tier_states(conn, models, lock=False)


def _tier_states(
    conn: sa.Connection, models: list[str], *, lock: bool
) -> dict[str, dict[str, Any]]:
    # Through the driver: every ledger batch of decisions reads them, under the
    # write lock or just before it.
    if not models:
        return {}
    mark = placeholder(conn)
    for_update = " FOR UPDATE" if lock and conn.dialect.name == "postgresql" else ""
    found = on_driver(
        conn,
        f"SELECT model, state FROM tier_states WHERE model IN "
        f"({', '.join([mark] * len(models))}) ORDER BY model{for_update}",
        sorted(models),
    )
    # PostgreSQL's driver decodes a json column; SQLite's gives its text.
    return {
        model: state if isinstance(state, dict) else json.loads(state)
        for model, state in found
    }


def insert_tier_state(
    conn: sa.Connection, model: str, state: dict[str, Any], at: str
) -> None:
    """A new model's first tier state; a second insert for the model fails on the
    primary key (two replicas placing one new model at once)."""
    conn.execute(_INSERT_TIER_STATE, {"model": model, "state": state, "updated_at": at})


def update_tier_states(conn: sa.Connection, values: list[dict[str, Any]]) -> None:
    """Many models' tier states in one executemany: `b_model`, `b_state`, `b_at`.
    Through the driver, as `lock_tier_states`."""
    if not values:
        return
    mark = placeholder(conn)
    state = f"CAST({mark} AS JSON)" if conn.dialect.name == "postgresql" else mark
    on_driver(
        conn,
        f"UPDATE tier_states SET state = {state}, updated_at = {mark} "
        f"WHERE model = {mark}",
        [(dumps(v["b_state"]), v["b_at"], v["b_model"]) for v in values],
        many=True,
    )


def record_tier_change(conn: sa.Connection, **values: Any) -> None:
    conn.execute(_INSERT_TIER_CHANGE, values)


def tier_changes(conn: sa.Connection, model: str) -> list[dict[str, Any]]:
    rows = conn.execute(
        sa.select(tier_history)
        .where(tier_history.c.model == model)
        .order_by(tier_history.c.id)
    )
    return [
        {
            "from": r.from_tier,
            "to": r.to_tier,
            "cause": r.cause,
            "time": r.created_at,
            "ledger_index": r.ledger_index,
        }
        for r in rows
    ]
