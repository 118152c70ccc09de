"""Every role against every route: 401 without a token, 403 with the wrong role."""

from __future__ import annotations

from .helpers import ROLES, Api, request_for

# (method, path, roles admitted); bodies are invalid on purpose where the role is
# admitted, so that an admitted call is a 404 or 422, never a write.
ROUTES = [
    ("POST", "/v1/decisions", {"ci"}),
    ("GET", "/v1/decisions", {"ci", "reviewer", "auditor"}),
    ("GET", "/v1/decisions/nope", {"ci", "reviewer", "auditor"}),
    ("POST", "/v1/decisions/nope/review", {"reviewer"}),
    ("GET", "/v1/policies", set(ROLES)),
    ("GET", "/v1/policies/gate", set(ROLES)),
    ("PUT", "/v1/policies/gate", {"author"}),
    ("POST", "/v1/policies/check", set(ROLES)),
    ("GET", "/v1/ledger/checkpoint", {"auditor"}),
    ("GET", "/v1/ledger/key", {"auditor"}),
    ("GET", "/v1/ledger/entries/0", {"auditor"}),
    ("GET", "/v1/ledger/proofs/inclusion?index=0", {"auditor"}),
    ("GET", "/v1/ledger/proofs/consistency?from=0", {"auditor"}),
    ("GET", "/v1/ledger/receipts/0", {"auditor"}),
    ("POST", "/v1/tokens", {"admin"}),
    ("GET", "/v1/tokens", {"admin"}),
    ("DELETE", "/v1/tokens/nope", {"admin"}),
]


def _call(api: Api, method: str, path: str, headers: dict[str, str]) -> int:
    body: object = {"invalid": True}
    if method == "PUT":
        return api.client.put(
            path, content=b"\xff", headers={**headers, "content-type": "text/plain"}
        ).status_code
    return api.client.request(
        method, path, json=body if method == "POST" else None, headers=headers
    ).status_code


def test_every_route_needs_a_token(api: Api) -> None:
    # One app for the whole table: a server start per cell would dominate the run.
    refused = {(m, p): _call(api, m, p, {}) for m, p, _ in ROUTES}

    assert refused == {(m, p): 401 for m, p, _ in ROUTES}


def test_every_route_admits_only_its_roles(api: Api) -> None:
    got = {
        (method, path, role): _call(api, method, path, api.headers(role))
        for method, path, _ in ROUTES
        for role in ROLES
    }

    for method, path, admitted in ROUTES:
        for role in ROLES:
            status = got[(method, path, role)]
            if role in admitted:
                assert status not in (401, 403), f"{role} refused: {method} {path}"
            else:
                assert status == 403, f"{role} got {status} on {method} {path}"


def test_missing_token_is_problem_with_challenge(api: Api) -> None:
    response = api.client.get("/v1/decisions")

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"].startswith("this route needs a token")


def test_unknown_token_is_401(api: Api) -> None:
    response = api.client.get(
        "/v1/decisions", headers={"Authorization": "Bearer gsv_nope_nope"}
    )

    assert response.status_code == 401
    assert response.json()["detail"] == (
        "the token is unknown or revoked; ask an admin for a new one"
    )


def test_wrong_role_names_role_needed(api: Api) -> None:
    response = api.client.post(
        "/v1/decisions", json=request_for(), headers=api.headers("auditor")
    )

    assert response.status_code == 403
    assert "this route needs the role ci; the token" in response.json()["detail"]


def test_basic_scheme_is_refused(api: Api) -> None:
    response = api.client.get(
        "/v1/decisions", headers={"Authorization": "Basic dXNlcjpwdw=="}
    )

    assert response.status_code == 401
    assert "expected `Authorization: Bearer <token>`" in response.json()["detail"]
