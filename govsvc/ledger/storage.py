"""The ledger's tables and the few queries everything else is built from.

Layout (migration `migrations/versions/0001_ledger.py` creates exactly these):

- `ledger_entries`: one row per entry: its index, its RFC 8785 bytes (the leaf data,
  stored verbatim so that the leaf hash can be recomputed) and its leaf hash;
- `ledger_nodes`: the hash of every complete, power-of-two-aligned subtree of four or
  more leaves, keyed by `(level, idx)` as in `govsvc.ledger.merkle` (leaves
  `[idx << level, (idx + 1) << level)`). Leaf hashes (level 0) live in
  `ledger_entries`, and a level-1 hash is one SHA-256 of two of them, so neither is
  stored here: that saves a third of the rows every append writes. A tree of n
  leaves has fewer than n/2 stored nodes, and any root or proof is folded from
  O(log n) of them, read in one query;
- `ledger_head`: one row (`id = 1`) holding the tree size. Appenders lock it
  (`UPDATE ... RETURNING` takes the row lock on PostgreSQL and the write lock on
  SQLite) so that indices stay dense and unique across threads and processes;
- `ledger_checkpoints`: every signed checkpoint, keyed by tree size, with its root
  and the signed note text as signed;
- `ledger_keys`: every verifier key that ever signed a checkpoint here, so that old
  checkpoints still verify after the signing key is rotated.

On SQLite the integer keys are `INTEGER PRIMARY KEY` (the rowid itself, no second
index) and the node table is `WITHOUT ROWID`, both for append and lookup speed.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from govsvc.ledger import merkle
from govsvc.ledger.merkle import Piece

log = logging.getLogger(__name__)

metadata = sa.MetaData()

# BIGINT on PostgreSQL; on SQLite only the exact type name INTEGER makes a primary
# key the rowid (64 bits either way).
INDEX = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
HASH = sa.LargeBinary(32)
TIME = sa.String(40)  # RFC 3339 in UTC, as the service stores times

HEAD_ID = 1
STORED_MIN_LEVEL = 2  # levels 0 and 1 come from ledger_entries (see above)

entries = sa.Table(
    "ledger_entries",
    metadata,
    sa.Column("idx", INDEX, primary_key=True, autoincrement=False),
    sa.Column("leaf_hash", HASH, nullable=False),
    sa.Column("body", sa.LargeBinary, nullable=False),  # RFC 8785 bytes
)

nodes = sa.Table(
    "ledger_nodes",
    metadata,
    sa.Column("level", sa.SmallInteger, primary_key=True, autoincrement=False),
    sa.Column("idx", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("hash", HASH, nullable=False),
    sqlite_with_rowid=False,
)

head = sa.Table(
    "ledger_head",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("size", sa.BigInteger, nullable=False),
)

verifier_keys = sa.Table(
    "ledger_keys",
    metadata,
    sa.Column("verifier_key", sa.String(500), primary_key=True),
    sa.Column("name", sa.String(300), nullable=False),
    sa.Column("added_at", TIME, nullable=False),
)

checkpoints = sa.Table(
    "ledger_checkpoints",
    metadata,
    sa.Column("size", INDEX, primary_key=True, autoincrement=False),
    sa.Column("root", HASH, nullable=False),
    sa.Column("note", sa.Text, nullable=False),  # the signed note, byte for byte
    sa.Column(
        "verifier_key",
        sa.String(500),
        sa.ForeignKey("ledger_keys.verifier_key", ondelete="RESTRICT"),
        nullable=False,
    ),
    sa.Column("signed_at", TIME, nullable=False),
)


def insert_ignoring_duplicates(conn: sa.Connection, table: sa.Table) -> Any:
    """`INSERT ... ON CONFLICT DO NOTHING` for the connection's back end."""
    dialect = conn.dialect.name
    if dialect == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing()
    if dialect == "sqlite":
        return sqlite.insert(table).on_conflict_do_nothing()
    raise NotImplementedError(
        f"the ledger supports SQLite and PostgreSQL, not {dialect}"
    )


def ensure_head(conn: sa.Connection) -> None:
    """Create the head row (size 0) unless it exists; safe to race."""
    conn.execute(insert_ignoring_duplicates(conn, head).values(id=HEAD_ID, size=0))


# The statements every ledger batch runs are written as SQL for the driver: built
# and run through SQLAlchemy's expression layer, each cost more than the database's
# own work (a tenth of a lone decision's latency, for four of them).
_CHECKPOINT_COLUMNS = (
    checkpoints.c.size,
    checkpoints.c.root,
    checkpoints.c.note,
    checkpoints.c.verifier_key,
)
_CHECKPOINT_OF_SIZE = sa.select(*_CHECKPOINT_COLUMNS).where(
    checkpoints.c.size == sa.bindparam("b_size")
)
_LATEST_CHECKPOINT = (
    sa.select(*_CHECKPOINT_COLUMNS).order_by(checkpoints.c.size.desc()).limit(1)
)


def lock_head(conn: sa.Connection, grow: int = 0) -> int:
    """Lock the head row for this transaction; return the size before growing it.

    A write as the transaction's first statement: on PostgreSQL it takes the row lock
    (later appenders wait for our commit), on SQLite the database write lock, taken
    before any read so that our snapshot cannot go stale under a concurrent writer.
    """
    ph = placeholder(conn)
    found = on_driver(
        conn,
        f"UPDATE ledger_head SET size = size + {ph} WHERE id = {ph} RETURNING size",
        (grow, HEAD_ID),
    )
    if not found:
        from govsvc.ledger.errors import LedgerError

        raise LedgerError(
            "the ledger has no head row: expected one row in ledger_head; run "
            "`govsvc db upgrade` to create the ledger's tables"
        )
    return int(found[0][0]) - grow


def set_size(conn: sa.Connection, size: int) -> None:
    ph = placeholder(conn)
    on_driver(
        conn, f"UPDATE ledger_head SET size = {ph} WHERE id = {ph}", (size, HEAD_ID)
    )


def read_size(conn: sa.Connection) -> int:
    size = conn.execute(sa.select(head.c.size).where(head.c.id == HEAD_ID)).scalar()
    return int(size or 0)


def placeholder(conn: sa.Connection) -> str:
    """The DB-API parameter marker of the connection's driver, for statements
    written as SQL text and run with executemany."""
    style = conn.dialect.paramstyle
    if style == "qmark":
        return "?"
    if style in ("format", "pyformat"):
        return "%s"
    raise NotImplementedError(f"no placeholder for DB-API paramstyle {style}")


def on_driver(
    conn: sa.Connection, sql: str, params: Sequence[Any] = (), *, many: bool = False
) -> list[tuple[Any, ...]]:
    """Run `sql` (with `placeholder` marks) on the connection's DB-API cursor, in
    its transaction, and return the rows it answers.

    For the dozen statements of every ledger batch: SQLAlchemy's execution context
    costs 30 to 60 us a statement, more than most of them take in the database,
    and the writer holds the database's write lock meanwhile. Begins the
    connection's transaction if it has none yet, as SQLAlchemy's own `execute`
    would, so that the statement commits or rolls back with the connection's.
    """
    if not conn.in_transaction():
        conn.begin()
    cursor = conn.connection.cursor()
    try:
        if many:
            cursor.executemany(sql, params)
            return []
        cursor.execute(sql, params)
        return list(cursor.fetchall()) if cursor.description else []
    except conn.dialect.loaded_dbapi.Error as exc:
        # Raised as SQLAlchemy raises it (an IntegrityError is an IntegrityError),
        # so that callers catch one kind of error whichever way a statement ran.
        raise sa.exc.DBAPIError.instance(
            sql, params, exc, conn.dialect.loaded_dbapi.Error
        ) from exc
    finally:
        cursor.close()


@functools.lru_cache(maxsize=512)
def _pieces_sql(leaves: int, inner: int, ph: str) -> str:
    parts: list[str] = []
    if leaves:
        marks = ",".join([ph] * leaves)
        parts.append(
            f"SELECT 0, idx, leaf_hash FROM ledger_entries WHERE idx IN ({marks})"
        )
    if inner:
        # OR of equalities rather than a row-value IN: both back ends turn it into
        # one index probe per term (SQLite's multi-index OR, PostgreSQL's BitmapOr);
        # SQLite would scan the table for `(level, idx) IN (VALUES ...)`.
        terms = " OR ".join([f"(level = {ph} AND idx = {ph})"] * inner)
        parts.append(f"SELECT level, idx, hash FROM ledger_nodes WHERE {terms}")
    return " UNION ALL ".join(parts)


def fetch_pieces(conn: sa.Connection, pieces: Sequence[Piece]) -> dict[Piece, bytes]:
    """The hashes of complete aligned subtrees, in one query.

    Leaves come from `ledger_entries` (a level-1 piece as its two leaves, hashed
    here), the rest from `ledger_nodes`, joined with UNION ALL. The SQL goes straight
    to the DB-API cursor of the connection (in its transaction, if any): a proof is
    a few dozen primary-key lookups, and SQLAlchemy's statement and result machinery
    would cost as much as the lookups. Pieces not stored are absent from the result.
    """
    leaves: list[int] = []
    pairs: list[int] = []
    inner: list[int] = []
    for level, index in pieces:
        if level == 0:
            leaves.append(index)
        elif level == 1:
            pairs.append(index)
            leaves.extend((2 * index, 2 * index + 1))
        else:
            inner.extend((level, index))
    if not leaves and not inner:
        return {}

    sql = _pieces_sql(len(leaves), len(inner) // 2, placeholder(conn))
    cursor = conn.connection.cursor()
    try:
        cursor.execute(sql, leaves + inner)
        rows = cursor.fetchall()
    finally:
        cursor.close()
    found = {(int(level), int(index)): bytes(h) for level, index, h in rows}

    if not pairs:
        return found
    for index in pairs:
        left, right = found.get((0, 2 * index)), found.get((0, 2 * index + 1))
        if left is not None and right is not None:
            found[(1, index)] = merkle.node_hash(left, right)
    return {piece: found[piece] for piece in pieces if piece in found}


def insert_entries(
    conn: sa.Connection, rows: Sequence[tuple[int, bytes, bytes]]
) -> None:
    """Insert `(idx, leaf_hash, body)` rows with one executemany.

    Straight to the driver, like `fetch_pieces`: at tens of thousands of rows a
    second, SQLAlchemy's per-row parameter processing would cost a third of the time.
    """
    if rows:
        ph = placeholder(conn)
        on_driver(
            conn,
            "INSERT INTO ledger_entries (idx, leaf_hash, body) "
            f"VALUES ({ph}, {ph}, {ph})",
            rows,
            many=True,
        )


def insert_nodes(conn: sa.Connection, rows: Sequence[tuple[int, int, bytes]]) -> None:
    """Insert `(level, idx, hash)` rows with one executemany."""
    if rows:
        ph = placeholder(conn)
        on_driver(
            conn,
            f"INSERT INTO ledger_nodes (level, idx, hash) VALUES ({ph}, {ph}, {ph})",
            rows,
            many=True,
        )


def read_entry(conn: sa.Connection, index: int) -> tuple[bytes, bytes] | None:
    """`(body, leaf_hash)` of one entry, or None."""
    row = conn.execute(
        sa.select(entries.c.body, entries.c.leaf_hash).where(entries.c.idx == index)
    ).first()
    return None if row is None else (bytes(row[0]), bytes(row[1]))


def register_key(conn: sa.Connection, verifier_key: str, name: str, now: str) -> None:
    conn.execute(
        insert_ignoring_duplicates(conn, verifier_keys).values(
            verifier_key=verifier_key, name=name, added_at=now
        )
    )


def insert_checkpoint(
    conn: sa.Connection,
    size: int,
    root: bytes,
    note: str,
    verifier_key: str,
    now: str,
) -> None:
    """Store a signed checkpoint unless one of that size is stored already.

    Two processes may sign the same size; the tree at a size never changes, so the
    first stored checkpoint is as good as the second.
    """
    ph = placeholder(conn)
    on_driver(
        conn,
        "INSERT INTO ledger_checkpoints (size, root, note, verifier_key, signed_at) "
        f"VALUES ({ph}, {ph}, {ph}, {ph}, {ph}) ON CONFLICT DO NOTHING",
        (size, root, note, verifier_key, now),
    )


def checkpoint_row(conn: sa.Connection, size: int | None) -> Mapping[str, Any] | None:
    """The stored checkpoint of `size`, or the largest one when `size` is None."""
    if size is None:
        found = conn.execute(_LATEST_CHECKPOINT)
    else:
        found = conn.execute(_CHECKPOINT_OF_SIZE, {"b_size": size})
    row = found.mappings().first()
    return None if row is None else dict(row)
