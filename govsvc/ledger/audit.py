"""`audit`: recompute the whole stored ledger and check every stored checkpoint.

Plan, in one read snapshot of the database:

1. stream the entries in index order, a chunk at a time: each index must follow
   the last (no gap), and each stored leaf hash must be SHA-256(0x00 || body);
2. fold the recomputed leaves into the tree's right edge, exactly as an append
   does, and compare every complete subtree hash this produces with the stored
   node of the same `(level, idx)`, fetched for the chunk in one query;
3. check that nothing is stored beyond the head's size (no stray entries or nodes);
4. stream the stored checkpoints by size: each must carry a valid signature by a
   trusted key, state the size and root it is stored under, have the root of the
   (now verified) tree at that size, and be consistent with the checkpoint before
   it by an RFC 9162 consistency proof built from storage and verified.

Memory stays constant: a chunk of entries, the O(log n) right edge, one checkpoint.
The first failure stops the audit and is reported with the index, the node's
leaves, or the checkpoint's size where it happened.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import NoReturn

import sqlalchemy as sa

from govsvc.ledger import merkle, storage
from govsvc.ledger._adapt import open_checkpoint
from govsvc.ledger.errors import MalformedError, VerificationError
from govsvc.ledger.log import _Frontier

log = logging.getLogger(__name__)

AUDIT_CHUNK = 8192  # entries per query; bounds memory and keeps queries short
CHECKPOINT_CHUNK = 1000

Progress = Callable[[int, int], None]  # (entries audited, entries in total)


@dataclass(frozen=True)
class AuditFailure:
    """Where the audit found the ledger broken, and how."""

    kind: str  # "entry", "node", "storage" or "checkpoint"
    position: int  # the entry index, the node's first leaf, or the checkpoint size
    message: str

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class AuditReport:
    size: int
    entries: int
    nodes: int
    checkpoints: int
    trusted_keys: tuple[str, ...]
    failure: AuditFailure | None

    @property
    def ok(self) -> bool:
        return self.failure is None


class _Failed(Exception):
    def __init__(self, failure: AuditFailure) -> None:
        self.failure = failure


def audit(
    engine: sa.Engine,
    trusted_keys: Sequence[str] | None = None,
    *,
    progress: Progress | None = None,
    chunk: int = AUDIT_CHUNK,
) -> AuditReport:
    """Audit the ledger stored in `engine`'s database.

    `trusted_keys` are the verifier keys checkpoints may be signed by; None trusts
    the keys stored in the ledger itself, which proves the tree matches its
    checkpoints but not who signed them (pass the keys you trust for that).
    """
    counts = {"entries": 0, "nodes": 0, "checkpoints": 0}
    opts = {"isolation_level": "REPEATABLE READ"} if _is_pg(engine) else {}
    with engine.connect().execution_options(**opts) as conn, conn.begin():
        if engine.dialect.name == "sqlite":
            # pysqlite begins transactions only before writes; an explicit BEGIN
            # makes every read below see one WAL snapshot while appends go on.
            conn.exec_driver_sql("BEGIN")
        keys = tuple(trusted_keys) if trusted_keys is not None else _stored_keys(conn)
        size = storage.read_size(conn)
        try:
            _audit_tree(conn, size, chunk, counts, progress)
            _audit_leftovers(conn, size)
            _audit_checkpoints(conn, size, keys, counts)
        except _Failed as failed:
            log.warning("ledger audit failed: %s", failed.failure)
            return AuditReport(
                size, **counts, trusted_keys=keys, failure=failed.failure
            )
    return AuditReport(size, **counts, trusted_keys=keys, failure=None)


def _is_pg(engine: sa.Engine) -> bool:
    return engine.dialect.name == "postgresql"


def _stored_keys(conn: sa.Connection) -> tuple[str, ...]:
    rows = conn.execute(sa.select(storage.verifier_keys.c.verifier_key))
    return tuple(str(r[0]) for r in rows)


# -- steps 1 and 2: entries and nodes --------------------------------------------------


def _audit_tree(
    conn: sa.Connection,
    size: int,
    chunk: int,
    counts: dict[str, int],
    progress: Progress | None,
) -> None:
    frontier = _Frontier(0, [])
    e = storage.entries
    for start in range(0, size, chunk):
        end = min(start + chunk, size)
        rows = conn.execute(
            sa.select(e.c.idx, e.c.leaf_hash, e.c.body)
            .where(e.c.idx >= start, e.c.idx < end)
            .order_by(e.c.idx)
        )
        stored = _stored_nodes(conn, start, end)
        computed: list[tuple[int, int, bytes]] = []

        expected = start
        for idx, stored_leaf, body in rows:
            if idx != expected:
                _fail(
                    "entry",
                    expected,
                    f"entry {expected} is missing: the head says {size} entries, "
                    f"and the next stored index is {idx}",
                )
            leaf = merkle.leaf_hash(bytes(body))
            if bytes(stored_leaf) != leaf:
                _fail(
                    "entry",
                    idx,
                    f"entry {idx}: its stored leaf hash does not match its body "
                    f"(expected {leaf.hex()}, found {bytes(stored_leaf).hex()}): the "
                    "entry or its leaf hash was changed",
                )
            computed.clear()
            frontier.push(leaf, computed)
            for level, index, h in computed:
                _check_node(stored, level, index, h)
            expected += 1
            counts["entries"] += 1
            counts["nodes"] += len(computed)

        if expected != end:
            _fail(
                "entry",
                expected,
                f"entry {expected} is missing: the head says {size} entries",
            )
        if progress is not None:
            progress(end, size)


def _stored_nodes(
    conn: sa.Connection, start: int, end: int
) -> dict[merkle.Piece, bytes]:
    """The stored nodes that leaves `[start, end)` complete: ending in (start, end].

    A node `(level, idx)` ends at leaf `(idx + 1) << level`, so these are, per level,
    the indices `[start >> level, end >> level)`.
    """
    n = storage.nodes
    terms = [
        sa.and_(n.c.level == level, n.c.idx >= start >> level, n.c.idx < end >> level)
        for level in range(storage.STORED_MIN_LEVEL, end.bit_length() + 1)
        if start >> level < end >> level
    ]
    if not terms:
        return {}
    rows = conn.execute(sa.select(n.c.level, n.c.idx, n.c.hash).where(sa.or_(*terms)))
    return {(int(lv), int(i)): bytes(h) for lv, i, h in rows}


def _check_node(
    stored: dict[merkle.Piece, bytes], level: int, index: int, h: bytes
) -> None:
    first, last = index << level, ((index + 1) << level) - 1
    found = stored.get((level, index))
    where = f"tree node (level {level}, index {index}) over entries {first}..{last}"
    if found is None:
        _fail("node", first, f"{where} is missing from ledger_nodes")
    if found != h:
        _fail(
            "node",
            first,
            f"{where}: the stored hash does not match the entries "
            f"(expected {h.hex()}, found {found.hex()}): the node was changed",
        )


# -- step 3: nothing beyond the head ---------------------------------------------------


def _audit_leftovers(conn: sa.Connection, size: int) -> None:
    e, n = storage.entries, storage.nodes
    stray = conn.execute(
        sa.select(sa.func.min(e.c.idx)).where(e.c.idx >= size)
    ).scalar()
    if stray is not None:
        _fail(
            "storage",
            int(stray),
            f"entry {stray} is stored beyond the head's size {size}: an append was "
            "written without growing the head, or rows were added by hand",
        )
    beyond = [n.c.level < storage.STORED_MIN_LEVEL] + [
        sa.and_(n.c.level == level, n.c.idx >= size >> level) for level in range(1, 64)
    ]
    row = conn.execute(
        sa.select(n.c.level, n.c.idx).where(sa.or_(*beyond)).limit(1)
    ).first()
    if row is not None:
        level, index = int(row[0]), int(row[1])
        _fail(
            "storage",
            index << level,
            f"tree node (level {level}, index {index}) is stored but no tree of the "
            f"head's size {size} has it",
        )


# -- step 4: checkpoints ---------------------------------------------------------------


def _audit_checkpoints(
    conn: sa.Connection, size: int, keys: Sequence[str], counts: dict[str, int]
) -> None:
    c = storage.checkpoints

    def fetch(pieces: list[merkle.Piece]) -> dict[merkle.Piece, bytes]:
        return storage.fetch_pieces(conn, pieces)

    previous: tuple[int, bytes, str] | None = None
    after = -1
    while True:
        rows = conn.execute(
            sa.select(c.c.size, c.c.root, c.c.note)
            .where(c.c.size > after)
            .order_by(c.c.size)
            .limit(CHECKPOINT_CHUNK)
        ).all()
        if not rows:
            return
        for row_size, row_root, note in rows:
            row_size = int(row_size)
            where = f"checkpoint of size {row_size}"
            try:
                origin, cp_size, cp_root, _key = open_checkpoint(str(note), keys)
            except (VerificationError, MalformedError) as exc:
                _fail("checkpoint", row_size, f"{where}: {exc}")
            if cp_size != row_size or cp_root != bytes(row_root):
                _fail(
                    "checkpoint",
                    row_size,
                    f"{where}: the signed note says size {cp_size} and root "
                    f"{cp_root.hex()}, but it is stored as size {row_size} and root "
                    f"{bytes(row_root).hex()}",
                )
            if cp_size > size:
                _fail(
                    "checkpoint",
                    row_size,
                    f"{where} is larger than the ledger ({size} entries): entries it "
                    "commits to were removed",
                )
            tree_root = merkle.range_hash(0, cp_size, fetch)
            if tree_root != cp_root:
                _fail(
                    "checkpoint",
                    row_size,
                    f"{where}: its signed root is not the ledger's root at that size "
                    f"(expected {tree_root.hex()}, found {cp_root.hex()}): entries "
                    "before it were changed and rehashed",
                )
            if previous is not None:
                old_size, old_root, old_origin = previous
                if origin != old_origin:
                    _fail(
                        "checkpoint",
                        row_size,
                        f"{where}: its origin {origin!r} differs from the earlier "
                        f"checkpoints' {old_origin!r}",
                    )
                proof = merkle.consistency_proof(old_size, cp_size, fetch)
                try:
                    merkle.verify_consistency(
                        old_size, cp_size, old_root, cp_root, proof
                    )
                except VerificationError as exc:
                    _fail(
                        "checkpoint",
                        row_size,
                        f"{where} is not consistent with the one of size "
                        f"{old_size}: {exc}",
                    )
            previous = (cp_size, cp_root, origin)
            counts["checkpoints"] += 1
            after = row_size


def _fail(kind: str, position: int, message: str) -> NoReturn:
    raise _Failed(AuditFailure(kind, position, message))


__all__ = ["AuditFailure", "AuditReport", "audit"]
