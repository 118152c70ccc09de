"""`/v1/tokens`: API tokens, managed by admins."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from govsvc.api.auth import Admin
from govsvc.api.deps import ServiceDep
from govsvc.api.models import TokenIn
from govsvc.store import tokens

router = APIRouter(prefix="/v1/tokens", tags=["tokens"])


@router.post("", status_code=201, summary="Create a token (role admin)")
def create_token(body: TokenIn, token: Admin, service: ServiceDep) -> dict[str, Any]:
    """The answer holds the secret; it is shown this once and stored only hashed."""
    with service.engine.begin() as conn:
        info, secret = tokens.create(conn, list(body.roles), body.name)
    return {**info.to_dict(), "token": secret}


@router.get("", summary="List live tokens, without secrets (role admin)")
def list_tokens(token: Admin, service: ServiceDep) -> dict[str, Any]:
    with service.engine.connect() as conn:
        return {"items": [t.to_dict() for t in tokens.list_live(conn)]}


@router.delete("/{token_id}", status_code=204, summary="Revoke a token (role admin)")
def revoke_token(token_id: str, token: Admin, service: ServiceDep) -> Response:
    with service.engine.begin() as conn:
        tokens.revoke(conn, token_id)
    service.tokens_seen.forget(token_id)
    return Response(status_code=204)
