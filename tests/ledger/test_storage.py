"""The ledger's tables and queries, on both back ends."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from ledger_helpers import make_engine

from govsvc.ledger import merkle, storage


@pytest.fixture
def conn(database_url: str) -> Iterator[sa.Connection]:
    engine = make_engine(database_url)
    storage.metadata.create_all(engine)
    with engine.begin() as conn:
        storage.ensure_head(conn)
        yield conn
    engine.dispose()


def _leaf(i: int) -> bytes:
    return merkle.leaf_hash(b"%d" % i)


def test_fetch_pieces_reads_leaves_and_nodes(conn: sa.Connection) -> None:
    storage.insert_entries(conn, [(i, _leaf(i), b"{}") for i in range(8)])
    storage.insert_nodes(conn, [(2, 0, b"c" * 32), (3, 0, b"d" * 32)])

    found = storage.fetch_pieces(conn, [(0, 3), (1, 1), (2, 0), (0, 0), (3, 0)])

    assert found == {
        (0, 3): _leaf(3),
        (1, 1): merkle.node_hash(_leaf(2), _leaf(3)),  # from its two leaves
        (2, 0): b"c" * 32,
        (0, 0): _leaf(0),
        (3, 0): b"d" * 32,
    }


def test_fetch_pieces_leaves_out_what_is_not_stored(conn: sa.Connection) -> None:
    storage.insert_entries(conn, [(0, _leaf(0), b"{}")])

    assert storage.fetch_pieces(conn, [(0, 0), (0, 5), (3, 1)]) == {(0, 0): _leaf(0)}
    assert storage.fetch_pieces(conn, [(1, 0)]) == {}  # leaf 1 is missing
    assert storage.fetch_pieces(conn, []) == {}


def test_lock_head_grows_and_returns_the_old_size(conn: sa.Connection) -> None:
    assert storage.lock_head(conn, grow=3) == 0
    assert storage.lock_head(conn) == 3
    assert storage.read_size(conn) == 3


def test_ensure_head_twice_keeps_one_row(conn: sa.Connection) -> None:
    storage.lock_head(conn, grow=2)
    storage.ensure_head(conn)

    assert conn.execute(sa.select(storage.head)).all() == [(1, 2)]


def test_insert_checkpoint_keeps_the_first_of_a_size(conn: sa.Connection) -> None:
    storage.register_key(conn, "k+00000000+AQ", "k", "t0")
    storage.register_key(conn, "k+00000000+AQ", "k", "t1")  # ignored, no error
    storage.insert_checkpoint(conn, 5, b"r" * 32, "first", "k+00000000+AQ", "t0")
    storage.insert_checkpoint(conn, 5, b"r" * 32, "second", "k+00000000+AQ", "t1")
    storage.insert_checkpoint(conn, 9, b"s" * 32, "later", "k+00000000+AQ", "t2")

    five = storage.checkpoint_row(conn, 5)
    latest = storage.checkpoint_row(conn, None)
    assert five is not None and five["note"] == "first"
    assert latest is not None and (latest["size"], latest["note"]) == (9, "later")
    assert storage.checkpoint_row(conn, 7) is None


def test_duplicate_entry_index_is_refused(conn: sa.Connection) -> None:
    storage.insert_entries(conn, [(0, _leaf(0), b"{}")])

    with pytest.raises(sa.exc.IntegrityError):
        storage.insert_entries(conn, [(0, _leaf(1), b"{}")])


def test_sqlite_layout_uses_rowid_and_without_rowid(tmp_path: object) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path}/layout.db")
    storage.metadata.create_all(engine)
    with engine.connect() as conn:
        sql = dict(conn.exec_driver_sql("SELECT name, sql FROM sqlite_master").all())
    engine.dispose()

    assert "idx INTEGER NOT NULL" in sql["ledger_entries"]
    assert sql["ledger_nodes"].rstrip().endswith("WITHOUT ROWID")
    assert "sqlite_autoindex_ledger_entries_1" not in sql  # the key is the rowid
