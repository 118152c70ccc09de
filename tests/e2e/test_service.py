"""The service end to end: `govsvc serve`, httpx, `govsvc gate`, `govsvc ledger
verify`, `govsvc tokens`, all as a pipeline and its people would use them."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from api.helpers import GATE_POLICY, ROLES, request_for, unfair_request
from api.test_auth import ROUTES

from .conftest import Server


def _model(body: dict[str, Any]) -> dict[str, Any]:
    # A model of its own per test: tier state is per model and the server is shared.
    body["model"]["name"] = f"model-{uuid.uuid4().hex[:8]}"
    return body


def _gate(
    server: Server, tmp_path: Path, body: dict[str, Any], *args: str, **env: str
) -> Any:
    request = tmp_path / f"request-{uuid.uuid4().hex[:6]}.json"
    request.write_text(json.dumps(body))
    return server.govsvc(
        "gate",
        "--url",
        server.url,
        "--request",
        str(request),
        *args,
        **{"GOVSVC_TOKEN": server.tokens["ci"], **env},
    )


def test_allow_over_http(server: Server) -> None:
    with server.client("ci") as ci:
        response = ci.post("/v1/decisions", json=_model(request_for("staging")))

    assert response.status_code == 201
    assert response.json()["verdict"] == "allow"
    assert response.headers["x-request-id"]


def test_gate_deny_exits_1_with_reason_table(server: Server, tmp_path: Path) -> None:
    result = _gate(server, tmp_path, _model(unfair_request()))

    assert result.returncode == 1, result.stderr
    assert result.stdout.startswith("verdict: deny\n")
    assert "gate.policy:" in result.stdout
    assert "selection-rate gap on gender" in result.stdout


def test_gate_allow_exits_0_and_saves_receipt_that_verifies(
    server: Server, tmp_path: Path
) -> None:
    receipt = tmp_path / "receipt.json"

    result = _gate(
        server, tmp_path, _model(request_for("canary")), "--receipt", str(receipt)
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("verdict: warn\n")
    key = json.loads(receipt.read_text())["verifier_key"]
    verified = server.govsvc("ledger", "verify", str(receipt), "--key", key)
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_receipt_from_api_verifies_offline(server: Server, tmp_path: Path) -> None:
    with server.client("ci") as ci:
        decision = ci.post("/v1/decisions", json=_model(request_for())).json()
    with server.client("auditor") as auditor:
        key = auditor.get("/v1/ledger/key").json()["verifier_key"]
        receipt = auditor.get(f"/v1/ledger/receipts/{decision['ledger_index']}").json()
    path = tmp_path / "r.json"
    path.write_text(json.dumps(receipt))

    verified = server.govsvc("ledger", "verify", str(path), "--key", key)
    path.write_text(json.dumps({**receipt, "index": receipt["index"] + 1}))
    tampered = server.govsvc("ledger", "verify", str(path), "--key", key)

    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert tampered.returncode == 1


def test_receipt_consistent_with_later_checkpoint_fetched_over_http(
    server: Server, tmp_path: Path
) -> None:
    # An auditor keeps an early receipt, later fetches a newer checkpoint (as an
    # anchor would hold it), and has `verify --url` fetch the consistency proof.
    with server.client("ci") as ci:
        first = ci.post("/v1/decisions", json=_model(request_for())).json()
        ci.post("/v1/decisions", json=_model(request_for()))
    with server.client("auditor") as auditor:
        key = auditor.get("/v1/ledger/key").json()["verifier_key"]
        later = auditor.get("/v1/ledger/checkpoint").text
    receipt = tmp_path / "early.json"
    receipt.write_text(json.dumps(first["receipt"]))
    note = tmp_path / "later.note"
    note.write_text(later)

    result = server.govsvc(
        "ledger", "verify", str(receipt), "--key", key,
        "--checkpoint", str(note), "--url", server.url,
        GOVSVC_TOKEN=server.tokens["auditor"],
    )  # fmt: skip

    assert result.returncode == 0, result.stdout + result.stderr
    assert "consistency  OK" in result.stdout


def test_gate_review_pending_exits_2(server: Server, tmp_path: Path) -> None:
    result = _gate(
        server, tmp_path, _model(request_for("production")), "--format", "json"
    )

    assert result.returncode == 2, result.stderr
    assert json.loads(result.stdout)["status"] == "pending"


def test_review_then_approve_while_gate_waits(server: Server, tmp_path: Path) -> None:
    body = _model(request_for("production"))
    outcome: dict[str, Any] = {}

    def gate() -> None:
        outcome["result"] = _gate(
            server, tmp_path, body, "--wait", "60", "--format", "json"
        )

    waiting = threading.Thread(target=gate)
    waiting.start()
    with server.client("reviewer") as reviewer:
        pending: list[Any] = []
        for _ in range(200):
            listing = reviewer.get(
                "/v1/decisions",
                params={"status": "pending", "model": body["model"]["name"]},
            ).json()
            pending = listing["items"]
            if pending:
                break
            time.sleep(0.05)
        (decision,) = pending
        approved = reviewer.post(
            f"/v1/decisions/{decision['id']}/review",
            json={"outcome": "approve", "comment": "fairness report read"},
        )
    waiting.join(timeout=90)

    assert approved.status_code == 201
    result = outcome["result"]
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["status"] == "approved"


def test_idempotent_retry_over_http(server: Server) -> None:
    body = _model(request_for())
    headers = {"Idempotency-Key": str(uuid.uuid4())}
    with server.client("ci") as ci, server.client("auditor") as auditor:
        first = ci.post("/v1/decisions", json=body, headers=headers)
        size = int(auditor.get("/v1/ledger/checkpoint").text.split("\n")[1])
        second = ci.post("/v1/decisions", json=body, headers=headers)
        after = int(auditor.get("/v1/ledger/checkpoint").text.split("\n")[1])
        other = ci.post("/v1/decisions", json=request_for("canary"), headers=headers)

    assert (first.status_code, second.status_code) == (201, 200)
    assert second.json() == first.json()
    assert after == size
    assert other.status_code == 409


def test_gate_github_summary(server: Server, tmp_path: Path) -> None:
    summary = tmp_path / "summary.md"

    result = _gate(
        server,
        tmp_path,
        _model(request_for("canary")),
        "--github-summary",
        GITHUB_STEP_SUMMARY=str(summary),
    )

    assert result.returncode == 0, result.stderr
    assert summary.read_text().startswith("## govsvc gate: warn\n")


def test_gate_with_revoked_token_exits_3(server: Server, tmp_path: Path) -> None:
    result = _gate(server, tmp_path, request_for(), GOVSVC_TOKEN="gsv_x_y")

    assert result.returncode == 3
    assert "HTTP 401" in result.stderr


def test_every_role_against_every_route(server: Server) -> None:
    clients = {role: server.client(role) for role in ROLES}
    try:
        for method, path, admitted in ROUTES:
            for role, client in clients.items():
                if method == "PUT":
                    status = client.put(
                        path, content=b"\xff", headers={"content-type": "text/plain"}
                    ).status_code
                else:
                    status = client.request(
                        method,
                        path,
                        json={"invalid": True} if method == "POST" else None,
                    ).status_code
                if role in admitted:
                    assert status not in (401, 403), (role, method, path, status)
                else:
                    assert status == 403, (role, method, path, status)
    finally:
        for client in clients.values():
            client.close()


def test_tokens_cli_prints_token_on_last_line(server: Server) -> None:
    created = server.govsvc("tokens", "create", "--role", "auditor", "--name", "cli")

    assert created.returncode == 0, created.stderr
    token = created.stdout.strip().splitlines()[-1]
    assert token.startswith("gsv_")
    response = __import__("httpx").get(
        f"{server.url}/v1/ledger/checkpoint",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 200


def test_policy_publication_takes_effect(server: Server) -> None:
    strict = GATE_POLICY.replace(
        'warn "canary is watched" when stage == "canary"',
        'deny "canary is closed" when stage == "canary"',
    )
    with server.client("ci") as ci, server.client("author") as author:
        before = ci.post("/v1/decisions", json=_model(request_for("canary"))).json()
        published = author.put(
            "/v1/policies/gate", content=strict, headers={"content-type": "text/plain"}
        )
        after = ci.post("/v1/decisions", json=_model(request_for("canary"))).json()
        # Put the shared server's bundle back for the other tests.
        author.put(
            "/v1/policies/gate",
            content=GATE_POLICY,
            headers={"content-type": "text/plain"},
        )

    assert published.status_code == 200
    assert (before["verdict"], after["verdict"]) == ("warn", "deny")
    assert after["bundle_digest"] == published.json()["bundle_digest"]


def test_concurrent_decisions_for_one_model_keep_its_tier_state(
    server: Server,
) -> None:
    # Requests that arrive together share a ledger batch; each decision must still
    # see the tier state the one before it left (here: a run of denies).
    from concurrent.futures import ThreadPoolExecutor

    body = _model(unfair_request())
    name = body["model"]["name"]
    clients = [server.client("ci") for _ in range(8)]

    def post(i: int) -> Any:
        return clients[i % 8].post("/v1/decisions", json=body).json()

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(post, range(24)))
    for client in clients:
        client.close()

    assert [a["verdict"] for a in answers] == ["deny"] * 24
    assert len({a["ledger_index"] for a in answers}) == 24
    db = Path(server.env["GOVSVC_DATA_DIR"]) / "govsvc.db"
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        (state,) = conn.execute(
            "SELECT state FROM tier_states WHERE model = ?", (name,)
        ).fetchone()
        (count,) = conn.execute(
            "SELECT count(*) FROM decisions WHERE model = ?", (name,)
        ).fetchone()
    assert json.loads(state)["consecutive_failures"] == 24
    assert count == 24
