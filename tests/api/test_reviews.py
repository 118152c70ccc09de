from __future__ import annotations

from typing import Any

from .helpers import Api, request_for


def _review(api: Api, decision_id: str, outcome: str, role: str = "reviewer") -> Any:
    return api.client.post(
        f"/v1/decisions/{decision_id}/review",
        json={"outcome": outcome, "comment": "checked the fairness report"},
        headers=api.headers(role),
    )


def test_approval_turns_status_approved_and_is_recorded(api: Api) -> None:
    decision = api.decide(request_for("production")).json()

    response = _review(api, decision["id"], "approve")

    assert response.status_code == 201
    review = response.json()
    assert review["status"] == "approved"
    assert review["receipt"]["entry"]["type"] == "review"
    assert review["receipt"]["entry"]["decision"] == decision["id"]
    fetched = api.client.get(
        f"/v1/decisions/{decision['id']}", headers=api.headers("ci")
    ).json()
    assert fetched["status"] == "approved"
    assert [r["outcome"] for r in fetched["reviews"]] == ["approve"]


def test_rejection_turns_status_rejected(api: Api) -> None:
    decision = api.decide(request_for("production")).json()

    assert _review(api, decision["id"], "reject").json()["status"] == "rejected"


def test_reviewer_cannot_review_twice(api: Api) -> None:
    decision = api.decide(request_for("production")).json()
    _review(api, decision["id"], "approve")

    response = _review(api, decision["id"], "approve")

    assert response.status_code == 409
    assert "has already reviewed decision" in response.json()["detail"]


def test_decided_review_cannot_be_reviewed_by_another(api: Api) -> None:
    decision = api.decide(request_for("production")).json()
    _review(api, decision["id"], "reject")
    other = api.client.post(
        "/v1/tokens", json={"roles": ["reviewer"]}, headers=api.headers("admin")
    ).json()["token"]

    response = api.client.post(
        f"/v1/decisions/{decision['id']}/review",
        json={"outcome": "approve", "comment": "overrule"},
        headers={"Authorization": f"Bearer {other}"},
    )

    assert response.status_code == 409
    assert "is already rejected" in response.json()["detail"]


def test_allow_decision_cannot_be_reviewed(api: Api) -> None:
    decision = api.decide(request_for("staging")).json()

    response = _review(api, decision["id"], "approve")

    assert response.status_code == 409
    assert "only a `review` verdict can be reviewed" in response.json()["detail"]


def test_review_of_unknown_decision_is_404(api: Api) -> None:
    assert _review(api, "nope", "approve").status_code == 404


def test_review_without_comment_is_422(api: Api) -> None:
    decision = api.decide(request_for("production")).json()

    response = api.client.post(
        f"/v1/decisions/{decision['id']}/review",
        json={"outcome": "approve", "comment": ""},
        headers=api.headers("reviewer"),
    )

    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "comment"


def test_replay_after_approval_shows_approved(api: Api) -> None:
    first = api.decide(request_for("production"), **{"Idempotency-Key": "job-9"})
    _review(api, first.json()["id"], "approve")

    replay = api.decide(request_for("production"), **{"Idempotency-Key": "job-9"})

    assert replay.json()["status"] == "approved"
    assert replay.json()["id"] == first.json()["id"]


def test_approval_and_decision_in_one_batch_keep_both_effects(api: Api) -> None:
    # An approval (which ends a run of denies) and a deny for the same model,
    # queued in that order behind an item that holds the ledger's writer, commit in
    # one batch; the deny must count from the approved state: one failure, not two.
    import asyncio
    import json
    import threading
    import time

    from govsvc.assess import parse_request_json
    from govsvc.store import tokens
    from govsvc.store.decisions import lock_tier_states

    from .helpers import unfair_request

    denied = unfair_request()
    assert api.decide(denied).json()["verdict"] == "deny"  # a run of one failure
    pending = api.decide(request_for("production")).json()
    assert pending["status"] == "pending"

    service = api.client.app.state.service  # type: ignore[attr-defined]
    with service.engine.connect() as conn:
        reviewer = tokens.lookup(conn, api.tokens["reviewer"])
        ci = tokens.lookup(conn, api.tokens["ci"])
    raw = json.dumps(denied).encode()
    gate = threading.Event()
    holding = service.ledger.submit_future(lambda _s, _a: gate.wait(10))
    while service.ledger._queue.qsize():  # until the writer has taken the gate
        time.sleep(0.001)

    review = threading.Thread(
        target=service.review, args=(pending["id"], reviewer, True, "fine")
    )
    review.start()
    while service.ledger._queue.qsize() < 1:
        time.sleep(0.001)
    decide = threading.Thread(
        target=lambda: asyncio.run(
            service.decide(parse_request_json(raw), raw, ci, None)
        )
    )
    decide.start()
    while service.ledger._queue.qsize() < 2:
        time.sleep(0.001)
    gate.set()
    review.join(30)
    decide.join(30)
    holding.result(30)

    with service.engine.connect() as conn:
        state = lock_tier_states(conn, [denied["model"]["name"]])
    assert state[denied["model"]["name"]]["consecutive_failures"] == 1
