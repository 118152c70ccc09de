"""Alembic's environment for govsvc: where the URL comes from, what the models are.

The URL, first found wins: `config.attributes["url"]` (set by
`govsvc.store.migrate.upgrade`), `-x url=...` on the alembic command line, then the
settings (`GOVSVC_DATABASE_URL`, else SQLite in `GOVSVC_DATA_DIR`).

On PostgreSQL the migration runs under an advisory lock, so that replicas starting
together apply each revision once, one after the other.
"""

from __future__ import annotations

import logging
from logging.config import fileConfig

import sqlalchemy as sa
from alembic import context

from govsvc.store.migrate import MIGRATION_LOCK_ID, target_metadata

config = context.config
log = logging.getLogger("alembic.env")

if config.config_file_name is not None and not config.attributes.get("quiet"):
    fileConfig(config.config_file_name, disable_existing_loggers=False)


def _url() -> str:
    url = config.attributes.get("url") or context.get_x_argument(
        as_dictionary=True
    ).get("url")
    if url:
        return str(url)
    from govsvc.settings import load_settings

    settings = load_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return settings.resolved_database_url


def run_migrations_offline() -> None:
    context.configure(
        url=_url(),
        target_metadata=target_metadata(),
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    engine = sa.create_engine(_url(), poolclass=sa.pool.NullPool)
    with engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            # Session-level, released when the connection closes.
            connection.execute(
                sa.text("SELECT pg_advisory_lock(:id)"), {"id": MIGRATION_LOCK_ID}
            )
            connection.commit()
        context.configure(connection=connection, target_metadata=target_metadata())
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
