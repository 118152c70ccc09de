"""The durable ledger: appends, group commit, checkpoints and proofs from storage."""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Iterator
from typing import Any, ClassVar

import pytest
import sqlalchemy as sa
from ledger_helpers import ORIGIN, fresh_ledger, make_signer
from sqlalchemy.orm import Session, registry

from govsvc.ledger import merkle, storage
from govsvc.ledger._adapt import encode_entry
from govsvc.ledger.errors import LedgerError
from govsvc.ledger.log import Ledger
from govsvc.ledger.receipt import verify_receipt


@pytest.fixture
def ledger(database_url: str) -> Iterator[Ledger]:
    ledger = fresh_ledger(database_url)
    yield ledger
    ledger.close()
    ledger.engine.dispose()


def _entry(i: int) -> dict[str, Any]:
    return {"kind": "test", "i": i}


def _reference(n: int) -> merkle.MemoryTree:
    return merkle.MemoryTree([encode_entry(_entry(i)) for i in range(n)])


def _append_direct(ledger: Ledger, n: int) -> None:
    for i in range(ledger.size(), n):
        with Session(ledger.engine) as session, session.begin():
            ledger.append(session, _entry(i))


def test_append_direct_matches_memory_tree(ledger: Ledger) -> None:
    _append_direct(ledger, 21)
    ref = _reference(21)

    assert ledger.size() == 21
    for size in range(1, 22):
        assert ledger.root(size) == ref.root(size)
    for size in (1, 2, 7, 8, 13, 21):
        for index in range(size):
            assert ledger.inclusion_proof(index, size) == ref.inclusion_proof(
                index, size
            )
        for old in range(size + 1):
            assert ledger.consistency_proof(old, size) == ref.consistency_proof(
                old, size
            )


def test_append_rolls_back_with_caller_transaction(ledger: Ledger) -> None:
    _append_direct(ledger, 3)

    with Session(ledger.engine) as session:
        session.begin()
        assert ledger.append(session, _entry(99)).index == 3
        session.rollback()
    _append_direct(ledger, 5)

    assert ledger.size() == 5
    assert ledger.entry(3) == _entry(3)
    assert ledger.root(5) == _reference(5).root()


def test_append_several_in_one_transaction(ledger: Ledger) -> None:
    with Session(ledger.engine) as session, session.begin():
        indices = [ledger.append(session, _entry(i)).index for i in range(9)]

    assert indices == list(range(9))
    assert ledger.root(9) == _reference(9).root()


def test_submit_returns_checkpoint_covering_entry(ledger: Ledger) -> None:
    done = ledger.submit(lambda _s, append: append(_entry(0)))

    assert done.value.index == 0
    assert done.checkpoint.size == 1
    assert done.checkpoint.root == _reference(1).root()
    assert done.checkpoint.text.startswith(f"{ORIGIN}\n1\n")
    assert ledger.latest_checkpoint() == done.checkpoint


def test_submit_failing_item_fails_only_its_caller(ledger: Ledger) -> None:
    def bad(_session: Session, append: Any) -> None:
        append(_entry(100))
        raise ValueError("this item is refused")

    errors: list[Exception] = []
    results: list[int] = []
    barrier = threading.Barrier(3)

    def run(i: int) -> None:
        barrier.wait()
        try:
            if i == 1:
                ledger.submit(bad)
            else:
                results.append(ledger.submit(lambda _s, a: a(_entry(i))).value.index)
        except ValueError as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert [str(e) for e in errors] == ["this item is refused"]
    assert sorted(results) == [0, 1]
    assert ledger.size() == 2
    assert {ledger.entry(0)["i"], ledger.entry(1)["i"]} == {0, 2}


def test_submit_work_that_commits_is_refused(ledger: Ledger) -> None:
    def commits(session: Session, append: Any) -> None:
        append(_entry(0))
        session.commit()

    with pytest.raises(LedgerError, match="tried to end the shared transaction"):
        ledger.submit(commits)
    assert ledger.submit(lambda _s, append: append(_entry(1))).value.index == 0
    assert ledger.entry(0) == _entry(1)


def test_submit_work_that_rolls_back_voids_the_batch(ledger: Ledger) -> None:
    def rolls_back(session: Session, append: Any) -> None:
        append(_entry(0))
        session.rollback()

    with pytest.raises(LedgerError, match="rolled back the shared transaction"):
        ledger.submit(rolls_back)
    assert ledger.size() == 0
    assert ledger.submit(lambda _s, append: append(_entry(1))).value.index == 0


def test_submit_work_with_its_own_savepoint(ledger: Ledger) -> None:
    def work(session: Session, append: Any) -> int:
        try:
            with session.begin_nested():
                session.execute(
                    sa.insert(storage.verifier_keys).values(
                        verifier_key="inner", name="n", added_at="t"
                    )
                )
                raise KeyError("inner part fails")
        except KeyError:
            pass
        return int(append(_entry(0)).index)

    assert ledger.submit(work).value == 0
    assert "inner" not in ledger.verifier_keys()


def test_submit_from_work_item_is_refused(ledger: Ledger) -> None:
    def nested(_s: Session, _append: Any) -> None:
        ledger.submit(lambda _s2, append: append(_entry(0)))

    with pytest.raises(LedgerError, match="would wait for itself"):
        ledger.submit(nested)


def test_append_of_another_ledger_object_joins_the_batch(ledger: Ledger) -> None:
    other = Ledger(ledger.engine, make_signer(), ORIGIN)

    def work(session: Session, append: Any) -> list[int]:
        return [append(_entry(0)).index, other.append(session, _entry(1)).index]

    assert ledger.submit(work).value == [0, 1]
    assert ledger.root(2) == _reference(2).root()


def test_submit_work_rows_commit_with_entry(ledger: Ledger) -> None:
    # The caller's own statements share the batch's transaction and savepoint.
    def work(session: Session, append: Any) -> int:
        appended = append(_entry(0))
        session.execute(
            sa.insert(storage.verifier_keys).values(
                verifier_key=f"k{appended.index}", name="n", added_at="t"
            )
        )
        return int(appended.index)

    assert ledger.submit(work).value == 0
    assert "k0" in ledger.verifier_keys()


def test_submit_32_threads_keep_indices_dense(ledger: Ledger) -> None:
    per_thread = 8
    seen: list[int] = []
    checkpoints: list[Any] = []
    lock = threading.Lock()

    def run(t: int) -> None:
        for j in range(per_thread):
            done = ledger.submit(lambda _s, a, k=t * 100 + j: a(_entry(k)))
            with lock:
                seen.append(done.value.index)
                checkpoints.append(done.checkpoint)
            assert done.value.index < done.checkpoint.size

    threads = [threading.Thread(target=run, args=(t,)) for t in range(32)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    total = 32 * per_thread
    assert sorted(seen) == list(range(total))
    entries = [encode_entry(ledger.entry(i)) for i in range(total)]
    ref = merkle.MemoryTree(entries)
    assert ledger.root(total) == ref.root()
    for cp in checkpoints:
        assert cp.root == ref.root(cp.size)


def test_submit_many_appends_in_one_item(ledger: Ledger) -> None:
    def work(_s: Session, append: Any) -> list[int]:
        return [append(_entry(i)).index for i in range(300)]

    done = ledger.submit(work)

    assert done.value == list(range(300))
    assert done.checkpoint.size == 300
    assert done.checkpoint.root == _reference(300).root()


def test_sign_pending_covers_direct_appends(ledger: Ledger) -> None:
    _append_direct(ledger, 5)
    assert ledger.latest_checkpoint() is None

    checkpoint = ledger.sign_pending()

    assert checkpoint.size == 5
    assert checkpoint.root == _reference(5).root()
    assert ledger.sign_pending() == checkpoint  # idempotent


def test_every_checkpoint_is_stored_and_consistent(ledger: Ledger) -> None:
    sizes = []
    for i in range(6):
        sizes.append(ledger.submit(lambda _s, a, i=i: a(_entry(i))).checkpoint.size)

    stored = [ledger.checkpoint(s) for s in sizes]
    assert all(cp is not None for cp in stored)
    for a in stored:
        for b in stored:
            assert a is not None and b is not None
            if a.size <= b.size:
                proof = ledger.consistency_proof(a.size, b.size)
                merkle.verify_consistency(a.size, b.size, a.root, b.root, proof)


def test_receipt_proves_inclusion(ledger: Ledger) -> None:
    for i in range(5):
        ledger.submit(lambda _s, a, i=i: a(_entry(i)))

    receipt = ledger.receipt(3)

    assert receipt["entry"] == _entry(3)
    assert receipt["index"] == 3
    assert receipt["verifier_key"] == ledger.verifier_key
    leaf = base64.b64decode(receipt["leaf_hash"])
    assert leaf == merkle.leaf_hash(encode_entry(_entry(3)))
    lines = receipt["checkpoint"].split("\n")
    assert lines[:2] == [ORIGIN, "5"]
    proof = [base64.b64decode(h) for h in receipt["inclusion_proof"]]
    merkle.verify_inclusion(leaf, 3, 5, proof, base64.b64decode(lines[2]))
    verified = verify_receipt(receipt, [ledger.verifier_key])
    assert (verified.index, verified.checkpoint.size) == (3, 5)


def test_receipt_beyond_checkpoint_raises(ledger: Ledger) -> None:
    ledger.submit(lambda _s, a: a(_entry(0)))

    with pytest.raises(LedgerError, match="entry 4 is not covered by the checkpoint"):
        ledger.receipt(4)
    with pytest.raises(LedgerError, match="no stored checkpoint of size 7"):
        ledger.receipt(0, size=7)


def test_proof_beyond_size_raises(ledger: Ledger) -> None:
    _append_direct(ledger, 4)

    with pytest.raises(LedgerError, match="the ledger holds 4 entries"):
        ledger.inclusion_proof(1, 9)
    with pytest.raises(LedgerError, match="expected 0 <= index < size"):
        ledger.inclusion_proof(5, 4)
    with pytest.raises(LedgerError, match="expected 0 <= old <= new"):
        ledger.consistency_proof(5, 4)


def test_entry_missing_raises(ledger: Ledger) -> None:
    with pytest.raises(
        LedgerError, match=r"no ledger entry 0: expected 0 <= index < 0"
    ):
        ledger.entry(0)


def test_key_rotation_keeps_old_verifier_keys(ledger: Ledger) -> None:
    old = ledger.submit(lambda _s, a: a(_entry(0))).checkpoint
    rotated = Ledger(ledger.engine, make_signer(seed=b"\x02" * 32), ORIGIN)
    try:
        new = rotated.submit(lambda _s, a: a(_entry(1))).checkpoint
    finally:
        rotated.close()

    assert old.verifier_key != new.verifier_key
    assert set(rotated.verifier_keys()) == {old.verifier_key, new.verifier_key}
    assert rotated.checkpoint(1) == old
    assert rotated.receipt(0, size=1)["verifier_key"] == old.verifier_key


def test_append_without_head_row_raises(ledger: Ledger) -> None:
    with ledger.engine.begin() as conn:
        conn.execute(sa.delete(storage.head))

    with (
        Session(ledger.engine) as session,
        pytest.raises(LedgerError, match="run `govsvc db upgrade`"),
    ):
        ledger.append(session, _entry(0))


class _Key:
    """An ORM object on ledger_keys, to drive the session's flush from a work item."""

    def __init__(self, verifier_key: str) -> None:
        self.verifier_key = verifier_key
        self.name = "orm"
        self.added_at = "t"


registry().map_imperatively(_Key, storage.verifier_keys)


def test_submit_failed_item_keeps_earlier_items_rows(ledger: Ledger) -> None:
    # Item 2 makes the ORM flush, which writes item 1's buffered ledger rows inside
    # item 2's savepoint; item 2 then fails, and item 1's rows must survive.
    gate = threading.Event()

    def first(_s: Session, append: Any) -> int:
        return int(append(_entry(0)).index)

    def second(session: Session, append: Any) -> None:
        append(_entry(1))
        session.add(_Key("orm-key"))
        session.flush()
        raise RuntimeError("second item fails after its flush")

    results: dict[str, Any] = {}

    def run(name: str, work: Any) -> None:
        try:
            results[name] = ledger.submit(work)
        except RuntimeError as exc:
            results[name] = exc

    # A blocker holds the writer so that both items land in one batch after it.
    started = threading.Event()

    def block(_s: Session, _a: Any) -> None:
        started.set()
        gate.wait()

    blocker = threading.Thread(target=run, args=("blocker", block))
    blocker.start()
    started.wait()
    threads = [
        threading.Thread(target=run, args=("first", first)),
        threading.Thread(target=run, args=("second", second)),
    ]
    for queued, t in enumerate(threads, 1):
        t.start()
        while ledger._queue.qsize() < queued:  # queued in order, writer held
            time.sleep(0.001)
    gate.set()
    for t in [blocker, *threads]:
        t.join()

    assert str(results["second"]) == "second item fails after its flush"
    assert results["first"].value == 0
    assert ledger.size() == 1
    assert ledger.entry(0) == _entry(0)
    assert "orm-key" not in ledger.verifier_keys()
    assert ledger.root(1) == _reference(1).root()


def test_batch_proofs_in_memory_match_the_tree(ledger: Ledger) -> None:
    # Batches of every size from 1 to 12, starting at every size from 0 to 77, so
    # that batches begin and end on and off every alignment of the tree.
    ref = _reference(78)
    appended = 0
    for k in (1, 2, 3, 4, 5, 7, 8, 9, 12, 1, 16, 8):

        def work(_s: Session, append: Any, k: int = k, at: int = appended) -> list[int]:
            return [append(_entry(at + j)).index for j in range(k)]

        done = ledger.submit(work)
        appended += k
        assert done.tree is not None and done.checkpoint.size == appended
        for index in done.value:
            assert done.inclusion_proof(ledger, index) == ref.inclusion_proof(
                index, appended
            )
    # An entry from before the batch is read from storage, still against its size.
    assert done.inclusion_proof(ledger, 3) == ref.inclusion_proof(3, appended)


def test_batch_proofs_of_items_sharing_a_batch(ledger: Ledger) -> None:
    # Items queued together commit in one batch; each gets its own proof.
    ledger.submit(lambda _s, append: [append(_entry(i)) for i in range(5)])
    gate = threading.Event()
    futures = [ledger.submit_future(lambda _s, _a: gate.wait(5))]
    futures += [
        ledger.submit_future(lambda _s, append, i=i: append(_entry(i)).index)
        for i in range(5, 16)
    ]
    gate.set()
    done = [f.result(timeout=30) for f in futures[1:]]

    size = done[-1].checkpoint.size
    ref = _reference(size)
    for committed in done:
        index = committed.value
        proof = committed.inclusion_proof(ledger, index)
        assert proof == ref.inclusion_proof(index, committed.checkpoint.size)
    # The gate held the writer while the others queued: at most two batches.
    assert len({id(committed.tree) for committed in done}) <= 2


class _Gathered:
    def __init__(self) -> None:
        self.items: list[int] = []
        self.sizes_seen: list[int] = []

    def write(self, conn: sa.Connection) -> None:
        # Runs once, after the last item, with the batch's entries already written.
        self.sizes_seen.append(len(self.items))
        conn.execute(
            sa.text("INSERT INTO gathered (n) VALUES (:n)"),
            [{"n": n} for n in self.items],
        )


def test_batch_rows_written_once_at_the_end_without_failed_items(
    ledger: Ledger,
) -> None:
    from govsvc.ledger.log import batch_rows

    with ledger.engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE gathered (n INTEGER)"))
    made: list[_Gathered] = []

    def factory() -> _Gathered:
        made.append(_Gathered())
        return made[-1]

    def work(session: Session, append: Any, i: int) -> int:
        append(_entry(i))
        if i == 2:
            raise ValueError("item 2 fails before adding its row")
        batch_rows(session, "gathered", factory).items.append(i)
        return i

    gate = threading.Event()
    futures = [ledger.submit_future(lambda _s, _a: gate.wait(5))]
    futures += [ledger.submit_future(lambda s, a, i=i: work(s, a, i)) for i in range(5)]
    gate.set()
    for i, future in enumerate(futures[1:]):
        if i == 2:
            with pytest.raises(ValueError):
                future.result(timeout=30)
        else:
            assert future.result(timeout=30).value == i

    with ledger.engine.connect() as conn:
        stored = sorted(r[0] for r in conn.execute(sa.text("SELECT n FROM gathered")))
    assert stored == [0, 1, 3, 4]
    assert all(g.sizes_seen == [len(g.items)] for g in made)  # one write per batch
    with Session(ledger.engine) as session, pytest.raises(LedgerError):
        batch_rows(session, "gathered", factory)


class _Reading:
    calls: ClassVar[list[list[int]]] = []

    def __init__(self, i: int) -> None:
        self.i = i
        self.saw_read_ahead = False

    @staticmethod
    def read_ahead(session: Session, works: list[_Reading]) -> None:
        _Reading.calls.append([w.i for w in works])
        for work in works:
            work.saw_read_ahead = True

    def __call__(self, _session: Session, append: Any) -> bool:
        append(_entry(self.i))
        return self.saw_read_ahead


def test_read_ahead_runs_once_per_batch_before_its_items(ledger: Ledger) -> None:
    _Reading.calls = []
    gate = threading.Event()
    futures = [ledger.submit_future(lambda _s, _a: gate.wait(5))]
    futures += [ledger.submit_future(_Reading(i)) for i in range(6)]
    gate.set()

    assert all(f.result(timeout=30).value for f in futures[1:])
    assert [i for call in _Reading.calls for i in call] == list(range(6))
    assert len(_Reading.calls) <= 2  # the gate held the writer while they queued


def test_sqlite_writer_waits_for_another_process_lock(tmp_path: Any) -> None:
    # Another process's transaction holds SQLite's write lock (here: a connection of
    # its own); the batch waits for it, then commits, and the connection's busy
    # timeout is as it was.
    import sqlite3

    ledger = fresh_ledger(f"sqlite:///{tmp_path / 'locked.db'}")
    try:
        other = sqlite3.connect(tmp_path / "locked.db", isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        done = ledger.submit_future(lambda _s, append: append(_entry(0)).index)
        time.sleep(0.2)
        assert not done.done()  # still waiting for the lock
        other.execute("COMMIT")

        assert done.result(timeout=30).value == 0
        with ledger.engine.connect() as conn:
            timeout = conn.exec_driver_sql("PRAGMA busy_timeout").scalar()
        assert timeout == 30_000
        other.close()
    finally:
        ledger.close()
        ledger.engine.dispose()


def test_batches_after_another_appender_read_the_tree_afresh(ledger: Ledger) -> None:
    # The writer reuses the right edge its last batch left when the size has not
    # moved; another appender (here a direct append, as another process's would
    # be) moves it, and the next batch must fold from the stored tree.
    first = ledger.submit(lambda _s, append: append(_entry(0)))
    second = ledger.submit(lambda _s, append: append(_entry(1)))
    _append_direct(ledger, 7)
    third = ledger.submit(lambda _s, append: append(_entry(7)))
    fourth = ledger.submit(lambda _s, append: append(_entry(8)))

    ref = _reference(9)
    assert [c.checkpoint.size for c in (first, second, third, fourth)] == [1, 2, 8, 9]
    for done in (first, second, third, fourth):
        assert done.checkpoint.root == ref.root(done.checkpoint.size)
    assert fourth.inclusion_proof(ledger, 8) == ref.inclusion_proof(8, 9)


def test_a_committed_batch_leaves_nothing_for_the_cycle_collector(
    ledger: Ledger,
) -> None:
    import gc

    from govsvc.ledger.log import _Batch, _BatchSession

    ledger.submit(lambda _s, append: append(_entry(0)))  # the writer is running
    gc.collect()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        for i in range(1, 6):
            ledger.submit(lambda _s, append, i=i: append(_entry(i)))
        gc.collect()
        ours = [o for o in gc.garbage if isinstance(o, _Batch | _BatchSession)]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()

    # Each batch's session, batch and rows are freed as soon as it ends, not when
    # the collector comes by (in the writer process, pauses of up to 100 ms).
    assert ours == []
