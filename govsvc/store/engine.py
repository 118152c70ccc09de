"""Engines for the service's database: SQLite in embedded mode, PostgreSQL at scale."""

from __future__ import annotations

import logging
import threading
import time
from functools import partial
from typing import Any

import sqlalchemy as sa

from govsvc.ledger.turns import WriterTurns
from govsvc.store.jsontext import dumps

log = logging.getLogger(__name__)

SQLITE_BUSY_TIMEOUT_MS = 30_000  # writers wait for each other rather than fail

# SQLite connections kept open per process, at least: one per thread that may use
# one at a time (AnyIO's 40 worker threads, the ledger's writer, a few spare). A
# connection beyond the pool is closed when returned, and a new one costs about
# 0.25 ms before its first answer (opening the file, the pragmas, parsing the whole
# schema); with a pool of 10 under 16 concurrent requests that was a tenth of the
# server's CPU (docs/api.md, "Speed"). An idle SQLite connection costs only memory.
SQLITE_MIN_POOL_SIZE = 48

# The write-ahead log is started over (`WalCheckpointer.restart`) once every frame
# is in the database and either no commit came for a whole interval and the log
# holds IDLE_RESTART_FRAMES (of 4 kB), or it holds RESTART_FRAMES whatever the load.
# A restart holds the writers while it copies and syncs what the last passive
# checkpoint left: under load on the 2-core development machine, syncing a few
# hundred scattered pages took 25 to 50 ms, and waiting for readers in SQLite's busy
# handler (which sleeps 1, 2, 5, 10 ms) as much again. So the thread first catches
# up, outside the writers' turn, with passive checkpoints until one finds fewer than
# CATCH_UP_FRAMES new frames (at most CATCH_UP_PASSES of them), and the restart
# gives up at once on a reader rather than wait for it; it is tried again at the
# next pass. Truncating the log instead, at 1 GB, took 545 ms (the file system
# freeing a gigabyte). The log's file is kept and written over from its start, so
# it stays about RESTART_FRAMES pages long, and a commit that stays within it syncs
# no change of the file's size.
IDLE_RESTART_FRAMES = 1_024
RESTART_FRAMES = 65_536
CATCH_UP_FRAMES = 64
CATCH_UP_PASSES = 4


def _sqlite_pragmas(
    dbapi_connection: Any, _record: Any, *, auto_checkpoint: bool
) -> None:
    # WAL lets readers run beside the one writer; synchronous=FULL makes every
    # commit durable across power loss, which an acknowledged decision must be.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    if not auto_checkpoint:
        cursor.execute("PRAGMA wal_autocheckpoint=0")
    cursor.close()


def make_engine(
    url: str, *, pool_size: int = 10, auto_checkpoint: bool = True
) -> sa.Engine:
    """An engine for `url`, with the settings each back end needs.

    On SQLite, `auto_checkpoint=False` leaves copying the write-ahead log into the
    database to a `WalCheckpointer`, off the path of every commit.
    """
    parsed = sa.make_url(url)
    if parsed.get_backend_name() == "sqlite":
        engine = sa.create_engine(
            parsed,
            connect_args={"check_same_thread": False},
            pool_size=max(pool_size, SQLITE_MIN_POOL_SIZE),
            pool_use_lifo=True,
            max_overflow=pool_size,
            json_serializer=dumps,
        )
        pragmas = partial(_sqlite_pragmas, auto_checkpoint=auto_checkpoint)
        sa.event.listen(engine, "connect", pragmas)
    else:
        engine = sa.create_engine(
            parsed,
            pool_size=pool_size,
            max_overflow=pool_size,
            pool_pre_ping=True,
            json_serializer=dumps,
        )
    log.debug("database engine for %s", parsed.render_as_string(hide_password=True))
    return engine


class WalCheckpointer:
    """Copies SQLite's write-ahead log into the database from a thread of its own.

    SQLite's automatic checkpoint runs inside the commit that fills the log past
    1,000 pages, and with synchronous=FULL it writes and syncs the database file
    there. Committing 4 rows of 18 kB at a time (a small batch of decisions), the
    99th percentile commit took 13 ms with it and 0.9 ms with this thread, on the
    2-core machine the benchmarks run on. Here a PASSIVE checkpoint runs every
    `interval` seconds; it never waits for a lock, so it never holds up a writer
    or a reader, and a log that a reader still needs waits for the next one.

    It still slows them down: at 500 decisions a second a pass goes over about
    3,000 frames of the log and copies the latest of each page to the database
    (a read and a write call per page), 4 ms of CPU on a quick minute and 20 ms on
    a slow one, and a ledger batch committed meanwhile takes about twice as long;
    half of the requests over 10 ms overlapped a pass, on a slow evening. SQLite
    copies all the log holds in one call, so the pass cannot be paced from here;
    shorter or longer intervals, a lower CPU or I/O priority for this thread, did
    not shorten the tail (docs/api.md, Speed).
    """

    def __init__(
        self,
        engine: sa.Engine,
        interval: float = 0.5,
        restart_frames: int = RESTART_FRAMES,
        idle_restart_frames: int = IDLE_RESTART_FRAMES,
    ) -> None:
        self.engine = engine
        self.interval = interval
        self.restart_frames = restart_frames
        self.idle_restart_frames = idle_restart_frames
        self._last_in_log = -1
        # The log's size when it was last started over: until a writer comes, the
        # log keeps reporting it, and has nothing to start over.
        self._restarted_at = -1
        self._turns = WriterTurns(engine)
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name="govsvc-wal-checkpoint", daemon=True
        )

    def start(self) -> WalCheckpointer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        self.checkpoint()  # what the last interval left
        self._turns.close()

    def checkpoint(self) -> tuple[int, int]:
        """(frames in the log, frames copied) after one PASSIVE checkpoint."""
        with self.engine.connect() as conn:
            row = conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)").one()
        _busy, in_log, copied = row
        return int(in_log), int(copied)

    def restart(self) -> bool:
        """Start the log over, once every frame is in the database: the next
        writer writes from the start of its file, over what is there; False if a
        reader still needed it (try again later).

        A passive checkpoint never does: SQLite starts the log over only when a
        writer finds no reader on it, and under steady load there nearly always is
        one, so the log grew by tens of megabytes a second without end. A RESTART
        checkpoint holds new writers while it runs: it runs in the ledger writers'
        turn (they queue on the turn, not in SQLite's busy handler), and with no
        busy timeout, so a reader makes it fail at once instead of sleeping while
        the writers wait.
        """
        with self._turns.turn(), self.engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA busy_timeout = 0")
            try:
                busy, in_log, _copied = conn.exec_driver_sql(
                    "PRAGMA wal_checkpoint(RESTART)"
                ).one()
            finally:
                conn.exec_driver_sql(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        if busy:
            return False
        self._restarted_at = int(in_log)
        return True

    def catch_up(self, in_log: int) -> tuple[int, int]:
        """Passive checkpoints, from a log of `in_log` frames, until one finds
        fewer than `CATCH_UP_FRAMES` new ones: whatever they copy, a restart need
        not copy and sync while the writers wait. The last (in_log, copied)."""
        copied = in_log
        for _ in range(CATCH_UP_PASSES):
            before = in_log
            in_log, copied = self.checkpoint()
            if copied != in_log or in_log - before < CATCH_UP_FRAMES:
                break
        return in_log, copied

    def restart_due(self, in_log: int, copied: int) -> bool:
        """Whether to start the log over after a passive checkpoint that left
        `in_log` frames in it, `copied` of them in the database. Called once a
        pass: a log the same size as at the last pass saw no commit since."""
        idle = in_log == self._last_in_log
        self._last_in_log = in_log
        if copied != in_log:
            return False  # a reader still needs frames the database lacks
        if in_log == self._restarted_at:
            return False  # started over already; the next commit writes from its start
        if idle:
            return in_log >= self.idle_restart_frames
        return in_log >= self.restart_frames

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                in_log, copied = self.checkpoint()
                if not self.restart_due(in_log, copied):
                    continue
                in_log, copied = self.catch_up(in_log)
                if copied != in_log:
                    continue
                started = time.perf_counter()
                if self.restart():
                    # Writers wait for it: one in the latency's tail is this.
                    log.info(
                        "write-ahead log started over at %s frames in %.1f ms",
                        self._restarted_at,
                        (time.perf_counter() - started) * 1000,
                    )
            except sa.exc.SQLAlchemyError as exc:  # retried at the next interval
                log.warning("write-ahead log checkpoint failed: %s", exc)
