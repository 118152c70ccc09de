"""SQLite engines: write-ahead log checkpoints off the commit path."""

from __future__ import annotations

import time
from pathlib import Path

import sqlalchemy as sa

from govsvc.store.engine import WalCheckpointer, make_engine


def _write_rows(engine: sa.Engine, n: int) -> None:
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE IF NOT EXISTS t (x BLOB)")
    for _ in range(n):
        with engine.begin() as conn:
            conn.exec_driver_sql("INSERT INTO t VALUES (?)", (b"x" * 8000,))


def test_without_auto_checkpoint_the_log_waits_for_the_checkpointer(
    tmp_path: Path,
) -> None:
    path = tmp_path / "ck.db"
    engine = make_engine(f"sqlite:///{path}", auto_checkpoint=False)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 0

    _write_rows(engine, 600)  # past SQLite's automatic threshold of 1,000 pages
    checkpointer = WalCheckpointer(engine)
    in_log, copied = checkpointer.checkpoint()

    assert in_log > 1000  # nothing was copied by the commits themselves
    assert copied == in_log  # no reader held the log back
    engine.dispose()


def test_checkpointer_thread_runs_until_stopped(tmp_path: Path) -> None:
    path = tmp_path / "ck.db"
    engine = make_engine(f"sqlite:///{path}", auto_checkpoint=False)
    checkpointer = WalCheckpointer(engine, interval=0.05).start()
    _write_rows(engine, 50)
    time.sleep(0.3)

    with engine.begin() as conn:  # a writer after a full checkpoint restarts the log
        conn.exec_driver_sql("INSERT INTO t VALUES (?)", (b"y",))
    checkpointer.stop()

    assert not checkpointer._thread.is_alive()
    # The thread had copied the 50 rows, so the insert after them started the log
    # over: it holds only that insert's frames.
    assert checkpointer.checkpoint()[0] <= 2
    engine.dispose()


def test_default_engine_keeps_sqlite_auto_checkpoint(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'auto.db'}")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 1000
    engine.dispose()
