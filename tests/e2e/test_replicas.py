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
