"""`govsvc db`: the database schema, managed by Alembic."""

from __future__ import annotations

import argparse

from govsvc.cli._common import command_group

EPILOG = """\
The URL comes from --url, else GOVSVC_DATABASE_URL, else SQLite in GOVSVC_DATA_DIR
(./.govsvc/govsvc.db). `govsvc serve` runs the same upgrade at start; run it by hand
before a rolling deploy, or to create an empty database.

examples:
  govsvc db upgrade
  govsvc db upgrade --url postgresql+psycopg://govsvc@db.example/govsvc
  govsvc db upgrade --revision 0001      # the ledger's tables only
  govsvc db current
"""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    commands = command_group(
        subparsers,
        "db",
        help="create or upgrade the database schema",
        description="Manage the database schema with Alembic migrations.",
        epilog=EPILOG,
    )

    upgrade = commands.add_parser(
        "upgrade",
        help="apply migrations up to a revision (default: the newest)",
        description="Apply every migration the database lacks, up to --revision.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_url(upgrade)
    upgrade.add_argument(
        "--revision", default="head", help="the revision to reach (default: head)"
    )
    upgrade.set_defaults(func=_upgrade)

    current = commands.add_parser(
        "current",
        help="print the revision the database is at",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_url(current)
    current.set_defaults(func=_current)


def _add_url(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--url",
        metavar="URL",
        help="SQLAlchemy database URL (default: from the settings)",
    )


def _resolve_url(args: argparse.Namespace) -> str:
    if args.url:
        return str(args.url)
    from govsvc.settings import load_settings

    settings = load_settings()
    if not settings.database_url:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    return settings.resolved_database_url


def _upgrade(args: argparse.Namespace) -> int:
    from govsvc.store import migrate

    url = _resolve_url(args)
    migrate.upgrade(url, args.revision)
    print(f"database at revision {migrate.current(url)}")
    return 0


def _current(args: argparse.Namespace) -> int:
    from govsvc.store import migrate

    print(migrate.current(_resolve_url(args)) or "(empty: never migrated)")
    return 0
