"""Turns at writing between ledger writers that share one SQLite file.

Each of the server's worker processes has its own ledger writer, and SQLite lets
one transaction write at a time. A writer that finds the database locked can only
retry: SQLite's busy handler sleeps 1, 2, 5, 10 ms and more between tries, and even
a short poll wakes up late, long after the other writer's batch (about a
millisecond) has committed, so under load the lock sat idle between batches.

An exclusive `flock` on a file beside the database is the queue instead: a writer
blocks in the kernel (releasing the GIL) and wakes as soon as the holder lets go.
SQLite's own lock still guards the data; the turn only decides who asks for it
next. A process that dies in its turn loses the lock with its file descriptors.
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa

LOCK_SUFFIX = "-writer.lock"


class WriterTurns:
    """Take turns at writing with the other processes' writers on a database.

    For a SQLite file only; for any other database (or SQLite in memory, which no
    other process can open) `turn()` does nothing.
    """

    def __init__(self, engine: sa.Engine) -> None:
        url = engine.url
        database = url.database if url.get_backend_name() == "sqlite" else None
        in_memory = not database or database == ":memory:" or "mode=memory" in str(url)
        self.path = None if in_memory else f"{database}{LOCK_SUFFIX}"
        self._fd: int | None = None
        # flock is held by an open file, not a thread: the threads of one process
        # queue here first, so that two of them never both think it is their turn.
        self._threads = threading.Lock()

    @contextmanager
    def turn(self) -> Iterator[None]:
        """Hold the turn for the body of the `with`: one write transaction."""
        if self.path is None:
            yield
            return

        with self._threads:
            fd = self._open()
            # A hung holder (a live process stuck inside a transaction) makes this
            # wait without bound; it also holds SQLite's lock, so no write could
            # get through meanwhile anyway.
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)

    def close(self) -> None:
        with self._threads:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None

    def _open(self) -> int:
        if self._fd is None:
            assert self.path is not None
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        return self._fd
