from __future__ import annotations

import base64

from fastapi.testclient import TestClient

from govsvc.api.app import create_app

from .helpers import Api, request_for


def _auditor(api: Api) -> dict[str, str]:
    return api.headers("auditor")


def test_checkpoint_is_signed_note_text(api: Api) -> None:
    response = api.client.get("/v1/ledger/checkpoint", headers=_auditor(api))

    assert response.status_code == 200
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    lines = response.text.split("\n")
    assert lines[0] == api.settings.log_origin
    assert lines[1].isdigit()
    assert lines[4].startswith("\u2014 ")


def test_key_is_signed_note_verifier_key(api: Api) -> None:
    key = api.client.get("/v1/ledger/key", headers=_auditor(api)).json()

    name, key_id, encoded = key["verifier_key"].split("+", 2)
    assert name == api.settings.signer_name
    assert len(key_id) == 8
    assert len(base64.b64decode(encoded)) == 33
    assert key["verifier_key"] in key["all"]


def test_entry_of_a_decision(api: Api) -> None:
    decision = api.decide(request_for()).json()

    entry = api.client.get(
        f"/v1/ledger/entries/{decision['ledger_index']}", headers=_auditor(api)
    ).json()

    assert entry["entry"]["id"] == decision["id"]


def test_entry_beyond_size_is_404(api: Api) -> None:
    response = api.client.get("/v1/ledger/entries/999999", headers=_auditor(api))

    assert response.status_code == 404
    assert response.json()["detail"].startswith("no ledger entry 999999")


def test_inclusion_proof_matches_receipt(api: Api) -> None:
    decision = api.decide(request_for()).json()
    receipt = decision["receipt"]
    size = int(receipt["checkpoint"].split("\n")[1])

    proof = api.client.get(
        f"/v1/ledger/proofs/inclusion?index={receipt['index']}&size={size}",
        headers=_auditor(api),
    ).json()

    assert proof == {
        "index": receipt["index"],
        "size": size,
        "leaf_hash": receipt["leaf_hash"],
        "hashes": receipt["inclusion_proof"],
    }


def test_consistency_proof_has_hashes(api: Api) -> None:
    api.decide(request_for())
    api.decide(request_for("canary"))

    proof = api.client.get(
        "/v1/ledger/proofs/consistency?from=1", headers=_auditor(api)
    ).json()

    assert proof["from"] == 1
    assert proof["to"] >= 3
    assert all(len(base64.b64decode(h)) == 32 for h in proof["hashes"])


def test_consistency_backwards_is_400(api: Api) -> None:
    response = api.client.get(
        "/v1/ledger/proofs/consistency?from=3&to=1", headers=_auditor(api)
    )

    assert response.status_code == 400
    assert response.json()["detail"] == "expected from <= to, found from=3 and to=1"


def test_receipt_route_for_decision(api: Api) -> None:
    decision = api.decide(request_for()).json()

    receipt = api.client.get(
        f"/v1/ledger/receipts/{decision['ledger_index']}", headers=_auditor(api)
    ).json()

    assert receipt["entry"] == decision["receipt"]["entry"]
    assert receipt["leaf_hash"] == decision["receipt"]["leaf_hash"]


def test_public_ledger_needs_no_token(api: Api) -> None:
    settings = api.settings.model_copy(update={"public_ledger": True})
    with TestClient(create_app(settings)) as client:
        assert client.get("/v1/ledger/checkpoint").status_code == 200
        assert client.get("/v1/decisions").status_code == 401
