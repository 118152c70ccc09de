"""API tokens: random secrets, stored only as SHA-256 digests, each with roles.

A token reads `gsv_<id>_<secret>`: the id names it in logs and in `DELETE
/v1/tokens/{id}` without revealing it; the secret is 32 random bytes. A plain
SHA-256 is the right digest here (unlike for passwords): the secret has 256 bits of
entropy, so there is nothing for a slow hash to protect against.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

import sqlalchemy as sa

from govsvc.ledger.storage import on_driver, placeholder
from govsvc.store.errors import BadRequest, NotFound
from govsvc.store.tables import service_meta, tokens
from govsvc.store.time import now

ROLES = ("ci", "reviewer", "author", "auditor", "admin")
"""ci asks for decisions; reviewer approves them; author publishes policies; auditor
reads the ledger; admin manages tokens. Roles do not imply one another."""

TOKEN_PREFIX = "gsv_"
BOOTSTRAP_KEY = "admin_token_issued"


@dataclass(frozen=True)
class TokenInfo:
    id: str
    roles: frozenset[str]
    name: str
    created_at: str

    def to_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "roles": sorted(self.roles),
            "name": self.name,
            "created_at": self.created_at,
        }


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def check_roles(roles: list[str] | tuple[str, ...] | frozenset[str]) -> frozenset[str]:
    """The roles as a set; an empty list or an unknown role is refused by name."""
    if not roles:
        raise BadRequest(
            f"a token needs at least one role; choose from {', '.join(ROLES)}"
        )
    unknown = sorted(set(roles) - set(ROLES))
    if unknown:
        raise BadRequest(
            f"unknown role {', '.join(unknown)}; expected one of {', '.join(ROLES)}"
        )
    return frozenset(roles)


def create(
    conn: sa.Connection, roles: list[str], name: str = ""
) -> tuple[TokenInfo, str]:
    """Store a new token; returns its description and the secret, shown only once."""
    role_set = check_roles(roles)
    token_id = secrets.token_hex(6)
    secret = f"{TOKEN_PREFIX}{token_id}_{secrets.token_urlsafe(32)}"
    info = TokenInfo(token_id, role_set, name, now())
    conn.execute(
        tokens.insert().values(
            id=info.id,
            digest=digest(secret),
            roles=",".join(sorted(role_set)),
            name=name,
            created_at=info.created_at,
        )
    )
    return info, secret


# Run on every authenticated request: built once (see govsvc.store.decisions).
_LOOKUP = sa.select(
    tokens.c.id, tokens.c.roles, tokens.c.name, tokens.c.created_at
).where(tokens.c.digest == sa.bindparam("b_digest"), tokens.c.revoked_at.is_(None))


def lookup(conn: sa.Connection, secret: str) -> TokenInfo | None:
    """The live token with this secret, or None, read from the database: the
    routes that call it see a revocation on their next request, on every replica
    (the decisions route keeps a `TokenCache` and checks `is_live` instead)."""
    row = conn.execute(_LOOKUP, {"b_digest": digest(secret)}).first()
    if row is None:
        return None
    return TokenInfo(row.id, frozenset(row.roles.split(",")), row.name, row.created_at)


def is_live(conn: sa.Connection, token_id: str) -> bool:
    """Whether the token with this id exists and is not revoked."""
    # Read by every ledger batch of decisions: SQL for the driver (see
    # `policies.current_version`).
    mark = placeholder(conn)
    found = on_driver(
        conn,
        f"SELECT 1 FROM tokens WHERE id = {mark} AND revoked_at IS NULL",
        (token_id,),
    )
    return bool(found)


class TokenCache:
    """Live tokens this process has looked up, by digest: roles never change, so
    a hit answers who the caller is without a query.

    Only a route that checks `is_live` again inside its own transaction may trust
    a hit (the decisions route does, once per ledger batch): a token revoked on
    another replica stays here until that check fails and forgets it. Until then
    the route checks such a request's body before refusing the token, so a
    malformed body sent with it gets 422 rather than 401 on that replica.
    """

    MAX_ENTRIES = 10_000  # bounded against a caller cycling through secrets

    def __init__(self) -> None:
        self._by_digest: dict[str, TokenInfo] = {}

    def get(self, secret: str) -> TokenInfo | None:
        return self._by_digest.get(digest(secret))

    def remember(self, secret: str, info: TokenInfo) -> None:
        if len(self._by_digest) >= self.MAX_ENTRIES:
            self._by_digest.clear()
        self._by_digest[digest(secret)] = info

    def forget(self, token_id: str) -> None:
        # Dict operations are atomic under the GIL; a copy is iterated so that a
        # concurrent `remember` cannot change the size mid-loop.
        for key, info in list(self._by_digest.items()):
            if info.id == token_id:
                self._by_digest.pop(key, None)


def revoke(conn: sa.Connection, token_id: str) -> None:
    result = conn.execute(
        tokens.update()
        .where(tokens.c.id == token_id, tokens.c.revoked_at.is_(None))
        .values(revoked_at=now())
    )
    if result.rowcount == 0:
        raise NotFound(
            f"no live token with id {token_id!r}; list them with GET /v1/tokens"
        )


def list_live(conn: sa.Connection) -> list[TokenInfo]:
    rows = conn.execute(
        sa.select(tokens.c.id, tokens.c.roles, tokens.c.name, tokens.c.created_at)
        .where(tokens.c.revoked_at.is_(None))
        .order_by(tokens.c.created_at, tokens.c.id)
    )
    return [
        TokenInfo(r.id, frozenset(r.roles.split(",")), r.name, r.created_at)
        for r in rows
    ]


def bootstrap_admin(conn: sa.Connection) -> str | None:
    """On the very first start, make an admin token and return its secret; afterwards
    None. The marker row makes this once per database, not once per empty table."""
    done = conn.execute(
        sa.select(service_meta.c.value).where(service_meta.c.key == BOOTSTRAP_KEY)
    ).first()
    if done is not None:
        return None
    info, secret = create(conn, ["admin"], name="bootstrap admin")
    conn.execute(service_meta.insert().values(key=BOOTSTRAP_KEY, value=info.id))
    return secret
