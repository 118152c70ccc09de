from __future__ import annotations

from collections.abc import Iterator

from .helpers import Api, request_for


def test_healthz_is_ok_without_token(api: Api) -> None:
    response = api.client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_reports_each_check(api: Api) -> None:
    response = api.client.get("/readyz")

    assert response.status_code == 200
    assert response.json() == {
        "status": "ready",
        "checks": {"database": "ok", "bundle": "ok", "key": "ok"},
    }


def test_metrics_count_decisions_and_ledger(api: Api) -> None:
    assert api.decide(request_for("staging")).status_code == 201

    text = api.client.get("/metrics").text

    assert 'govsvc_decisions_total{verdict="allow"} 1.0' in text
    assert "govsvc_decision_seconds_count 1.0" in text
    assert "govsvc_ledger_size" in text
    assert "govsvc_ledger_checkpoint_age_seconds" in text
    assert 'route="/v1/decisions"' in text


def test_unknown_route_is_problem_404(api: Api) -> None:
    response = api.client.get("/v1/nothing")

    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"] == (
        "no route /v1/nothing; the API is described at /openapi.json"
    )


def test_wrong_method_is_problem_405(api: Api) -> None:
    response = api.client.delete("/healthz")

    assert response.status_code == 405
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"] == "DELETE is not allowed on /healthz"


def test_request_id_is_echoed_when_plain(api: Api) -> None:
    response = api.client.get("/healthz", headers={"X-Request-ID": "ci-run-42.1"})

    assert response.headers["x-request-id"] == "ci-run-42.1"


def test_request_id_is_made_when_unsafe(api: Api) -> None:
    response = api.client.get("/healthz", headers={"X-Request-ID": "a b\tc"})

    assert len(response.headers["x-request-id"]) == 32


def test_openapi_names_the_decision_body(api: Api) -> None:
    schema = api.client.get("/openapi.json").json()

    body = schema["paths"]["/v1/decisions"]["post"]["requestBody"]
    assert body["content"]["application/json"]["schema"]["$ref"].endswith(
        "EvaluationRequest"
    )


def test_unexpected_failure_is_problem_500_without_traceback(api: Api) -> None:
    service = api.client.app.state.service  # type: ignore[attr-defined]
    with service.engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE reviews")
        conn.exec_driver_sql("DROP TABLE decisions")

    response = api.client.get("/v1/decisions", headers=api.headers("ci"))

    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["request_id"] == response.headers["x-request-id"]
    assert "Traceback" not in response.text
    assert "decisions" not in problem["detail"]


def test_chunked_body_over_limit_is_413(api: Api) -> None:
    chunk = b" " * 65536

    def body() -> Iterator[bytes]:
        yield b'{"stage": "staging", "pad": "'
        for _ in range(20):  # 1.25 MiB, over the 1 MiB limit, with no Content-Length
            yield chunk
        yield b'"}'

    response = api.client.post(
        "/v1/decisions",
        content=body(),
        headers={**api.headers("ci"), "content-type": "application/json"},
    )

    assert response.status_code == 413
    assert response.json()["status"] == 413
