"""`/v1/policies`: the policies in force; publication by authors."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from pydantic import ValidationError

from govsvc.api.auth import AnyRole, Author
from govsvc.api.deps import ServiceDep
from govsvc.api.models import PolicyCheckIn, PolicyIn
from govsvc.api.problems import validation_errors
from govsvc.store.errors import BadRequest, Unprocessable

# There is no DELETE: retiring a policy means publishing it with its rules removed,
# so the ledger keeps a publication for every change of the bundle.
router = APIRouter(prefix="/v1/policies", tags=["policies"])


@router.get("", summary="The policy files in force and the bundle digest (any role)")
def list_policies(token: AnyRole, service: ServiceDep) -> dict[str, Any]:
    return service.list_policies()


@router.post(
    "/check",
    summary="Lint policy files against the bundle in force, publishing nothing",
)
def check_policies(
    body: PolicyCheckIn, token: AnyRole, service: ServiceDep
) -> dict[str, Any]:
    return service.check_policies(body.sources)


@router.get("/{name}", summary="One policy file's canonical text (any role)")
def get_policy(name: str, token: AnyRole, service: ServiceDep) -> dict[str, Any]:
    return service.get_policy(name)


@router.put(
    "/{name}",
    summary="Publish a policy file (role author)",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": PolicyIn.model_json_schema()},
                "text/plain": {"schema": {"type": "string"}},
            },
        }
    },
    responses={422: {"description": "the policy has errors; `diagnostics` lists them"}},
)
async def put_policy(
    name: str, request: Request, token: Author, service: ServiceDep
) -> dict[str, Any]:
    """Checked with the rest of the bundle, stored in canonical form, recorded in the
    ledger, and in force on every replica for its next request. A file with any
    error is rejected whole and the bundle in force stays."""
    text = await _policy_text(request)
    from starlette.concurrency import run_in_threadpool

    result: dict[str, Any] = await run_in_threadpool(
        service.publish_policy, name, text, token
    )
    return result


async def _policy_text(request: Request) -> str:
    raw = await request.body()
    content_type = request.headers.get("content-type", "text/plain")
    try:
        decoded = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadRequest(
            f"a policy file is UTF-8 text; byte {exc.start} is not valid UTF-8"
        ) from exc
    if not content_type.startswith("application/json"):
        return decoded
    try:
        return PolicyIn.model_validate(json.loads(decoded)).source
    except json.JSONDecodeError as exc:
        raise BadRequest(
            f"the body is not valid JSON (line {exc.lineno}, column {exc.colno}); "
            'send {"source": "..."} or the file itself as text/plain'
        ) from exc
    except ValidationError as exc:
        errors = validation_errors(exc.errors())
        raise Unprocessable(
            "the request is invalid: "
            + "; ".join(f"{e['field']}: {e['message']}" for e in errors),
            errors=errors,
        ) from exc
