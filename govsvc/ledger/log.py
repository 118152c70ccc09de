"""The durable ledger: appends in the caller's transaction, group commit, proofs.

`Ledger` puts the pure formats (`merkle`, `canonical`, `note`) on the tables of
`storage`. Its invariants:

- indices are dense and unique: every append first locks the head row, so appenders
  from threads and processes queue behind each other's transactions;
- an append writes the entry and the hashes of the subtrees it completes in the same
  transaction as the caller's own rows, so they commit together or not at all;
- the tree is never rebuilt: the right edge of the tree (the O(log n) complete
  subtrees of `[0, size)`) is read in one query when a transaction starts
  appending, and every new node is folded from it;
- `submit` batches concurrent callers into one transaction (group commit: one fsync
  for many entries), signs a checkpoint of the batch's tree before the commit, and
  stores it in that same commit, so no entry is acknowledged without a stored,
  signed checkpoint that covers it.

A checkpoint is signed inside the transaction that stores it. A commit that then
fails leaves a signed note that nobody saw: it never leaves the process, so it can
never be shown as a second root for the same size.
"""

from __future__ import annotations

import json
import logging
import queue
import sqlite3
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Generic, Protocol, TypeVar

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import Session

from govsvc.ledger import merkle, storage
from govsvc.ledger._adapt import encode_entry, sign_checkpoint
from govsvc.ledger.errors import LedgerError
from govsvc.ledger.keys import Signer
from govsvc.ledger.receipt import build_receipt
from govsvc.ledger.turns import WriterTurns

log = logging.getLogger(__name__)

T = TypeVar("T")

# Where a session in a group-commit batch keeps it; shared by every Ledger object,
# since they all append to the one tree in the database.
_BATCH_KEY = "govsvc.ledger.batch"
MAX_BATCH = 1024  # work items per group commit; bounds one transaction's length
CACHE_MIN_LEVEL = 5  # cache subtrees of 32 leaves and more: 1/32 of n hashes at most
MAX_CACHED_NODES = 1 << 16  # about 6 MB of hashes and keys


@dataclass(slots=True)  # not frozen: its __init__ would cost a tenth of an append
class Appended:
    """Where an entry went: its index and its leaf hash."""

    index: int
    leaf_hash: bytes


@dataclass(frozen=True)
class SignedCheckpoint:
    """A stored checkpoint: the signed note text, its size and root, its key."""

    size: int
    root: bytes
    text: str
    verifier_key: str


def _per_class(hook: str, works: list[Any], *args: Any) -> None:
    """Call the static `hook(*args, works)` of each work item class that has one,
    once, with that class's items of the batch, in their order."""
    groups: dict[Any, list[Any]] = {}
    for work in works:
        found = getattr(type(work), hook, None)
        if found is not None:
            groups.setdefault(found, []).append(work)
    for call, same in groups.items():
        call(*args, same)


@dataclass(frozen=True, slots=True)
class EncodedEntry:
    """An entry encoded and hashed ahead of its append (`encode`): a work item's
    `prepare` does this before the writer takes the database's write lock."""

    entry: Mapping[str, Any]
    body: bytes
    leaf_hash: bytes


def encode(entry: Mapping[str, Any]) -> EncodedEntry:
    body = encode_entry(entry)
    return EncodedEntry(entry, body, merkle.leaf_hash(body))


def _partition(
    pieces: list[merkle.Piece], known: Callable[[merkle.Piece], bytes | None]
) -> tuple[dict[merkle.Piece, bytes], list[merkle.Piece]]:
    """The pieces `known` has a hash for, and the others, in order."""
    found: dict[merkle.Piece, bytes] = {}
    missing: list[merkle.Piece] = []
    for piece in pieces:
        h = known(piece)
        if h is None:
            missing.append(piece)
        else:
            found[piece] = h
    return found, missing


class _BatchTree:
    """The tree of one committed batch, in memory: enough to prove its own entries.

    An inclusion proof of an entry the batch appended, against the batch's
    checkpoint, needs only subtrees that end before the batch (each one a complete
    subtree of the tree's right edge when the batch began, which the batch read) and
    subtrees over the batch's own leaves. So every receipt of a batch is built here,
    with no query; a subtree the batch does not hold (never, for its own entries) is
    read from the database.
    """

    def __init__(
        self,
        start: int,
        peaks: list[tuple[int, bytes]],
        leaves: list[bytes],
        nodes: list[tuple[int, int, bytes]],
        fetch: Callable[[], merkle.Fetch],
    ) -> None:
        self.start = start
        self.size = start + len(leaves)
        self.leaves = leaves
        pieces = merkle.aligned_subtrees(0, start)
        self.known: dict[merkle.Piece, bytes] = {
            piece: h for (_level, h), piece in zip(peaks, pieces, strict=True)
        }
        # The subtrees the batch completed and stored, hashed once by its appends.
        self.known.update(((level, idx), h) for level, idx, h in nodes)
        self._fetch = fetch

    def covers(self, index: int) -> bool:
        return self.start <= index < self.size

    def inclusion_proof(self, index: int) -> list[bytes]:
        """PATH(index, D[size]) for an entry of this batch, against its checkpoint."""
        return merkle.inclusion_proof(index, self.size, self._pieces)

    def _pieces(self, pieces: list[merkle.Piece]) -> dict[merkle.Piece, bytes]:
        found, elsewhere = _partition(pieces, self._hash)
        if elsewhere:
            found.update(self._fetch()(elsewhere))
        return found

    def _hash(self, piece: merkle.Piece) -> bytes | None:
        found = self.known.get(piece)
        if found is not None:
            return found
        level, idx = piece
        first = idx << level
        if first + (1 << level) <= self.start:
            return None  # wholly before the batch, and not on its old right edge
        if level == 0:
            return self.leaves[first - self.start]
        left = self._hash((level - 1, idx << 1))
        right = self._hash((level - 1, (idx << 1) | 1))
        if left is None or right is None:
            return None
        h = merkle.node_hash(left, right)
        self.known[piece] = h
        return h


@dataclass(frozen=True)
class Committed(Generic[T]):
    """The value a submitted work item returned, and a checkpoint that covers it."""

    value: T
    checkpoint: SignedCheckpoint
    tree: _BatchTree | None = None

    def inclusion_proof(self, ledger: Ledger, index: int) -> list[bytes]:
        """PATH(index, D[checkpoint.size]); in memory for an entry of this batch."""
        if self.tree is not None and self.tree.covers(index):
            return self.tree.inclusion_proof(index)
        return ledger.inclusion_proof(index, self.checkpoint.size)


Append = Callable[[Mapping[str, Any] | EncodedEntry], Appended]
Work = Callable[[Session, Append], T]


class BatchRows(Protocol):
    """Rows that work items of one batch gather, written together at its end."""

    def write(self, conn: sa.Connection) -> None: ...


R = TypeVar("R", bound=BatchRows)
_ROWS_KEY = "govsvc.ledger.batch_rows"


def batch_rows(session: Session, key: str, factory: Callable[[], R]) -> R:
    """The batch's `key` object, made by `factory` on first use; its `write(conn)`
    runs once after the batch's last work item, before the checkpoint is signed.

    For rows many items write (one executemany instead of a statement each) that
    cannot fail: a failure there fails the whole batch, since no item's savepoint
    covers it. A work item adds to them as its last step, after everything that
    may raise, so a failed item leaves nothing behind.
    """
    if session.info.get(_BATCH_KEY) is None:
        raise LedgerError(
            "batch_rows is for work items run by Ledger.submit; outside a batch, "
            "write the rows in the caller's transaction"
        )
    gathered: dict[str, Any] = session.info.setdefault(_ROWS_KEY, {})
    if key not in gathered:
        gathered[key] = factory()
    found: R = gathered[key]
    return found


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _fold_peaks(peaks: list[tuple[int, bytes]]) -> bytes:
    """The root of a tree from the complete subtrees of its right edge, left to right.

    The same fold as RFC 9162's split: the last (smallest) subtree is the deepest
    right child.
    """
    if not peaks:
        return merkle.EMPTY_ROOT
    acc = peaks[-1][1]
    for _, h in reversed(peaks[:-1]):
        acc = merkle.node_hash(h, acc)
    return acc


@dataclass
class _Frontier:
    """The tree's size and the complete aligned subtrees `[0, size)` splits into.

    Appending a leaf merges equal-sized subtrees from the right, exactly as a binary
    counter carries; each merge is one new stored node.
    """

    size: int
    peaks: list[tuple[int, bytes]]  # (level, hash), levels strictly decreasing

    @classmethod
    def load(cls, conn: sa.Connection, size: int) -> _Frontier:
        pieces = merkle.aligned_subtrees(0, size)
        hashes = storage.fetch_pieces(conn, pieces)
        missing = [p for p in pieces if p not in hashes]
        if missing:
            raise LedgerError(
                f"the ledger's storage is incomplete: the tree of size {size} needs "
                f"the stored subtree hashes {missing}, which are missing; run "
                "`govsvc ledger audit` to find where it breaks"
            )
        return cls(size, [(level, hashes[(level, i)]) for level, i in pieces])

    def push(self, leaf: bytes, out: list[tuple[int, int, bytes]]) -> None:
        """Add a leaf; append the new nodes to store, `(level, idx, hash)`, to `out`.

        Levels below `storage.STORED_MIN_LEVEL` are computed but not stored.
        """
        cur, level = leaf, 0
        peaks = self.peaks
        self.size += 1
        while peaks and peaks[-1][0] == level:
            cur = merkle.node_hash(peaks.pop()[1], cur)
            level += 1
            if level >= storage.STORED_MIN_LEVEL:
                out.append((level, (self.size >> level) - 1, cur))
        peaks.append((level, cur))

    def root(self) -> bytes:
        return _fold_peaks(self.peaks)

    def copy(self) -> _Frontier:
        return _Frontier(self.size, list(self.peaks))


class _Batch:
    """Appends inside one transaction, buffered and written with executemany.

    Rows reach the database before the batch commits, and before any ORM flush of
    the session (so that ORM rows referring to an entry find it). Core statements a
    work item runs do not see its ledger rows before the batch ends.
    """

    def __init__(self, session: Session, frontier: _Frontier) -> None:
        self.session = session
        self.frontier = frontier
        self.entry_rows: list[tuple[int, bytes, bytes]] = []
        self.node_rows: list[tuple[int, int, bytes]] = []
        self.written = (0, 0)  # how many entry and node rows are in the database

    def append(self, entry: Mapping[str, Any] | EncodedEntry) -> Appended:
        encoded = entry if isinstance(entry, EncodedEntry) else encode(entry)
        body, leaf = encoded.body, encoded.leaf_hash
        index = self.frontier.size
        self.entry_rows.append((index, leaf, body))
        self.frontier.push(leaf, self.node_rows)
        return Appended(index, leaf)

    def flush(self) -> None:
        entries_done, nodes_done = self.written
        if entries_done == len(self.entry_rows):
            return
        conn = self.session.connection()
        storage.insert_entries(conn, self.entry_rows[entries_done:])
        storage.insert_nodes(conn, self.node_rows[nodes_done:])
        self.written = (len(self.entry_rows), len(self.node_rows))

    def mark(self) -> tuple[_Frontier, int, int, tuple[int, int]]:
        """The state to return to if the next work item fails."""
        return (
            self.frontier.copy(),
            len(self.entry_rows),
            len(self.node_rows),
            self.written,
        )

    def restore(self, mark: tuple[_Frontier, int, int, tuple[int, int]]) -> None:
        """Forget a failed item's appends; its SAVEPOINT was rolled back.

        Rows of earlier items written during the failed item's savepoint were rolled
        back with it, so `written` goes back to what it was at the mark.
        """
        self.frontier, n_entries, n_nodes, self.written = mark
        del self.entry_rows[n_entries:]
        del self.node_rows[n_nodes:]


_ENDING_KEY = "govsvc.ledger.ending"


class _BatchSession(Session):
    """The session of one group-commit batch. Its event handlers are registered
    once, on the class: registering them on each batch's session cost SQLAlchemy a
    third of a millisecond, about as much as a one-item batch's own statements."""


@event.listens_for(_BatchSession, "before_flush")
def _flush_batch_first(session: Session, *_args: Any) -> None:
    # The batch's ledger rows reach the database before any ORM row that may refer
    # to them.
    batch: _Batch | None = session.info.get(_BATCH_KEY)
    if batch is not None:
        batch.flush()


@event.listens_for(_BatchSession, "before_commit")
def _only_the_writer_ends(session: Session) -> None:
    # A work item that commits would end the batch's transaction under the other
    # items' feet; only the writer's own commit, which sets the flag, may.
    if session.info.get(_BATCH_KEY) is not None and not session.info.get(_ENDING_KEY):
        raise LedgerError(
            "a work item passed to Ledger.submit tried to end the shared "
            "transaction: expected it to leave commit and rollback to the "
            "ledger; use session.begin_nested() for a part that may fail"
        )


@dataclass
class _Item:
    work: Callable[[Session, Append], Any]
    future: Future[Any] = field(default_factory=Future)


class Ledger:
    """An append-only RFC 9162 log of JSON entries, stored with SQLAlchemy.

    `engine` must hold the ledger's tables (`govsvc db upgrade`); `signer` signs
    checkpoints whose origin line is `origin`.
    """

    def __init__(self, engine: sa.Engine, signer: Signer, origin: str) -> None:
        self.engine = engine
        self.signer = signer
        self.origin = origin
        self._sqlite = engine.dialect.name == "sqlite"
        self._queue: queue.SimpleQueue[_Item | None] = queue.SimpleQueue()
        self._writer: threading.Thread | None = None
        self._writer_lock = threading.Lock()
        self._node_cache: dict[merkle.Piece, bytes] = {}
        self._turns = WriterTurns(engine)
        self._last_frontier: _Frontier | None = None  # after the last batch committed

        with engine.begin() as conn:
            storage.ensure_head(conn)
            storage.register_key(conn, signer.verifier_key, signer.name, _now())

    @property
    def verifier_key(self) -> str:
        """The current signer's verifier key, as signed-note `name+keyid+base64`."""
        return self.signer.verifier_key

    # -- appending in the caller's transaction ----------------------------------------

    def append(
        self, session: Session, entry: Mapping[str, Any] | EncodedEntry
    ) -> Appended:
        """Append `entry` inside the session's current transaction.

        The entry and its tree nodes commit or roll back with the caller's rows.
        Inside `submit` this joins the batch; otherwise it locks the head row, so a
        concurrent appender waits for this transaction to end. On SQLite, call it
        before the transaction reads anything, or start the transaction with
        BEGIN IMMEDIATE: a deferred transaction that read first cannot take the
        write lock once another writer has committed.
        """
        batch: _Batch | None = session.info.get(_BATCH_KEY)
        if batch is not None:
            return batch.append(entry)

        encoded = entry if isinstance(entry, EncodedEntry) else encode(entry)
        body, leaf = encoded.body, encoded.leaf_hash
        conn = session.connection()
        index = storage.lock_head(conn, grow=1)
        frontier = _Frontier.load(conn, index)
        new_nodes: list[tuple[int, int, bytes]] = []
        frontier.push(leaf, new_nodes)
        storage.insert_entries(conn, [(index, leaf, body)])
        storage.insert_nodes(conn, new_nodes)
        return Appended(index, leaf)

    # -- group commit ------------------------------------------------------------------

    def submit(self, work: Work[T]) -> Committed[T]:
        """Run `work(session, append)` in a transaction shared with other submitters.

        Blocks until the batch has committed with a signed checkpoint covering it.
        `work` runs in the ledger's writer thread inside a SAVEPOINT: when it raises,
        only its own changes roll back and the exception is raised here.

        When `type(work)` has a static `read_ahead(session, works)`, it is called
        once per batch, before any item runs, with the batch's items of that type:
        for reads that one query can do for all of them (see `batch_rows` for
        their writes).

        When `type(work)` has a static `prepare(works)`, it is called once per
        batch before the writer takes its turn and the write lock, with the
        batch's items of that type: for work that shortens the time the lock is
        held (`encode` entries, compute from a guess of what the batch will read).
        Each item must check under the lock whatever its preparation assumed, and
        cope with not being prepared: a failing `prepare` is logged, not raised.
        """
        if threading.current_thread() is self._writer:
            raise LedgerError(
                "Ledger.submit was called from inside a submitted work item, which "
                "would wait for itself: use the `append` the work item was given"
            )
        result: Committed[T] = self.submit_future(work).result()
        return result

    def submit_future(self, work: Work[T]) -> Future[Committed[T]]:
        """`submit` without the wait: the future is done when the batch has
        committed (or failed). An event loop awaits it with `asyncio.wrap_future`,
        so a request waits for the commit without holding a thread."""
        item = _Item(work)
        self._ensure_writer()
        self._queue.put(item)
        future: Future[Committed[T]] = item.future
        return future

    def close(self) -> None:
        """Stop the writer thread once the queued work is done."""
        with self._writer_lock:
            writer, self._writer = self._writer, None
        if writer is not None:
            self._queue.put(None)
            writer.join()
        self._turns.close()

    def _ensure_writer(self) -> None:
        with self._writer_lock:
            if self._writer is None or not self._writer.is_alive():
                self._writer = threading.Thread(
                    target=self._write_loop, name="govsvc-ledger-writer", daemon=True
                )
                self._writer.start()

    def _write_loop(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            items = [first]
            stop = False
            # Whatever queued while the last batch committed goes into this one.
            while len(items) < MAX_BATCH:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    stop = True
                    break
                items.append(nxt)
            self._run_batch(items)
            if stop:
                return

    def _run_batch(self, items: list[_Item]) -> None:
        outcomes: list[tuple[bool, Any]] = []
        try:
            # Outside the lock, and while another process may hold it: the work
            # that does not depend on what the batch will read under it.
            _per_class("prepare", [item.work for item in items])
        except Exception:
            log.exception("preparing a ledger batch failed; its items run unprepared")
        try:
            with (
                self._turns.turn(),
                _BatchSession(self.engine, expire_on_commit=False) as session,
            ):
                try:
                    checkpoint, tree = self._run_batch_in(session, items, outcomes)
                finally:
                    # The batch and the rows gathered refer back to the session:
                    # let go of them here, or the batch's rows (decisions of 15
                    # kB each) wait for the cycle collector, whose young passes
                    # then took 25 to 100 ms in the writer process.
                    session.info.clear()
        except BaseException as exc:  # the batch failed as a whole: tell everyone
            log.error("ledger batch of %s items failed: %s", len(items), exc)
            for item in items:
                if not item.future.done():
                    item.future.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
            return

        for item, (ok, value) in zip(items, outcomes, strict=True):
            if ok:
                item.future.set_result(Committed(value, checkpoint, tree))
            else:
                item.future.set_exception(value)

    def _begin_immediate(self, conn: sa.Connection) -> None:
        """On SQLite, take the write lock before anything is read.

        Skipped when the driver already began a transaction (an engine configured
        to emit its own BEGIN); `lock_head` as the first statement then does it.
        Called in a writer's turn (`WriterTurns`), so the lock is free unless a
        writer outside the ledger holds it; SQLite's busy handler waits for that.
        """
        dbapi = conn.connection.dbapi_connection
        if not self._sqlite or getattr(dbapi, "in_transaction", False):
            return
        cursor = dbapi.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise LedgerError(
                f"the ledger's database stayed locked by another writer ({exc}); "
                "check for a stuck process holding a transaction open"
            ) from exc
        finally:
            cursor.close()

    def _run_batch_in(
        self, session: Session, items: list[_Item], outcomes: list[tuple[bool, Any]]
    ) -> tuple[SignedCheckpoint, _BatchTree]:
        # 1. Take the write lock and read the tree's right edge.
        conn = session.connection()
        self._begin_immediate(conn)
        size = storage.lock_head(conn)
        # The right edge as this writer's last batch left it, if no other appender
        # (another process's review or publication) has grown the tree since: the
        # entries below a size never change, so neither do its subtrees.
        last = self._last_frontier
        if last is not None and last.size == size:
            frontier = last.copy()
        else:
            frontier = _Frontier.load(conn, size)
        batch = _Batch(session, frontier)
        right_edge = list(batch.frontier.peaks)
        session.info[_BATCH_KEY] = batch
        # A work item that rolls back the shared transaction voids the batch:
        # nothing of it is in the database any more. Checked after each item.
        outer = session.get_transaction()

        # 2. Work items whose class reads ahead for a whole batch (one query rather
        # than one per item) do so first, outside every item's savepoint, so that a
        # failing item cannot roll back what the others rely on (on PostgreSQL a
        # rollback to a savepoint lets go of the row locks taken after it).
        _per_class("read_ahead", [item.work for item in items], session)

        # 3. Each work item in its own SAVEPOINT, issued on the DB-API cursor: at a
        # few hundred microseconds each, SQLAlchemy's nested transactions would cost
        # more than the appends. The session is flushed inside the savepoint, and
        # emptied after a rollback to it, so the ORM never keeps a failed item's rows.
        cursor = conn.connection.cursor()
        for item in items:
            saved = batch.mark()
            cursor.execute("SAVEPOINT govsvc_item")
            try:
                value = item.work(session, batch.append)
                session.flush()
            except Exception as exc:
                cursor.execute("ROLLBACK TO SAVEPOINT govsvc_item")
                batch.restore(saved)
                session.expunge_all()
                outcomes.append((False, exc))
            else:
                outcomes.append((True, value))
            if session.get_transaction() is not outer:
                raise LedgerError(
                    "a work item passed to Ledger.submit rolled back the shared "
                    "transaction, so nothing of its batch was stored; expected it to "
                    "raise instead, which rolls back its own changes only"
                )
            cursor.execute("RELEASE SAVEPOINT govsvc_item")
        cursor.close()
        batch.flush()
        for rows in session.info.get(_ROWS_KEY, {}).values():
            rows.write(conn)

        # 4. Grow the head, sign and store the checkpoint, commit once.
        frontier = batch.frontier
        grew = frontier.size != size
        if grew:
            storage.set_size(conn, frontier.size)
        # A size the tree reaches only now cannot have a stored checkpoint yet.
        checkpoint = self._checkpoint_in(
            conn, frontier.size, frontier.root, stored=not grew
        )
        session.info[_ENDING_KEY] = True
        session.commit()
        self._last_frontier = frontier.copy()
        log.debug(
            "ledger batch: %s items, entries [%s, %s)", len(items), size, frontier.size
        )
        leaves = [leaf for _index, leaf, _body in batch.entry_rows]
        tree = _BatchTree(
            size, right_edge, leaves, batch.node_rows, self._committed_fetch
        )
        return checkpoint, tree

    def _committed_fetch(self) -> merkle.Fetch:
        """A fetch of committed subtrees on a connection of its own."""

        def fetch(pieces: list[merkle.Piece]) -> Mapping[merkle.Piece, bytes]:
            with self.engine.connect() as conn:
                return self._fetch_through_cache(conn)(pieces)

        return fetch

    # -- checkpoints -------------------------------------------------------------------

    def _checkpoint_in(
        self,
        conn: sa.Connection,
        size: int,
        root: Callable[[], bytes],
        *,
        stored: bool = True,
    ) -> SignedCheckpoint:
        """The stored checkpoint of `size`, signing and storing one if there is none;
        `stored=False` when the caller knows there is none."""
        row = storage.checkpoint_row(conn, size) if stored else None
        if row is not None:
            return _checkpoint_from(row)
        root_hash = root()
        text = sign_checkpoint(self.signer, self.origin, size, root_hash)
        storage.insert_checkpoint(
            conn, size, root_hash, text, self.verifier_key, _now()
        )
        return SignedCheckpoint(size, root_hash, text, self.verifier_key)

    def sign_pending(self) -> SignedCheckpoint:
        """Sign a checkpoint of the current size unless one is stored already.

        Appends made outside `submit`, or a crash, can leave the newest checkpoint
        behind the tree; call this at start-up and after such appends.
        """
        with self._turns.turn(), Session(self.engine) as session:
            conn = session.connection()
            self._begin_immediate(conn)
            size = storage.lock_head(conn)
            checkpoint = self._checkpoint_in(
                conn, size, lambda: self._root_in(conn, size)
            )
            session.commit()
        return checkpoint

    def latest_checkpoint(self) -> SignedCheckpoint | None:
        """The stored checkpoint of the largest size, or None before the first."""
        with self.engine.connect() as conn:
            row = storage.checkpoint_row(conn, None)
        return None if row is None else _checkpoint_from(row)

    def checkpoint(self, size: int) -> SignedCheckpoint | None:
        """The stored checkpoint of exactly `size`, if any."""
        with self.engine.connect() as conn:
            row = storage.checkpoint_row(conn, size)
        return None if row is None else _checkpoint_from(row)

    def verifier_keys(self) -> list[str]:
        """Every verifier key that signed checkpoints here, oldest first."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(storage.verifier_keys.c.verifier_key).order_by(
                    storage.verifier_keys.c.added_at
                )
            )
            return [str(r[0]) for r in rows]

    # -- reading -----------------------------------------------------------------------

    def size(self) -> int:
        with self.engine.connect() as conn:
            return storage.read_size(conn)

    def entry(self, index: int) -> dict[str, Any]:
        """The entry at `index`, as the JSON object it was appended as."""
        with self.engine.connect() as conn:
            found = storage.read_entry(conn, index)
        if found is None:
            raise LedgerError(
                f"no ledger entry {index}: expected 0 <= index < {self.size()}"
            )
        value: dict[str, Any] = json.loads(found[0])
        return value

    def root(self, size: int) -> bytes:
        """The root hash of the tree of `size` entries, from stored subtrees."""
        with self.engine.connect() as conn:
            return self._root_in(conn, size)

    def _root_in(self, conn: sa.Connection, size: int) -> bytes:
        return self._proof(
            conn, lambda f: merkle.range_hash(0, size, f), f"the root of size {size}"
        )

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        """PATH(index, D[size]), RFC 9162 2.1.3.1, in one query."""
        if not 0 <= index < size:
            raise LedgerError(
                f"no inclusion proof for entry {index} in a tree of size {size}: "
                "expected 0 <= index < size"
            )
        with self.engine.connect() as conn:
            return self._proof(
                conn,
                lambda f: merkle.inclusion_proof(index, size, f),
                f"an inclusion proof of entry {index} in size {size}",
            )

    def consistency_proof(self, old: int, new: int) -> list[bytes]:
        """PROOF(old, D[new]), RFC 9162 2.1.4.1, in one query."""
        if not 0 <= old <= new:
            raise LedgerError(
                f"no consistency proof from size {old} to {new}: expected "
                "0 <= old <= new"
            )
        with self.engine.connect() as conn:
            return self._proof(
                conn,
                lambda f: merkle.consistency_proof(old, new, f),
                f"a consistency proof from size {old} to {new}",
            )

    def _proof(
        self,
        conn: sa.Connection,
        build: Callable[[merkle.Fetch], Any],
        what: str,
    ) -> Any:
        try:
            return build(self._fetch_through_cache(conn))
        except LookupError as exc:
            size = storage.read_size(conn)
            raise LedgerError(
                f"cannot build {what}: the ledger holds {size} entries and a stored "
                f"subtree is missing ({exc}); ask for sizes up to {size}, and run "
                "`govsvc ledger audit` if that one fails too"
            ) from exc

    def _fetch_through_cache(self, conn: sa.Connection) -> merkle.Fetch:
        """A fetch that keeps the hashes of large subtrees in memory.

        A complete subtree's hash never changes once committed, so caching it is
        always correct; the large ones recur in almost every proof, the small ones
        rarely. Only committed state is read here (never an open batch's nodes).
        """
        cache = self._node_cache

        def fetch(pieces: list[merkle.Piece]) -> dict[merkle.Piece, bytes]:
            found, missing = _partition(pieces, cache.get)
            if missing:
                fetched = storage.fetch_pieces(conn, missing)
                found.update(fetched)
                if len(cache) > MAX_CACHED_NODES:
                    cache.clear()  # crude, but bounded; it refills in a few proofs
                for piece, h in fetched.items():
                    if piece[0] >= CACHE_MIN_LEVEL:
                        cache[piece] = h
            return found

        return fetch

    def receipt(self, index: int, size: int | None = None) -> dict[str, Any]:
        """A self-contained receipt of entry `index` against a stored checkpoint.

        Against the latest checkpoint, or the one of exactly `size`.
        """
        checkpoint = self.latest_checkpoint() if size is None else self.checkpoint(size)
        if checkpoint is None:
            raise LedgerError(
                "no stored checkpoint "
                + ("yet" if size is None else f"of size {size}")
                + ": expected one covering the entry; sign one with sign_pending()"
            )
        if index >= checkpoint.size:
            raise LedgerError(
                f"entry {index} is not covered by the checkpoint of size "
                f"{checkpoint.size}: expected index < size; retry after the next "
                "checkpoint"
            )

        with self.engine.connect() as conn:
            found = storage.read_entry(conn, index)
            if found is None:
                raise LedgerError(f"no ledger entry {index}")
            proof = self._proof(
                conn,
                lambda f: merkle.inclusion_proof(index, checkpoint.size, f),
                f"an inclusion proof of entry {index}",
            )
        body, _leaf = found
        return build_receipt(
            json.loads(body), index, proof, checkpoint.text, checkpoint.verifier_key
        )


def _checkpoint_from(row: Mapping[str, Any]) -> SignedCheckpoint:
    return SignedCheckpoint(
        size=int(row["size"]),
        root=bytes(row["root"]),
        text=str(row["note"]),
        verifier_key=str(row["verifier_key"]),
    )
