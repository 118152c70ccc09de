from __future__ import annotations

import copy
from typing import Any

import pytest

from govsvc.assess import parse_request
from govsvc.decide import decide, request_digest
from govsvc.policy import compile_sources
from govsvc.risk import TierState

POLICY = """\
policy gate
  "The stage picks the verdict; a large gap denies."

  tier high when model.domain == "credit"

  deny "selection-rate gap on {attribute} is {value}"
    when fairness[attribute].demographic_parity_difference > 20%
    for each attribute in protected_attributes

  review "production needs a human" when stage == "production"
"""

REQUEST: dict[str, Any] = {
    "model": {"name": "scorer", "version": "1", "domain": "credit"},
    "stage": "staging",
    "groups": {
        "gender": {
            "female": {"tp": 410, "fp": 90, "tn": 1300, "fn": 200},
            "male": {"tp": 520, "fp": 110, "tn": 1210, "fn": 160},
        }
    },
}


def _request(stage: str = "staging", unfair: bool = False) -> Any:
    body = copy.deepcopy(REQUEST)
    body["stage"] = stage
    if unfair:
        body["groups"]["gender"]["female"] = {"tp": 50, "fp": 10, "tn": 1700, "fn": 240}
    return parse_request(body)


@pytest.fixture(scope="module")
def bundle() -> Any:
    return compile_sources({"gate.policy": POLICY})


@pytest.mark.parametrize(
    ("stage", "unfair", "verdict"),
    [
        ("staging", False, "allow"),
        ("production", False, "review"),
        ("staging", True, "deny"),
    ],
)
def test_decide_verdict_known_answers(
    bundle: Any, stage: str, unfair: bool, verdict: str
) -> None:
    assert decide(_request(stage, unfair), bundle).verdict == verdict


def test_decide_places_model_in_tier_with_risk_facts(bundle: Any) -> None:
    outcome = decide(_request(), bundle)

    assert outcome.tier == "high"
    assert outcome.facts["risk"] == outcome.risk
    assert outcome.risk["tier"] == "high"
    assert 0 <= outcome.risk["bias_impact"] <= 100


def test_decide_first_placement_is_a_tier_change(bundle: Any) -> None:
    outcome = decide(_request(), bundle)

    assert outcome.previous_tier is None
    assert outcome.tier_changed


def test_decide_counts_failures_in_state(bundle: Any) -> None:
    first = decide(_request(unfair=True), bundle)
    second = decide(_request(unfair=True), bundle, first.state)

    assert first.state.consecutive_failures == 1
    assert second.state.consecutive_failures == 2
    assert second.previous_tier == first.tier
    assert not second.tier_changed


def test_decide_reasons_name_file_and_line(bundle: Any) -> None:
    (reason,) = decide(_request(unfair=True), bundle).reasons

    assert (reason["effect"], reason["file"], reason["line"]) == (
        "deny",
        "gate.policy",
        6,
    )
    assert reason["message"].startswith("selection-rate gap on gender is")


def test_decide_keeps_state_type(bundle: Any) -> None:
    assert isinstance(decide(_request(), bundle).state, TierState)


def test_request_digest_is_sha256_of_bytes_as_sent() -> None:
    # Known answer: SHA-256 of the three bytes "abc" (FIPS 180-2, appendix B.1).
    assert request_digest(b"abc") == (
        "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    )


def test_request_digest_differs_for_other_bytes() -> None:
    assert request_digest(b'{"stage":"canary"}') != request_digest(
        b'{"stage": "canary"}'
    )
