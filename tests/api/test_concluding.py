"""A decision is concluded before the ledger's write lock, from the model's tier
state as last committed, and again under the lock when that state has changed."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy.orm import Session

from govsvc.api.service import Service, _Pending
from govsvc.assess import parse_request_json
from govsvc.decide import conclude
from govsvc.risk import TierState
from govsvc.store import decisions as rows
from govsvc.store import tokens

from .helpers import Api, unfair_request


def _service(api: Api) -> Service:
    service: Service = api.client.app.state.service  # type: ignore[attr-defined]
    return service


def _pending(api: Api, body: dict[str, Any]) -> _Pending:
    service = _service(api)
    raw = json.dumps(body).encode()
    with service.engine.connect() as conn:
        token = tokens.lookup(conn, api.tokens["ci"])
    assert token is not None
    return _Pending.assessed(
        service, parse_request_json(raw), raw, token, None, service.bundle()
    )


class _AsPrepared:
    """A pending decision submitted with the preparation it already has: the
    ledger calls `prepare` on a work item's class, and this class has none."""

    def __init__(self, pending: _Pending) -> None:
        self.pending = pending

    def __call__(self, session: Session, append: Any) -> dict[str, Any]:
        return self.pending(session, append)


def _stored_state(api: Api, model: str) -> dict[str, Any]:
    with _service(api).engine.connect() as conn:
        return rows.read_tier_states(conn, [model])[model]


def test_a_prepared_decision_is_recorded_as_prepared(api: Api) -> None:
    request = unfair_request()
    api.decide(request)
    pending = _pending(api, request)

    _Pending.prepare([pending])
    assert pending.concluded is not None
    body = _service(api).ledger.submit(pending).value

    # Concluding again would have taken a new time.
    assert body["time"] == pending.concluded.created
    assert body["verdict"] == "deny"


def _after_one_deny(api: Api) -> tuple[dict[str, Any], str]:
    """An unfair request and its model, denied once, so the model has a state."""
    request = unfair_request()
    api.decide(request)
    return request, request["model"]["name"]


def test_a_decision_prepared_from_a_stale_state_is_concluded_again(
    api: Api,
) -> None:
    request, model = _after_one_deny(api)
    pending = _pending(api, request)
    _Pending.prepare([pending])
    assert pending.concluded is not None
    prepared_from = pending.concluded.previous

    # Another deny of the model commits between the preparation and the batch.
    api.decide(request)
    committed = _stored_state(api, model)
    assert committed != prepared_from
    body = _service(api).ledger.submit(_AsPrepared(pending)).value

    expected = conclude(pending.facts, pending.bundle, TierState.from_dict(committed))
    assert _stored_state(api, model) == expected.state.to_dict()
    assert expected.state.consecutive_failures == committed["consecutive_failures"] + 1
    assert (body["verdict"], body["tier"]) == (expected.verdict, expected.tier)
    assert body["time"] != pending.concluded.created


def test_two_decisions_of_one_model_in_a_batch_chain_their_guesses(
    api: Api,
) -> None:
    request, model = _after_one_deny(api)
    before = _stored_state(api, model)
    first, second = _pending(api, request), _pending(api, request)

    _Pending.prepare([first, second])

    assert first.concluded is not None and second.concluded is not None
    assert first.concluded.previous == before
    assert second.concluded.previous == first.concluded.state
