from __future__ import annotations

from .helpers import Api, request_for


def test_admin_creates_token_that_works(api: Api) -> None:
    created = api.client.post(
        "/v1/tokens",
        json={"roles": ["auditor"], "name": "audit team"},
        headers=api.headers("admin"),
    )

    assert created.status_code == 201
    secret = created.json()["token"]
    assert created.json()["roles"] == ["auditor"]
    checkpoint = api.client.get(
        "/v1/ledger/checkpoint", headers={"Authorization": f"Bearer {secret}"}
    )
    assert checkpoint.status_code == 200


def test_token_list_shows_no_secrets(api: Api) -> None:
    listing = api.client.get("/v1/tokens", headers=api.headers("admin")).json()

    assert len(listing["items"]) == 5
    for secret in api.tokens.values():
        assert secret not in str(listing)


def test_revoked_token_is_401(api: Api) -> None:
    created = api.client.post(
        "/v1/tokens", json={"roles": ["ci"]}, headers=api.headers("admin")
    ).json()

    revoked = api.client.delete(
        f"/v1/tokens/{created['id']}", headers=api.headers("admin")
    )

    assert revoked.status_code == 204
    response = api.client.get(
        "/v1/decisions", headers={"Authorization": f"Bearer {created['token']}"}
    )
    assert response.status_code == 401


def test_unknown_role_is_422_naming_field(api: Api) -> None:
    response = api.client.post(
        "/v1/tokens", json={"roles": ["root"]}, headers=api.headers("admin")
    )

    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "roles[0]"


def test_token_revoked_elsewhere_is_refused_by_the_decisions_route(api: Api) -> None:
    # The decisions route knows tokens it has seen without a query; a revocation
    # made by another replica (here: straight in the database, so this process's
    # memory still holds the token) must still stop the next decision.
    from govsvc.store import tokens

    created = api.client.post(
        "/v1/tokens", json={"roles": ["ci"]}, headers=api.headers("admin")
    ).json()
    auth = {"Authorization": f"Bearer {created['token']}"}
    first = api.client.post("/v1/decisions", json=request_for(), headers=auth)
    assert first.status_code == 201
    size = api.client.get("/v1/ledger/checkpoint", headers=api.headers("auditor"))

    service = api.client.app.state.service  # type: ignore[attr-defined]
    with service.engine.begin() as conn:
        tokens.revoke(conn, created["id"])
    second = api.client.post("/v1/decisions", json=request_for(), headers=auth)
    third = api.client.post("/v1/decisions", json=request_for(), headers=auth)

    assert second.status_code == 401
    assert "revoked" in second.json()["detail"]
    assert third.status_code == 401
    after = api.client.get("/v1/ledger/checkpoint", headers=api.headers("auditor"))
    assert after.text.split("\n")[1] == size.text.split("\n")[1]  # nothing recorded
