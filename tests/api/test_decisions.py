from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from govsvc.cli import main
from govsvc.store import decisions as rows
from govsvc.store.packed import unpack

from .helpers import Api, request_for, unfair_request


def _ledger_size(api: Api) -> int:
    return api.client.app.state.service.ledger.size()  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("stage", "verdict", "status"),
    [
        ("staging", "allow", "final"),
        ("canary", "warn", "final"),
        ("production", "review", "pending"),
    ],
)
def test_decision_verdict_follows_policy(
    api: Api, stage: str, verdict: str, status: str
) -> None:
    response = api.decide(request_for(stage))

    assert response.status_code == 201
    body = response.json()
    assert (body["verdict"], body["status"]) == (verdict, status)
    assert response.headers["location"] == f"/v1/decisions/{body['id']}"


def test_unfair_model_is_denied_with_reason(api: Api) -> None:
    body = api.decide(unfair_request()).json()

    assert body["verdict"] == "deny"
    (reason,) = [r for r in body["reasons"] if r["effect"] == "deny"]
    assert reason["file"] == "gate.policy"
    assert reason["message"].startswith("selection-rate gap on gender is")
    assert reason["threshold"] == pytest.approx(0.2)


def test_decision_carries_facts_risk_and_receipt(api: Api) -> None:
    body = api.decide(request_for()).json()

    assert set(body) >= {
        "id",
        "verdict",
        "tier",
        "risk",
        "reasons",
        "facts",
        "bundle_digest",
        "receipt",
    }
    assert body["bundle_digest"].startswith("sha256:")
    assert "demographic_parity_difference" in body["facts"]["fairness"]["gender"]
    assert body["risk"]["tier"] == body["tier"]
    receipt = body["receipt"]
    assert receipt["index"] == body["ledger_index"]
    assert receipt["entry"]["type"] == "decision"
    assert receipt["entry"]["id"] == body["id"]
    assert receipt["entry"]["verdict"] == body["verdict"]
    assert receipt["entry"]["bundle_digest"] == body["bundle_digest"]


def test_receipt_verifies_offline(
    api: Api, tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    receipt = api.decide(request_for()).json()["receipt"]
    path = tmp_path / "receipt.json"
    path.write_text(json.dumps(receipt))

    code = main(["ledger", "verify", str(path), "--key", receipt["verifier_key"]])

    assert code == 0, capsys.readouterr()


def test_get_decision_returns_it_with_reviews(api: Api) -> None:
    created = api.decide(request_for("production")).json()

    fetched = api.client.get(
        f"/v1/decisions/{created['id']}", headers=api.headers("reviewer")
    ).json()

    assert fetched["id"] == created["id"]
    assert fetched["status"] == "pending"
    assert fetched["reviews"] == []


def test_facts_are_stored_packed_and_read_back_as_answered(api: Api) -> None:
    first = api.decide(request_for(), **{"Idempotency-Key": "run-p"})
    decision_id = first.json()["id"]

    service = api.client.app.state.service  # type: ignore[attr-defined]
    with service.engine.connect() as conn:
        row = rows.get_decision(conn, decision_id)
    fetched = api.client.get(f"/v1/decisions/{decision_id}", headers=api.headers("ci"))
    replayed = api.decide(request_for(), **{"Idempotency-Key": "run-p"})

    # Packed without the risk, which is the body's; read back with it.
    assert row.facts == ""
    assert "risk" not in json.loads(unpack(row.facts_zstd))
    assert json.loads(rows.facts_of(row)) == first.json()["facts"]
    assert fetched.json()["facts"] == first.json()["facts"]
    assert replayed.status_code == 200
    assert replayed.json() == first.json()
    # The facts' text itself, spliced into both answers last, is the same too.
    assert _facts_text(replayed.content) == _facts_text(first.content)


def _facts_text(content: bytes) -> bytes:
    _head, separator, facts = content.rpartition(b', "facts": ')
    assert separator, "the facts come last in a decision's answer"
    return facts


def test_unknown_decision_is_404(api: Api) -> None:
    response = api.client.get("/v1/decisions/nope", headers=api.headers("ci"))

    assert response.status_code == 404
    assert response.json()["detail"].startswith("no decision 'nope'")


def test_idempotent_retry_returns_first_answer_and_writes_nothing(api: Api) -> None:
    first = api.decide(request_for(), **{"Idempotency-Key": "run-1"})
    size = _ledger_size(api)

    second = api.decide(request_for(), **{"Idempotency-Key": "run-1"})

    assert first.status_code == 201
    assert second.status_code == 200
    assert second.headers["idempotent-replayed"] == "true"
    assert second.json() == first.json()
    assert _ledger_size(api) == size


def test_idempotency_key_with_other_body_is_409(api: Api) -> None:
    api.decide(request_for("staging"), **{"Idempotency-Key": "run-2"})

    response = api.decide(request_for("canary"), **{"Idempotency-Key": "run-2"})

    assert response.status_code == 409
    assert "was used for another request" in response.json()["detail"]


def test_concurrent_retries_make_one_decision(api: Api) -> None:
    size = _ledger_size(api)

    def send(_: int) -> Any:
        return api.decide(request_for(), **{"Idempotency-Key": "run-3"})

    with ThreadPoolExecutor(8) as pool:
        responses = list(pool.map(send, range(8)))

    assert sorted(r.status_code for r in responses) == [200] * 7 + [201]
    assert len({r.json()["id"] for r in responses}) == 1
    # One decision entry, plus one tier entry the first time a model is placed.
    listing = api.client.get("/v1/decisions", headers=api.headers("ci")).json()
    assert len(listing["items"]) == 1
    assert _ledger_size(api) - size <= 2


def test_invalid_body_is_422_naming_field(api: Api) -> None:
    body = request_for()
    body["groups"]["gender"]["male"]["tp"] = -3

    response = api.decide(body)

    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    fields = [e["field"] for e in response.json()["errors"]]
    assert "groups.gender.male.tp" in fields
    assert "-3" not in json.dumps(response.json()["errors"])


def test_missing_model_is_422_naming_field(api: Api) -> None:
    body = request_for()
    del body["model"]

    response = api.decide(body)

    assert response.status_code == 422
    assert response.json()["detail"].startswith("the request is invalid: model:")


def test_malformed_json_is_422(api: Api) -> None:
    response = api.client.post(
        "/v1/decisions",
        content=b'{"model": ',
        headers={**api.headers("ci"), "content-type": "application/json"},
    )

    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"


def test_body_over_limit_is_413(api: Api) -> None:
    body = request_for()
    body["metrics"] = {f"m{i}": 0.5 for i in range(100_000)}

    response = api.decide(body)

    assert response.status_code == 413
    assert "larger than the limit of 1048576 bytes" in response.json()["detail"]


def test_list_filters_and_pages(api: Api) -> None:
    for stage in ("staging", "canary", "production", "staging"):
        api.decide(request_for(stage))

    pending = api.client.get(
        "/v1/decisions?status=pending", headers=api.headers("reviewer")
    ).json()
    first = api.client.get("/v1/decisions?limit=3", headers=api.headers("ci")).json()
    rest = api.client.get(
        f"/v1/decisions?limit=3&cursor={first['next']}", headers=api.headers("ci")
    ).json()

    assert [d["verdict"] for d in pending["items"]] == ["review"]
    assert len(first["items"]) == 3 and len(rest["items"]) == 1
    assert rest["next"] is None
    ids = [d["id"] for d in first["items"] + rest["items"]]
    assert len(set(ids)) == 4


def test_list_bad_verdict_is_422(api: Api) -> None:
    response = api.client.get("/v1/decisions?verdict=maybe", headers=api.headers("ci"))

    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "query.verdict"


def test_empty_body_is_422_naming_body(api: Api) -> None:
    response = api.client.post(
        "/v1/decisions",
        content=b"",
        headers={**api.headers("ci"), "content-type": "application/json"},
    )

    assert response.status_code == 422
    assert response.json()["errors"] == [{"field": "body", "message": "Field required"}]


def test_body_not_sent_as_json_is_422(api: Api) -> None:
    response = api.client.post(
        "/v1/decisions",
        content=json.dumps(request_for()).encode(),
        headers={**api.headers("ci"), "content-type": "text/plain"},
    )

    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["body"]


def test_bad_token_with_malformed_body_is_401(api: Api) -> None:
    response = api.client.post(
        "/v1/decisions",
        content=b'{"model": ',
        headers={
            "Authorization": "Bearer gsv_nope",
            "content-type": "application/json",
        },
    )

    assert response.status_code == 401


def test_malformed_json_names_position(api: Api) -> None:
    response = api.client.post(
        "/v1/decisions",
        content=b'{"model": ',
        headers={**api.headers("ci"), "content-type": "application/json"},
    )

    assert response.json()["errors"] == [
        {
            "field": "body",
            "message": "not valid JSON: Expecting value at line 1 column 11; send "
            "one JSON object",
        }
    ]


def test_body_that_is_not_utf8_is_422_naming_the_byte(api: Api) -> None:
    response = api.client.post(
        "/v1/decisions",
        content=b'{"model": "\xff"}',
        headers={**api.headers("ci"), "content-type": "application/json"},
    )

    assert response.status_code == 422
    assert response.json()["errors"] == [
        {
            "field": "body",
            "message": "not valid JSON: byte 11 is not UTF-8 (0xff); send the JSON "
            "as UTF-8",
        }
    ]
