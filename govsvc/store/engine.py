"""Engines for the service's database: SQLite in embedded mode, PostgreSQL at scale."""

from __future__ import annotations

import logging
from typing import Any

import sqlalchemy as sa

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


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers run beside the one writer; synchronous=FULL makes every
    # commit durable across power loss, which an acknowledged decision must be.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def make_engine(url: str, *, pool_size: int = 10) -> sa.Engine:
    """An engine for `url`, with the settings each back end needs."""
    parsed = sa.make_url(url)
    if parsed.get_backend_name() == "sqlite":
        engine = sa.create_engine(
            parsed,
            connect_args={"check_same_thread": False},
            pool_size=max(pool_size, SQLITE_MIN_POOL_SIZE),
            max_overflow=pool_size,
            json_serializer=dumps,
        )
        sa.event.listen(engine, "connect", _sqlite_pragmas)
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
