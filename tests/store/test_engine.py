"""SQLite engines: write-ahead log checkpoints off the commit path."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from govsvc.store.engine import WalCheckpointer, make_engine


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "ck.db"


@pytest.fixture
def engine(path: Path) -> Iterator[sa.Engine]:
    """An engine that leaves copying the log to a `WalCheckpointer`."""
    engine = make_engine(f"sqlite:///{path}", auto_checkpoint=False)
    yield engine
    engine.dispose()


def _write_rows(engine: sa.Engine, n: int) -> None:
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE IF NOT EXISTS t (x BLOB)")
    for _ in range(n):
        with engine.begin() as conn:
            conn.exec_driver_sql("INSERT INTO t VALUES (?)", (b"x" * 8000,))


def test_without_auto_checkpoint_the_log_waits_for_the_checkpointer(
    engine: sa.Engine,
) -> None:
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 0

    _write_rows(engine, 600)  # past SQLite's automatic threshold of 1,000 pages
    checkpointer = WalCheckpointer(engine)
    in_log, copied = checkpointer.checkpoint()

    assert in_log > 1000  # nothing was copied by the commits themselves
    assert copied == in_log  # no reader held the log back


def test_checkpointer_thread_runs_until_stopped(engine: sa.Engine) -> None:
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


def test_default_engine_keeps_sqlite_auto_checkpoint(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'auto.db'}")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 1000
    engine.dispose()


def _reading(engine: sa.Engine) -> sa.Connection:
    """A connection in the middle of a read transaction, begun while the log held
    frames the database did not: it reads them from the log until it ends."""
    conn = engine.connect()
    conn.exec_driver_sql("BEGIN")
    conn.exec_driver_sql("SELECT count(*) FROM t").scalar()
    return conn


def test_a_log_that_readers_keep_alive_is_started_over(
    path: Path, engine: sa.Engine
) -> None:
    checkpointer = WalCheckpointer(engine, restart_frames=100)
    _write_rows(engine, 200)
    reader = _reading(engine)
    checkpointer.checkpoint()
    # Every frame is in the database, but a reader is still on the log: the next
    # writer appends to it rather than start it over.
    _write_rows(engine, 20)
    reader.close()
    grown, copied = checkpointer.checkpoint()
    assert copied == grown > 400

    size = Path(f"{path}-wal").stat().st_size

    assert checkpointer.restart()

    # The next writer starts at the beginning of the log, over its old frames: the
    # file's space is reused, not grown.
    _write_rows(engine, 20)
    in_log, _copied = checkpointer.checkpoint()
    assert in_log < 100 < grown
    assert Path(f"{path}-wal").stat().st_size <= size
    checkpointer.stop()


def test_a_restart_gives_up_while_a_reader_needs_the_log(
    path: Path, engine: sa.Engine
) -> None:
    checkpointer = WalCheckpointer(engine)
    _write_rows(engine, 20)
    reader = _reading(engine)
    checkpointer.checkpoint()

    assert not checkpointer.restart()
    assert Path(f"{path}-wal").stat().st_size > 0

    reader.close()
    assert checkpointer.restart()
    checkpointer.stop()


def test_a_log_started_over_is_not_started_over_again_until_written(
    engine: sa.Engine,
) -> None:
    checkpointer = WalCheckpointer(engine, restart_frames=100, idle_restart_frames=10)
    _write_rows(engine, 40)
    in_log, copied = checkpointer.checkpoint()
    assert checkpointer.restart_due(in_log, copied)
    assert checkpointer.restart()

    # Until a writer comes, SQLite reports the old log's size: an idle server
    # must not start it over (and log it) at every pass.
    for _ in range(3):
        in_log_now, copied_now = checkpointer.checkpoint()
        assert in_log_now == in_log
        assert not checkpointer.restart_due(in_log_now, copied_now)

    # Written again, from its start, and grown past the limit: due again.
    _write_rows(engine, 60)
    in_log, copied = checkpointer.checkpoint()
    assert checkpointer.restart_due(in_log, copied)
    checkpointer.stop()


def test_catching_up_leaves_a_restart_nothing_to_copy(engine: sa.Engine) -> None:
    checkpointer = WalCheckpointer(engine)
    _write_rows(engine, 20)
    # A reader from before the pass keeps the next writer from starting the log
    # over, as one nearly always does under load.
    reader = _reading(engine)
    in_log, _copied = checkpointer.checkpoint()
    _write_rows(engine, 20)  # committed after that pass
    reader.close()

    caught_up, copied = checkpointer.catch_up(in_log)

    assert copied == caught_up > in_log
    checkpointer.stop()


def test_catching_up_stops_at_a_reader(engine: sa.Engine) -> None:
    checkpointer = WalCheckpointer(engine)
    _write_rows(engine, 20)
    reader = _reading(engine)
    _write_rows(engine, 20)

    in_log, copied = checkpointer.catch_up(0)

    assert copied < in_log  # the reader's snapshot holds back the newer frames
    reader.close()
    checkpointer.stop()


def test_the_log_is_started_over_in_a_pause_or_past_its_limit(
    engine: sa.Engine,
) -> None:
    checkpointer = WalCheckpointer(engine, restart_frames=1000, idle_restart_frames=10)

    # Under load (the log grows from pass to pass): only past the limit.
    assert not checkpointer.restart_due(500, 500)
    assert not checkpointer.restart_due(900, 900)
    assert checkpointer.restart_due(1200, 1200)
    # Nothing committed since the last pass: a pause, and a small log will do.
    assert checkpointer.restart_due(1200, 1200)
    assert not checkpointer.restart_due(5, 5)
    assert not checkpointer.restart_due(5, 5)  # idle, but below the idle size
    # Never while a reader holds back part of the log.
    assert not checkpointer.restart_due(2000, 1500)
    assert not checkpointer.restart_due(2000, 1500)
