from __future__ import annotations

import hashlib

import pytest
import sqlalchemy as sa

from govsvc.store import tokens
from govsvc.store.engine import make_engine
from govsvc.store.errors import BadRequest, NotFound
from govsvc.store.migrate import upgrade
from govsvc.store.tables import tokens as tokens_table


@pytest.fixture
def engine(database_url: str) -> sa.Engine:
    upgrade(database_url)
    return make_engine(database_url)


def test_create_stores_only_the_digest(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        info, secret = tokens.create(conn, ["ci", "auditor"], "pipeline")
        stored = conn.execute(sa.select(tokens_table)).one()

    assert secret.startswith(f"gsv_{info.id}_")
    assert stored.digest == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in tuple(str(v) for v in stored)
    assert stored.roles == "auditor,ci"


def test_lookup_finds_live_token(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        info, secret = tokens.create(conn, ["reviewer"])
        found = tokens.lookup(conn, secret)

    assert found == info


def test_lookup_unknown_secret_is_none(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        _, secret = tokens.create(conn, ["reviewer"])
        assert tokens.lookup(conn, secret + "x") is None


def test_revoke_makes_lookup_fail(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        info, secret = tokens.create(conn, ["ci"])
        tokens.revoke(conn, info.id)
        assert tokens.lookup(conn, secret) is None
        assert tokens.list_live(conn) == []


def test_revoke_twice_raises_not_found(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        info, _ = tokens.create(conn, ["ci"])
        tokens.revoke(conn, info.id)
        with pytest.raises(NotFound, match=f"no live token with id '{info.id}'"):
            tokens.revoke(conn, info.id)


@pytest.mark.parametrize(
    ("roles", "message"),
    [
        ([], "a token needs at least one role"),
        (["ci", "root"], "unknown role root; expected one of ci, reviewer"),
    ],
)
def test_check_roles_refuses_bad_roles(roles: list[str], message: str) -> None:
    with pytest.raises(BadRequest, match=message):
        tokens.check_roles(roles)


def test_bootstrap_admin_only_once(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        first = tokens.bootstrap_admin(conn)
        assert first is not None
        info = tokens.lookup(conn, first)
        assert info is not None and info.roles == {"admin"}
        tokens.revoke(conn, info.id)

    with engine.begin() as conn:
        assert tokens.bootstrap_admin(conn) is None
