"""`/v1/decisions`: ask for a decision, read them, review them."""

from __future__ import annotations

import time
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from govsvc.api.auth import CI, Reader, Reviewer
from govsvc.api.deps import ServiceDep
from govsvc.api.models import ReviewIn
from govsvc.assess import EvaluationRequest
from govsvc.decide import request_digest
from govsvc.store.errors import BadRequest

router = APIRouter(prefix="/v1/decisions", tags=["decisions"])

MAX_IDEMPOTENCY_KEY = 200


@router.post(
    "",
    status_code=201,
    summary="Decide whether a model may be promoted (role ci)",
    responses={
        200: {"description": "a replay: the answer to the first request with this key"},
        409: {"description": "the Idempotency-Key was used for another request"},
    },
)
async def create_decision(
    body: EvaluationRequest,
    request: Request,
    token: CI,
    service: ServiceDep,
    idempotency_key: Annotated[str | None, Header()] = None,
) -> Response:
    """Assess the request, place the model in a risk tier, evaluate the policies in
    force and record the decision in the ledger. Answers after the commit, with a
    receipt. A retry with the same `Idempotency-Key` and body gets the first answer
    (200) and writes nothing; the body is compared byte for byte."""
    if idempotency_key is not None and not (
        0 < len(idempotency_key) <= MAX_IDEMPOTENCY_KEY
    ):
        raise BadRequest(
            f"the Idempotency-Key header must be 1 to {MAX_IDEMPOTENCY_KEY} "
            f"characters, found {len(idempotency_key)}"
        )
    started = time.perf_counter()
    # FastAPI read and parsed the body already; Starlette keeps the bytes. They are
    # hashed in the worker thread: hashlib lets go of the GIL for large inputs, and
    # the event loop would then queue behind busy workers to get it back.
    raw = await request.body()
    recorded = await run_in_threadpool(
        lambda: service.decide(body, request_digest(raw), token, idempotency_key)
    )
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
