"""The ledger audit: every kind of tampering is found, at the first place it shows."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from ledger_helpers import fresh_ledger, make_signer
from sqlalchemy.orm import Session

from govsvc.ledger import merkle, storage
from govsvc.ledger._adapt import encode_entry
from govsvc.ledger.audit import audit
from govsvc.ledger.log import Ledger, _Frontier

SIZE = 37  # not a power of two: the right edge has several subtrees


@pytest.fixture
def ledger(database_url: str) -> Iterator[Ledger]:
    ledger = fresh_ledger(database_url)
    for start in range(0, SIZE, 5):  # one checkpoint per batch of five
        ledger.submit(
            lambda _s, append, start=start: [
                append({"i": i}) for i in range(start, min(start + 5, SIZE))
            ]
        )
    yield ledger
    ledger.close()
    ledger.engine.dispose()


def _update(ledger: Ledger, table: sa.Table, where: Any, **values: Any) -> None:
    with ledger.engine.begin() as conn:
        assert (
            conn.execute(sa.update(table).where(where).values(**values)).rowcount == 1
        )


def _rebuild_nodes(ledger: Ledger) -> None:
    """Recompute every stored node from the stored leaves, as a careful forger would."""
    with ledger.engine.begin() as conn:
        leaves = conn.execute(
            sa.select(storage.entries.c.leaf_hash).order_by(storage.entries.c.idx)
        ).scalars()
        frontier = _Frontier(0, [])
        nodes: list[tuple[int, int, bytes]] = []
        for leaf in leaves:
            frontier.push(bytes(leaf), nodes)
        conn.execute(sa.delete(storage.nodes))
        storage.insert_nodes(conn, nodes)


def test_audit_clean_ledger_passes(ledger: Ledger) -> None:
    seen: list[tuple[int, int]] = []

    report = audit(
        ledger.engine,
        [ledger.verifier_key],
        progress=lambda *a: seen.append(a),
        chunk=8,
    )

    assert report.ok, report.failure
    assert (report.size, report.entries, report.checkpoints) == (SIZE, SIZE, 8)
    assert report.nodes == sum(SIZE >> level for level in range(2, 6))  # >= 4 leaves
    assert seen[-1] == (SIZE, SIZE)
    assert len(seen) == 5


def test_audit_finds_changed_entry_body(ledger: Ledger) -> None:
    _update(ledger, storage.entries, storage.entries.c.idx == 12, body=b'{"i":999}')

    report = audit(ledger.engine)

    assert report.failure is not None
    assert (report.failure.kind, report.failure.position) == ("entry", 12)
    assert "entry 12: its stored leaf hash does not match its body" in str(
        report.failure
    )


def test_audit_finds_entry_rehashed_without_its_node(ledger: Ledger) -> None:
    body = encode_entry({"i": 999})
    _update(
        ledger,
        storage.entries,
        storage.entries.c.idx == 13,
        body=body,
        leaf_hash=merkle.leaf_hash(body),
    )

    report = audit(ledger.engine)

    assert report.failure is not None
    assert report.failure.kind == "node"
    assert "tree node (level 2, index 3) over entries 12..15" in report.failure.message


def test_audit_finds_changed_node(ledger: Ledger) -> None:
    n = storage.nodes
    _update(ledger, n, (n.c.level == 3) & (n.c.idx == 2), hash=b"\x00" * 32)

    report = audit(ledger.engine)

    assert report.failure is not None
    assert (report.failure.kind, report.failure.position) == ("node", 16)
    assert "(level 3, index 2) over entries 16..23: the stored hash does not" in str(
        report.failure
    )


def test_audit_finds_missing_entry(ledger: Ledger) -> None:
    with ledger.engine.begin() as conn:
        conn.execute(sa.delete(storage.entries).where(storage.entries.c.idx == 20))

    report = audit(ledger.engine, chunk=16)

    assert report.failure is not None
    assert report.failure.position == 20
    assert "entry 20 is missing" in report.failure.message


def test_audit_finds_missing_last_entry(ledger: Ledger) -> None:
    with ledger.engine.begin() as conn:
        conn.execute(
            sa.delete(storage.entries).where(storage.entries.c.idx == SIZE - 1)
        )

    report = audit(ledger.engine)

    assert report.failure is not None
    assert (
        report.failure.message
        == f"entry {SIZE - 1} is missing: the head says {SIZE} entries"
    )


def test_audit_finds_missing_node(ledger: Ledger) -> None:
    n = storage.nodes
    with ledger.engine.begin() as conn:
        conn.execute(sa.delete(n).where((n.c.level == 2) & (n.c.idx == 1)))

    report = audit(ledger.engine)

    assert report.failure is not None
    assert "(level 2, index 1) over entries 4..7 is missing" in report.failure.message


def test_audit_finds_stray_rows(ledger: Ledger) -> None:
    with ledger.engine.begin() as conn:
        storage.insert_entries(conn, [(SIZE + 3, b"\x00" * 32, b"{}")])

    report = audit(ledger.engine)

    assert report.failure is not None
    assert report.failure.kind == "storage"
    assert f"entry {SIZE + 3} is stored beyond the head's size {SIZE}" in str(
        report.failure
    )


def test_audit_finds_stray_level_one_node(ledger: Ledger) -> None:
    with ledger.engine.begin() as conn:
        storage.insert_nodes(conn, [(1, 0, b"\x00" * 32)])

    report = audit(ledger.engine)

    assert report.failure is not None
    assert "tree node (level 1, index 0) is stored but no tree" in str(report.failure)


def test_audit_finds_rewritten_history_by_checkpoint(ledger: Ledger) -> None:
    # The entry, its leaf and every node recomputed: only the signed roots remember.
    body = encode_entry({"i": 999})
    _update(
        ledger,
        storage.entries,
        storage.entries.c.idx == 3,
        body=body,
        leaf_hash=merkle.leaf_hash(body),
    )
    _rebuild_nodes(ledger)

    report = audit(ledger.engine)

    assert report.failure is not None
    assert (report.failure.kind, report.failure.position) == ("checkpoint", 5)
    assert "its signed root is not the ledger's root at that size" in str(
        report.failure
    )


def test_audit_finds_forged_checkpoint_signature(ledger: Ledger) -> None:
    c = storage.checkpoints
    with ledger.engine.connect() as conn:
        note = conn.execute(sa.select(c.c.note).where(c.c.size == 10)).scalar_one()
    forged = note.replace("\n10\n", "\n11\n")
    _update(ledger, c, c.c.size == 10, note=forged)

    report = audit(ledger.engine)

    assert report.failure is not None
    assert (report.failure.kind, report.failure.position) == ("checkpoint", 10)
    assert "checkpoint of size 10:" in report.failure.message
    assert "signature" in report.failure.message


def test_audit_rejects_checkpoints_of_untrusted_key(ledger: Ledger) -> None:
    other = make_signer(seed=b"\x07" * 32)

    report = audit(ledger.engine, [other.verifier_key])

    assert report.failure is not None
    assert report.failure.message.startswith("checkpoint of size 5: ")


def test_audit_after_key_rotation_trusts_both_keys(ledger: Ledger) -> None:
    rotated = Ledger(ledger.engine, make_signer(seed=b"\x02" * 32), ledger.origin)
    try:
        rotated.submit(lambda _s, append: append({"i": SIZE}))
    finally:
        rotated.close()

    assert audit(ledger.engine, [ledger.verifier_key, rotated.verifier_key]).ok
    only_old = audit(ledger.engine, [ledger.verifier_key])
    assert only_old.failure is not None
    assert only_old.failure.position == SIZE + 1


def test_audit_empty_ledger_passes(database_url: str) -> None:
    ledger = fresh_ledger(database_url)
    try:
        report = audit(ledger.engine)
    finally:
        ledger.engine.dispose()

    assert report.ok
    assert report.size == 0


def test_audit_reads_one_snapshot_while_appends_go_on(ledger: Ledger) -> None:
    appended: list[int] = []

    def append_meanwhile(done: int, _total: int) -> None:
        with Session(ledger.engine) as session, session.begin():
            appended.append(ledger.append(session, {"i": 1000 + done}).index)

    report = audit(ledger.engine, progress=append_meanwhile, chunk=10)

    assert report.ok, report.failure
    assert report.size == SIZE
    assert appended == [SIZE, SIZE + 1, SIZE + 2, SIZE + 3]
    assert audit(ledger.engine).size == SIZE + 4
