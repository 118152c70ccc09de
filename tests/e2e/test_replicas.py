"""Two `govsvc serve` processes on one database, as replicas behind a balancer."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from api.helpers import GATE_POLICY, request_for

from .conftest import issue_tokens, start_server, stop_server


def test_replicas_share_bundle_ledger_and_idempotency(
    database_url: str, tmp_path: Path
) -> None:
    policies = tmp_path / "policies"
    policies.mkdir()
    (policies / "gate.policy").write_text(GATE_POLICY)
    first = start_server(tmp_path / "data", policies, database_url)
    second = None
    try:
        issue_tokens(first)
        # Same data directory: the replicas share the signing key, as with a
        # mounted secret.
        second = start_server(tmp_path / "data", policies, database_url)
        second.tokens = first.tokens
        key = {"Idempotency-Key": "replicated"}

        def decide(i: int) -> httpx.Response:
            target = (first, second)[i % 2]
            with target.client("ci") as ci:
                return ci.post("/v1/decisions", json=request_for(), headers=key)

        with ThreadPoolExecutor(6) as pool:
            answers = list(pool.map(decide, range(6)))

        strict = GATE_POLICY.replace(
            'warn "canary is watched"', 'deny "canary is closed"'
        )
        with first.client("author") as author:
            author.put(
                "/v1/policies/gate",
                content=strict,
                headers={"content-type": "text/plain"},
            ).raise_for_status()
        with second.client("ci") as ci:
            canary = ci.post("/v1/decisions", json=request_for("canary")).json()
        with second.client("auditor") as auditor:
            size = int(auditor.get("/v1/ledger/checkpoint").text.split("\n")[1])
            consistency = auditor.get(
                "/v1/ledger/proofs/consistency", params={"from": 1, "to": size}
            )
    finally:
        stop_server(first)
        if second is not None:
            stop_server(second)

    assert len({a.json()["id"] for a in answers}) == 1
    assert sorted(a.status_code for a in answers) == [200] * 5 + [201]
    assert canary["verdict"] == "deny"
    assert consistency.status_code == 200


def test_workers_share_one_sqlite_database_and_log_every_decision(
    tmp_path: Path,
) -> None:
    # `govsvc serve --workers 2`: two processes append to one SQLite ledger, and
    # each logs its requests and decisions as the single process does.
    policies = tmp_path / "policies"
    policies.mkdir()
    (policies / "gate.policy").write_text(GATE_POLICY)
    log_path = tmp_path / "server.log"
    with log_path.open("w") as log:
        server = start_server(tmp_path / "data", policies, workers=2, log=log)
        try:
            issue_tokens(server)
            with ThreadPoolExecutor(8) as pool, server.client("ci") as ci:
                answers = list(
                    pool.map(
                        lambda _: ci.post("/v1/decisions", json=request_for()),
                        range(40),
                    )
                )
        finally:
            stop_server(server)

    assert [a.status_code for a in answers] == [201] * 40
    assert len({a.json()["ledger_index"] for a in answers}) == 40
    lines = log_path.read_text().splitlines()
    decided = [line for line in lines if " verdict=" in line]
    requested = [line for line in lines if "POST /v1/decisions -> 201" in line]
    assert len(decided) == 40
    assert len(requested) == 40


def test_replicas_interleaving_decisions_for_one_model_keep_its_state(
    database_url: str, tmp_path: Path
) -> None:
    # Two replicas decide for one model at once: each batch reads and locks the
    # model's tier state, so the run of denies counts every decision exactly once.
    import json

    import sqlalchemy as sa
    from api.helpers import unfair_request

    policies = tmp_path / "policies"
    policies.mkdir()
    (policies / "gate.policy").write_text(GATE_POLICY)
    body = unfair_request()
    body["model"]["name"] = "shared-model"
    first = start_server(tmp_path / "data", policies, database_url)
    second = None
    try:
        issue_tokens(first)
        second = start_server(tmp_path / "data", policies, database_url)
        second.tokens = first.tokens
        with first.client("ci") as ci:  # placed once, so no first-placement race
            assert ci.post("/v1/decisions", json=body).json()["verdict"] == "deny"

        def decide(i: int) -> int:
            target = (first, second)[i % 2]
            with target.client("ci") as ci:
                return ci.post("/v1/decisions", json=body).status_code

        with ThreadPoolExecutor(8) as pool:
            statuses = list(pool.map(decide, range(31)))
    finally:
        stop_server(first)
        if second is not None:
            stop_server(second)

    assert statuses == [201] * 31
    engine = sa.create_engine(database_url)
    with engine.connect() as conn:
        state = conn.exec_driver_sql(
            "SELECT state FROM tier_states WHERE model = 'shared-model'"
        ).scalar_one()
    engine.dispose()
    state = json.loads(state) if isinstance(state, str) else state
    assert state["consecutive_failures"] == 32
