"""Bearer tokens and roles, as FastAPI dependencies.

`Authorization: Bearer <token>`: a missing or unknown token is 401, a known token
without the route's role is 403. Roles do not imply one another (an admin manages
tokens, it does not approve decisions); a token may carry several.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request

from govsvc.store import tokens
from govsvc.store.errors import Forbidden, Unauthenticated
from govsvc.store.tokens import TokenInfo

ANONYMOUS = TokenInfo("anonymous", frozenset(), "", "")


def _bearer(request: Request) -> str:
    header = request.headers.get("authorization")
    if not header:
        raise Unauthenticated(
            "this route needs a token: send `Authorization: Bearer <token>`; an admin "
            "makes one with `govsvc tokens create --role ROLE`"
        )
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise Unauthenticated(
            "expected `Authorization: Bearer <token>`, found another scheme or an "
            "empty token"
        )
    return value.strip()


def authenticate(request: Request) -> TokenInfo:
    secret = _bearer(request)
    service = request.app.state.service
    with service.engine.connect() as conn:
        info = tokens.lookup(conn, secret)
    if info is None:
        raise Unauthenticated(
            "the token is unknown or revoked; ask an admin for a new one"
        )
    service.tokens_seen.remember(secret, info)
    request.scope["state"]["token_id"] = info.id
    return info


def authorize_seen(request: Request, roles: tuple[str, ...]) -> TokenInfo | None:
    """`authorize` from this process's memory of live tokens, with no query; None
    when the token was not seen yet. A route that uses it must check that the token
    is still live in the transaction that does its work (see `TokenCache`)."""
    secret = _bearer(request)
    info = request.app.state.service.tokens_seen.get(secret)
    if info is None:
        return None
    _check_roles(info, roles)
    request.scope["state"]["token_id"] = info.id
    return info


def require(*roles: str, public: Callable[[Request], bool] | None = None) -> object:
    """A dependency that admits a token carrying any of `roles`; with `public`, a
    request without a token is admitted as anonymous when `public(request)` holds."""

    def dependency(request: Request) -> TokenInfo:
        if (
            public is not None
            and public(request)
            and not request.headers.get("authorization")
        ):
            return ANONYMOUS
        return authorize(request, roles)

    return Depends(dependency)


def authorize(request: Request, roles: tuple[str, ...]) -> TokenInfo:
    """The request's token, when it carries any of `roles` (or any token at all when
    `roles` is empty); 401 or 403 otherwise. Reads the database: call it from a
    worker thread, as FastAPI does with the dependency `require` makes."""
    info = authenticate(request)
    _check_roles(info, roles)
    return info


def _check_roles(info: TokenInfo, roles: tuple[str, ...]) -> None:
    if roles and not info.roles & set(roles):
        raise Forbidden(
            f"this route needs the role {' or '.join(roles)}; the token "
            f"{info.id} has {', '.join(sorted(info.roles))}"
        )


def _ledger_is_public(request: Request) -> bool:
    return bool(request.app.state.service.settings.public_ledger)


CI = Annotated[TokenInfo, require("ci")]
Reader = Annotated[TokenInfo, require("ci", "reviewer", "auditor")]
Reviewer = Annotated[TokenInfo, require("reviewer")]
Author = Annotated[TokenInfo, require("author")]
Auditor = Annotated[TokenInfo, require("auditor", public=_ledger_is_public)]
Admin = Annotated[TokenInfo, require("admin")]
AnyRole = Annotated[TokenInfo, require()]
