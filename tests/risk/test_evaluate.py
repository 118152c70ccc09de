"""Tier placement, escalation and hysteresis, with risk models built from lambdas."""

from __future__ import annotations

import json
import operator
from collections.abc import Callable
from typing import Any

import pytest

from govsvc.facts import MissingFact
from govsvc.risk import MemoryHistory, RiskError, TierState, evaluate_risk
from govsvc.risk.model import (
    EscalationRule,
    ExposureSpec,
    RiskModel,
    SourceRef,
    TierRule,
)
from govsvc.risk.tiers import TierState as _TierState


def fact(facts: Any, path: str) -> Any:
    """Read a dotted path as a compiled policy would: MissingFact when absent."""
    node = facts
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            raise MissingFact(path)
        node = node[part]
    return node


def when(path: str, op: str, value: Any) -> Callable[[Any], bool]:
    compare = {">": operator.gt, ">=": operator.ge, "==": operator.eq}[op]
    return lambda facts: bool(compare(fact(facts, path), value))


def tier(name: str, path: str, op: str, value: Any, line: int = 1) -> TierRule:
    return TierRule(
        name,
        when(path, op, value),
        SourceRef("tiers.policy", line),
        f"{path} {op} {value}",
    )


def esc(steps: int, path: str, op: str, value: Any, line: int = 10) -> EscalationRule:
    return EscalationRule(
        steps,
        when(path, op, value),
        SourceRef("tiers.policy", line),
        f"{path} {op} {value}",
    )


MODEL = RiskModel(
    placement=(
        tier("high", "model.domain", "==", "credit", 1),
        tier("limited", "risk.exposure", ">", 0.3, 2),
        tier("unacceptable", "model.intended_use", "==", "social scoring", 3),
    ),
    escalation=(
        esc(1, "drift.critical_alerts", ">", 0, 10),
        esc(1, "risk.consecutive_failures", ">=", 2, 11),
    ),
    clean_evaluations_to_lower=2,
    exposure=ExposureSpec(weights={"drift": 1.0}),
)


def _facts(
    domain: str = "hiring", psi: float = 0.0, critical: int = 0
) -> dict[str, Any]:
    return {
        "model": {"name": "m", "version": "1", "domain": domain, "intended_use": "x"},
        "stage": "production",
        "drift": {
            "features": {},
            "max_psi": psi,
            "alerts": [],
            "critical_alerts": critical,
        },
    }


def test_evaluate_risk_no_rule_holds_is_lowest_tier() -> None:
    result = evaluate_risk(_facts(), MODEL)

    assert result.facts["tier"] == "minimal"
    assert result.facts["base_tier"] == "minimal"
    assert result.facts["exposure"] == 0.0
    assert result.tier_changed is True  # a first evaluation sets the tier
    assert result.state == TierState("minimal", "minimal", 0, 0)


def test_evaluate_risk_highest_holding_tier_wins() -> None:
    result = evaluate_risk(_facts(domain="credit", psi=0.25), MODEL)

    assert result.facts["tier"] == "high"
    placed = [e for e in result.explanation if e["step"] == "placement"]
    assert [(e["tier"], e["line"]) for e in placed] == [("high", 1), ("limited", 2)]


def test_evaluate_risk_placement_reads_exposure() -> None:
    result = evaluate_risk(_facts(psi=0.2), MODEL)  # drift 0.4 > 0.3

    assert result.facts["exposure"] == pytest.approx(0.4)
    assert result.facts["tier"] == "limited"


def test_evaluate_risk_missing_fact_holds_fail_closed() -> None:
    facts = _facts()
    del facts["model"]["intended_use"]

    result = evaluate_risk(facts, MODEL)

    assert result.facts["tier"] == "unacceptable"
    assumed = [e for e in result.explanation if e.get("assumed")]
    assert assumed[0]["missing"] == "model.intended_use"
    assert assumed[0]["file"] == "tiers.policy" and assumed[0]["line"] == 3


def test_evaluate_risk_missing_drift_escalates_and_counts_exposure_at_one() -> None:
    facts = _facts()
    del facts["drift"]

    result = evaluate_risk(facts, MODEL)

    assert result.facts["exposure"] == 1.0
    # exposure 1 > 0.3 places limited; the missing alert count escalates by one.
    assert result.facts["base_tier"] == "limited"
    assert result.facts["tier"] == "high"


def test_evaluate_risk_critical_alert_raises_a_tier() -> None:
    result = evaluate_risk(_facts(domain="credit", critical=1), MODEL)

    assert result.facts["base_tier"] == "high"
    assert result.facts["tier"] == "unacceptable"
    assert {"step": "escalated", "from": "high", "to": "unacceptable", "by": 1} in (
        result.explanation
    )


def test_evaluate_risk_escalation_capped_at_top() -> None:
    previous = TierState("unacceptable", "unacceptable", 0, 5)

    result = evaluate_risk(_facts(domain="credit", critical=3), MODEL, previous)

    assert result.facts["tier"] == "unacceptable"
    assert result.tier_changed is False


def test_evaluate_risk_repeated_failures_raise_the_tier() -> None:
    history = MemoryHistory()
    for _ in range(2):
        result = evaluate_risk(_facts(), MODEL, history.load("m"))
        assert result.facts["tier"] == "minimal"
        history.save("m", result.state.after_verdict("deny"))

    result = evaluate_risk(_facts(), MODEL, history.load("m"))

    assert result.facts["consecutive_failures"] == 2
    assert result.facts["tier"] == "limited"
    assert result.facts["previous_tier"] == "minimal"
    assert result.tier_changed is True


def test_evaluate_risk_lowering_waits_for_clean_evaluations() -> None:
    raised = evaluate_risk(_facts(critical=1), MODEL)
    assert raised.facts["tier"] == "limited"
    state = raised.state.after_verdict("allow")

    first = evaluate_risk(_facts(), MODEL, state)
    second = evaluate_risk(_facts(), MODEL, first.state.after_verdict("allow"))

    assert first.facts["tier"] == "limited" and first.tier_changed is False
    assert {
        "step": "held",
        "tier": "limited",
        "instead_of": "minimal",
        "clean_evaluations": 1,
        "needed": 2,
    } in first.explanation
    assert second.facts["tier"] == "minimal" and second.tier_changed is True
    assert second.state.clean_streak == 0


def test_evaluate_risk_deny_breaks_the_clean_streak() -> None:
    state = evaluate_risk(_facts(critical=1), MODEL).state

    first = evaluate_risk(_facts(), MODEL, state)
    second = evaluate_risk(_facts(), MODEL, first.state.after_verdict("deny"))

    assert second.facts["tier"] == "limited"
    assert second.state.clean_streak == 1


def test_evaluate_risk_escalation_resets_the_clean_streak() -> None:
    state = TierState("high", "minimal", clean_streak=1)

    # Escalated to limited, still below high: not a clean evaluation.
    result = evaluate_risk(_facts(critical=1), MODEL, state)

    assert result.facts["tier"] == "high"
    assert result.state.clean_streak == 0


def test_evaluate_risk_approval_lowers_at_once() -> None:
    state = evaluate_risk(_facts(critical=1), MODEL).state.after_verdict("deny")

    approved = state.after_approval()
    result = evaluate_risk(_facts(), MODEL, approved)

    assert approved == TierState("minimal", "minimal", 0, 0)
    assert result.facts["tier"] == "minimal"


def test_evaluate_risk_unknown_previous_tier_reads_as_top() -> None:
    result = evaluate_risk(_facts(), MODEL, TierState("severe", "minimal"))

    assert result.facts["tier"] == "unacceptable"
    assert {
        "step": "unknown_previous_tier",
        "tier": "severe",
        "read_as": "unacceptable",
    } in (result.explanation)


def test_evaluate_risk_does_not_touch_its_input() -> None:
    facts = _facts()
    before = json.dumps(facts, sort_keys=True)

    evaluate_risk(facts, MODEL)

    assert json.dumps(facts, sort_keys=True) == before


def test_evaluate_risk_default_model_facts_are_json() -> None:
    result = evaluate_risk(_facts(), RiskModel())

    json.dumps(result.facts, allow_nan=False)
    json.dumps(result.explanation, allow_nan=False)
    assert "bias_impact" not in result.facts  # no fairness facts: no score
    assert result.facts["components"] == []


@pytest.mark.parametrize(
    ("model", "match"),
    [
        (
            RiskModel(placement=(tier("severe", "stage", "==", "x", 7),)),
            r"tiers.policy:7: tier 'severe' is not on the ladder",
        ),
        (
            RiskModel(escalation=(esc(0, "stage", "==", "x", 8),)),
            r"tiers.policy:8: escalate by 0; expected a whole number of steps",
        ),
        (RiskModel(tiers=("low", "low")), r"must list distinct tiers"),
    ],
)
def test_evaluate_risk_refuses_bad_model(model: RiskModel, match: str) -> None:
    with pytest.raises(RiskError, match=match):
        evaluate_risk(_facts(), model)


def test_tier_state_round_trips() -> None:
    state = TierState("high", "limited", 2, 3)

    assert TierState.from_dict(json.loads(json.dumps(state.to_dict()))) == state


@pytest.mark.parametrize(
    ("data", "match"),
    [
        ({"tier": "high"}, r"base_tier must be a tier name, found None"),
        ({"tier": "high", "base_tier": "x", "clean_streak": -1}, r"clean_streak must"),
        ({"tier": "high", "base_tier": "x", "oops": 1}, r"unknown keys oops"),
        (
            {"tier": "h", "base_tier": "x", "consecutive_failures": True},
            r"integer >= 0",
        ),
    ],
)
def test_tier_state_from_dict_refuses(data: dict[str, Any], match: str) -> None:
    with pytest.raises(RiskError, match=match):
        _TierState.from_dict(data)


@pytest.mark.parametrize(
    ("verdict", "failures", "streak"),
    [("deny", 3, 0), ("review", 2, 1), ("allow", 0, 1), ("warn", 0, 1)],
)
def test_tier_state_after_verdict(verdict: str, failures: int, streak: int) -> None:
    state = TierState("high", "limited", clean_streak=1, consecutive_failures=2)

    after = state.after_verdict(verdict)

    assert (after.consecutive_failures, after.clean_streak) == (failures, streak)


def test_tier_state_after_verdict_refuses_unknown() -> None:
    with pytest.raises(RiskError, match=r"unknown verdict 'maybe'; expected one of"):
        TierState("high", "high").after_verdict("maybe")


def test_evaluate_risk_from_assessed_request() -> None:
    from govsvc.assess import assess, parse_request

    request = parse_request(
        {
            "model": {"name": "m", "version": "1", "domain": "credit"},
            "stage": "production",
            "groups": {
                "gender": {
                    "female": {"tp": 410, "fp": 90, "tn": 1300, "fn": 200},
                    "male": {"tp": 520, "fp": 110, "tn": 1210, "fn": 160},
                }
            },
        }
    )
    facts = assess(request, min_group_size=30)

    result = evaluate_risk(facts, RiskModel())

    # Default score: dp 0.065 and eo 0.0926 (tolerance 0.05, weight 1), pp 0.0054
    # (weight 0.5); severities g / 0.2.
    gender = facts["fairness"]["gender"]
    expected = (
        100
        * (
            gender["demographic_parity_difference"] / 0.2
            + gender["equalized_odds_difference"] / 0.2
            + 0.5 * gender["predictive_parity_difference"] / 0.2
        )
        / 2.5
    )
    assert result.facts["bias_impact"] == pytest.approx(expected, abs=1e-12)
    # Drift, uncertainty and performance loss are missing: counted at 1.
    assert result.facts["exposure"] == pytest.approx(0.4 * expected / 100 + 0.6)
    assert "performance_loss" not in result.facts
