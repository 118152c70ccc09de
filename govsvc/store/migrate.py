"""Schema migrations, run programmatically: `upgrade(url)` brings a database to head.

`govsvc serve` calls it at start and `govsvc db upgrade` on demand. The revisions live
in `migrations/` at the top of the source tree; `0001` holds the ledger's tables,
`0002` the service's, `0003` packs decisions' facts.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa

from govsvc.errors import GovsvcError

if TYPE_CHECKING:
    from alembic.config import Config

log = logging.getLogger(__name__)

# Where the revisions are. This works from a source checkout or an editable install;
# a wheel would need the migrations packaged inside govsvc, which they are not yet.
ROOT = Path(__file__).resolve().parents[2]
ALEMBIC_INI = ROOT / "alembic.ini"
SCRIPT_LOCATION = ROOT / "migrations"

# pg_advisory_lock key: "govsvc" as an integer; replicas migrate one at a time.
MIGRATION_LOCK_ID = int.from_bytes(b"govsvc", "big")


# Alembic announces every plugin it loads at INFO; the revisions it runs are enough.
logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)


class MigrationError(GovsvcError):
    """The database schema cannot be brought to the revision asked for."""


def target_metadata() -> list[sa.MetaData]:
    """Every MetaData the migrations must agree with: the ledger's and the service's."""
    from govsvc.ledger.storage import metadata as ledger_metadata
    from govsvc.store.tables import metadata as service_metadata

    return [ledger_metadata, service_metadata]


def _config(url: str) -> Config:
    from alembic.config import Config

    if not SCRIPT_LOCATION.is_dir():
        raise MigrationError(
            f"no migrations at {SCRIPT_LOCATION}: expected the `migrations/` folder "
            "of govsvc's source tree; run govsvc from a checkout or editable install"
        )
    config = Config(str(ALEMBIC_INI) if ALEMBIC_INI.is_file() else None)
    config.set_main_option("script_location", str(SCRIPT_LOCATION))
    config.attributes["url"] = url
    config.attributes["quiet"] = True  # leave logging as the govsvc command set it
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Apply every migration up to `revision` to the database at `url`."""
    from alembic import command
    from alembic.util import CommandError

    config = _config(url)
    safe_url = sa.make_url(url).render_as_string(hide_password=True)
    log.info("migrating %s to %s", safe_url, revision)
    try:
        command.upgrade(config, revision)
    except CommandError as exc:
        raise MigrationError(f"cannot migrate {safe_url} to {revision}: {exc}") from exc
    except sa.exc.OperationalError as exc:
        raise MigrationError(
            f"cannot migrate {safe_url}: the database refused ({_first_line(exc)}); "
            "check the URL and that the database is up"
        ) from exc


def current(url: str) -> str | None:
    """The revision the database is at, or None when it was never migrated."""
    from alembic.runtime.migration import MigrationContext

    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    except sa.exc.OperationalError as exc:
        safe_url = sa.make_url(url).render_as_string(hide_password=True)
        raise MigrationError(
            f"cannot read the schema revision of {safe_url}: the database refused "
            f"({_first_line(exc)}); check the URL and that the database is up"
        ) from exc
    finally:
        engine.dispose()


def _first_line(exc: sa.exc.DBAPIError) -> str:
    lines = str(exc.orig).strip().splitlines()
    return lines[0] if lines else type(exc.orig).__name__
