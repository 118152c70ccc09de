"""`govsvc tokens`: manage API tokens on the host, with database access."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import sqlalchemy as sa

EPILOG = """\
examples:
  govsvc tokens create --role ci --name "github actions"
  TOKEN=$(govsvc tokens create --role reviewer | tail -n 1)
  govsvc tokens list
  govsvc tokens revoke 3f9a0c21b7de

`create` prints the new token alone on its last line; it is shown once and stored
only hashed. Roles: ci (asks for decisions), reviewer (approves them), author
(publishes policies), auditor (reads the ledger), admin (manages tokens).
"""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "tokens",
        help="create, list and revoke API tokens",
        description="Manage API tokens directly in the database (GOVSVC_* settings).",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = parser.add_subparsers(title="actions", metavar="ACTION", required=True)

    create = actions.add_parser("create", help="create a token and print it")
    create.add_argument(
        "--role",
        action="append",
        required=True,
        choices=["ci", "reviewer", "author", "auditor", "admin"],
        help="a role the token carries; repeat for several",
    )
    create.add_argument("--name", default="", help="what the token is for")
    create.set_defaults(func=_create)

    listing = actions.add_parser("list", help="list live tokens (no secrets)")
    listing.set_defaults(func=_list)

    revoke = actions.add_parser("revoke", help="revoke a token by id")
    revoke.add_argument("id", help="the token's id, as `list` shows it")
    revoke.set_defaults(func=_revoke)


def _engine() -> sa.Engine:
    from govsvc.settings import load_settings
    from govsvc.store.engine import make_engine
    from govsvc.store.migrate import upgrade

    settings = load_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings.resolved_database_url)
    return make_engine(settings.resolved_database_url, pool_size=1)


def _create(args: argparse.Namespace) -> int:
    from govsvc.store import tokens

    engine = _engine()
    with engine.begin() as conn:
        info, secret = tokens.create(conn, sorted(set(args.role)), args.name)
    engine.dispose()
    print(f"created token {info.id} with roles {', '.join(sorted(info.roles))}")
    print(secret)
    return 0


def _list(args: argparse.Namespace) -> int:
    from govsvc.store import tokens

    engine = _engine()
    with engine.connect() as conn:
        live = tokens.list_live(conn)
    engine.dispose()
    print(f"{'ID':<14}{'ROLES':<28}{'CREATED':<30}NAME")
    for info in live:
        roles = ",".join(sorted(info.roles))
        print(f"{info.id:<14}{roles:<28}{info.created_at:<30}{info.name}")
    return 0


def _revoke(args: argparse.Namespace) -> int:
    from govsvc.store import tokens

    engine = _engine()
    with engine.begin() as conn:
        tokens.revoke(conn, args.id)
    engine.dispose()
    print(f"revoked token {args.id}")
    return 0
