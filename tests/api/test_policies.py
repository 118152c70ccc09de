from __future__ import annotations

import httpx
from fastapi.testclient import TestClient

from govsvc.api.app import create_app

from .helpers import GATE_POLICY, Api, request_for

STRICT_POLICY = GATE_POLICY.replace(
    'warn "canary is watched" when stage == "canary"',
    'deny "canary is closed" when stage == "canary"',
)

BROKEN_POLICY = """\
policy broken
  deny "typo" when fairnes.gender.demographic_parity_difference > 1
"""


def _put(api: Api, name: str, text: str) -> httpx.Response:
    return api.client.put(
        f"/v1/policies/{name}",
        content=text.encode(),
        headers={**api.headers("author"), "content-type": "text/plain"},
    )


def test_list_policies_shows_seeded_bundle(api: Api) -> None:
    listing = api.client.get("/v1/policies", headers=api.headers("ci")).json()

    assert listing["bundle_version"] == 1
    assert listing["bundle_digest"].startswith("sha256:")
    assert [p["name"] for p in listing["policies"]] == ["gate"]


def test_get_policy_returns_canonical_text(api: Api) -> None:
    policy = api.client.get("/v1/policies/gate", headers=api.headers("ci")).json()

    assert policy["file"] == "gate.policy"
    assert "production needs a human" in policy["source"]


def test_unknown_policy_is_404(api: Api) -> None:
    response = api.client.get("/v1/policies/nope", headers=api.headers("ci"))

    assert response.status_code == 404


def test_publication_takes_effect_on_next_decision(api: Api) -> None:
    before = api.decide(request_for("canary")).json()

    response = _put(api, "gate", STRICT_POLICY)

    assert response.status_code == 200
    published = response.json()
    assert published["bundle_version"] == 2
    assert published["receipt"]["entry"]["type"] == "policy"
    after = api.decide(request_for("canary")).json()
    assert (before["verdict"], after["verdict"]) == ("warn", "deny")
    assert after["bundle_digest"] == published["bundle_digest"]
    assert after["bundle_digest"] != before["bundle_digest"]


def test_publication_reaches_another_replica(api: Api) -> None:
    replica = create_app(api.settings)
    with TestClient(replica) as other:
        headers = api.headers("ci")
        first = other.post("/v1/decisions", json=request_for("canary"), headers=headers)
        _put(api, "gate", STRICT_POLICY)
        second = other.post(
            "/v1/decisions", json=request_for("canary"), headers=headers
        )

    assert (first.json()["verdict"], second.json()["verdict"]) == ("warn", "deny")


def test_json_body_publishes_too(api: Api) -> None:
    response = api.client.put(
        "/v1/policies/extra",
        json={"source": STRICT_POLICY.replace("policy gate", "policy extra")},
        headers=api.headers("author"),
    )

    assert response.status_code == 200
    names = api.client.get("/v1/policies", headers=api.headers("ci")).json()
    assert [p["name"] for p in names["policies"]] == ["extra", "gate"]


def test_broken_policy_is_rejected_whole(api: Api) -> None:
    digest = api.client.get("/v1/policies", headers=api.headers("ci")).json()[
        "bundle_digest"
    ]

    response = _put(api, "broken", BROKEN_POLICY)

    assert response.status_code == 422
    problem = response.json()
    assert problem["diagnostics"][0]["file"] == "broken.policy"
    assert problem["diagnostics"][0]["line"] == 2
    assert "nothing was published" in problem["detail"]
    after = api.client.get("/v1/policies", headers=api.headers("ci")).json()
    assert after["bundle_digest"] == digest
    assert [p["name"] for p in after["policies"]] == ["gate"]
    assert api.decide(request_for("canary")).json()["bundle_digest"] == digest


def test_bad_policy_name_is_400(api: Api) -> None:
    response = _put(api, "Bad Name", GATE_POLICY)

    assert response.status_code == 400
    assert "a policy name is lowercase letters" in response.json()["detail"]


def test_check_reports_without_publishing(api: Api) -> None:
    response = api.client.post(
        "/v1/policies/check",
        json={"sources": {"broken": BROKEN_POLICY}},
        headers=api.headers("author"),
    )

    assert response.status_code == 200
    assert response.json()["ok"] is False
    assert response.json()["diagnostics"][0]["file"] == "broken.policy"
    listing = api.client.get("/v1/policies", headers=api.headers("ci")).json()
    assert listing["bundle_version"] == 1
