"""`/v1/decisions`: ask for a decision, read them, review them."""

from __future__ import annotations

import json
import time
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from govsvc.api.auth import Reader, Reviewer, authorize, authorize_seen
from govsvc.api.deps import ServiceDep
from govsvc.api.models import ReviewIn
from govsvc.api.service import Service
from govsvc.assess import EvaluationRequest, parse_request_json
from govsvc.store.errors import BadRequest

router = APIRouter(prefix="/v1/decisions", tags=["decisions"])

MAX_IDEMPOTENCY_KEY = 200


# The body is described here rather than declared as a parameter: FastAPI would
# validate a declared body on the event loop, in a pass of its own, before the
# route's one trip to a worker thread (see `create_decision`). The schema itself is
# added to the document's components by `govsvc.api.app`.
_REQUEST_BODY = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {"$ref": "#/components/schemas/EvaluationRequest"}
        }
    },
}


_IDEMPOTENCY_KEY = {
    "name": "idempotency-key",
    "in": "header",
    "required": False,
    "schema": {"anyOf": [{"type": "string"}, {"type": "null"}]},
    "description": "a retry with the same key and body gets the first answer",
}


@router.post(
    "",
    status_code=201,
    summary="Decide whether a model may be promoted (role ci)",
    responses={
        200: {"description": "a replay: the answer to the first request with this key"},
        409: {"description": "the Idempotency-Key was used for another request"},
    },
    openapi_extra={"requestBody": _REQUEST_BODY, "parameters": [_IDEMPOTENCY_KEY]},
)
async def create_decision(request: Request) -> Response:
    """Assess the request, place the model in a risk tier, evaluate the policies in
    force and record the decision in the ledger. Answers after the commit, with a
    receipt. A retry with the same `Idempotency-Key` and body gets the first answer
    (200) and writes nothing; the body is compared byte for byte."""
    started = time.perf_counter()
    # Read here rather than declared as FastAPI parameters and dependencies, whose
    # resolution cost a tenth of this route's time on the event loop.
    service: Service = request.app.state.service
    idempotency_key = request.headers.get("idempotency-key")

    # The checks in the order FastAPI's dependencies and body parameter gave: the
    # token (401, 403), then the body (422), then the header's length (400). All on
    # the event loop: a trip to a worker thread costs more CPU than the parsing
    # and assessing it would move, and the CPU is what a decision waits for.
    token = authorize_seen(request, ("ci",))
    if token is None:
        token = await run_in_threadpool(authorize, request, ("ci",))
    raw = await request.body()
    body = parse_body(raw, request.headers.get("content-type"))
    if idempotency_key is not None and not (
        0 < len(idempotency_key) <= MAX_IDEMPOTENCY_KEY
    ):
        raise BadRequest(
            f"the Idempotency-Key header must be 1 to {MAX_IDEMPOTENCY_KEY} "
            f"characters, found {len(idempotency_key)}"
        )
    recorded = await service.decide(body, raw, token, idempotency_key)
    if not recorded.replayed:
        request.app.state.metrics.observe_decision(
            recorded.body["verdict"], time.perf_counter() - started
        )
    headers = {"Location": f"/v1/decisions/{recorded.body['id']}"}
    if recorded.replayed:
        headers["Idempotent-Replayed"] = "true"
    return Response(
        recorded.to_json(),
        status_code=200 if recorded.replayed else 201,
        headers=headers,
        media_type="application/json",
    )


def parse_body(raw: bytes, content_type: str | None) -> EvaluationRequest:
    """The request body as an `EvaluationRequest`, or a 422 naming each field that
    is wrong (FastAPI's own errors, at the same locations, as a body parameter
    declared on the route would give); a body that is not JSON is named by line and
    column."""
    if not raw:
        raise RequestValidationError(
            [{"type": "missing", "loc": ("body",), "msg": "Field required"}]
        )
    try:
        if content_type is not None and _is_json(content_type):
            # Parsed and validated in one pass over the bytes (pydantic-core).
            return parse_request_json(raw)
        # A body sent as another type fails validation as a non-object.
        return EvaluationRequest.model_validate(raw)
    except json.JSONDecodeError as exc:
        raise _not_json(
            f"{exc.msg} at line {exc.lineno} column {exc.colno}; send one JSON object"
        ) from exc
    except UnicodeDecodeError as exc:
        raise _not_json(
            f"byte {exc.start} is not UTF-8 ({raw[exc.start]:#04x}); send the JSON "
            "as UTF-8"
        ) from exc
    except ValidationError as exc:
        errors = [{**err, "loc": ("body", *err["loc"])} for err in exc.errors()]
        raise RequestValidationError(errors) from exc


def _not_json(why: str) -> RequestValidationError:
    return RequestValidationError(
        [{"type": "json_invalid", "loc": ("body",), "msg": f"not valid JSON: {why}"}]
    )


def _is_json(content_type: str) -> bool:
    # As FastAPI reads it: application/json, or any application/...+json.
    kind = content_type.partition(";")[0].strip().lower()
    main, _, sub = kind.partition("/")
    return main == "application" and (sub == "json" or sub.endswith("+json"))


@router.get("", summary="List decisions, newest first (roles ci, reviewer, auditor)")
def list_decisions(
    token: Reader,
    service: ServiceDep,
    model: str | None = None,
    verdict: Literal["allow", "warn", "review", "deny"] | None = None,
    status: Literal["final", "pending", "approved", "rejected"] | None = None,
    cursor: str | None = None,
    limit: Annotated[int | None, Query(ge=1, le=1000)] = None,
) -> dict[str, Any]:
    """Filter by model name, verdict or status (`pending` is the review queue).
    Pages are linked by `next`: pass it back as `cursor`."""
    return service.list_decisions(
        model=model,
        verdict=verdict,
        status=status,
        cursor=cursor,
        limit=limit or service.settings.page_size,
    )


@router.get("/{decision_id}", summary="One decision and its reviews")
def get_decision(
    decision_id: str, token: Reader, service: ServiceDep
) -> dict[str, Any]:
    return service.get_decision(decision_id)


@router.post(
    "/{decision_id}/review",
    status_code=201,
    summary="Approve or reject a decision that needs review (role reviewer)",
)
def review_decision(
    decision_id: str, body: ReviewIn, token: Reviewer, service: ServiceDep
) -> dict[str, Any]:
    """The review is a ledger entry; an approval turns the decision to `approved`
    and lets a raised tier come down. One review per reviewer and decision."""
    return service.review(decision_id, token, body.outcome == "approve", body.comment)
