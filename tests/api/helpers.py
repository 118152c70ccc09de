"""Shared by the API tests: a test bundle, requests, a client with a token per role."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from govsvc.settings import Settings, load_settings

# A small bundle whose verdict the request's stage chooses: staging allows, canary
# warns, production needs review, and a selection-rate gap above 20% denies.
GATE_POLICY = """\
policy gate
  "Test bundle: the stage picks the verdict, a large gap denies."

  deny "selection-rate gap on {attribute} is {value}"
    when fairness[attribute].demographic_parity_difference > 20%
    for each attribute in protected_attributes

  review "production needs a human" when stage == "production"

  warn "canary is watched" when stage == "canary"
"""

ROLES = ("ci", "reviewer", "author", "auditor", "admin")

REQUEST: dict[str, Any] = {
    "model": {
        "name": "credit-scorer",
        "version": "2.4.0",
        "artifact_digest": "sha256:ab",
        "domain": "credit",
        "intended_use": "consumer credit scoring",
    },
    "stage": "staging",
    "dataset": {
        "snapshot_digest": "sha256:cd",
        "records": 120000,
        "records_without_consent": {"training": 0},
    },
    "metrics": {"auc": 0.91},
    "groups": {
        "gender": {
            "female": {"tp": 410, "fp": 90, "tn": 1300, "fn": 200},
            "male": {"tp": 520, "fp": 110, "tn": 1210, "fn": 160},
        }
    },
}


def request_for(stage: str = "staging", **changes: Any) -> dict[str, Any]:
    body = copy.deepcopy(REQUEST)
    body["stage"] = stage
    body.update(changes)
    return body


def unfair_request() -> dict[str, Any]:
    body = request_for()
    body["groups"]["gender"]["female"] = {"tp": 50, "fp": 10, "tn": 1700, "fn": 240}
    return body


@dataclass
class Api:
    client: TestClient
    settings: Settings
    tokens: dict[str, str]  # role -> secret

    def headers(self, role: str, **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}", **extra}

    def decide(self, body: dict[str, Any], **headers: str) -> Any:
        return self.client.post(
            "/v1/decisions", json=body, headers=self.headers("ci", **headers)
        )


def make_settings(database_url: str, tmp_path: Path, **overrides: Any) -> Settings:
    policies = tmp_path / "policies"
    policies.mkdir(exist_ok=True)
    if not any(policies.iterdir()):
        (policies / "gate.policy").write_text(GATE_POLICY)
    return load_settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        policies_dir=policies,
        **overrides,
    )
