"""`conclude` against the plain composition of its steps, on generated facts.

conclude reads the bundle's reasons as records (`Bundle.evaluate_records`) rather
than through Reason objects, and builds its Outcome without the generated frozen
__init__. The reference here is the composition as written before: evaluate_risk,
bundle.evaluate, each reason's to_dict, after_verdict. Facts start from an
assessed request and are then varied: fairness figures, drift features, missing
and null facts, stage, domain, intended use; previous states of every kind.
"""

from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from govsvc.assess import assess, parse_request
from govsvc.decide import Outcome, conclude
from govsvc.policy import Bundle, load_bundle
from govsvc.risk import TierState, evaluate_risk

POLICIES = Path(__file__).resolve().parents[1] / "policies"

REQUEST: dict[str, Any] = {
    "model": {
        "name": "scorer",
        "version": "1",
        "domain": "credit",
        "intended_use": "credit scoring",
    },
    "stage": "production",
    "groups": {
        "gender": {
            "female": {"tp": 410, "fp": 90, "tn": 1300, "fn": 200},
            "male": {"tp": 520, "fp": 110, "tn": 1210, "fn": 160},
        },
        "age_band": {
            "18-25": {"tp": 50, "fp": 30, "tn": 300, "fn": 90},
            "26-40": {"tp": 420, "fp": 80, "tn": 1100, "fn": 150},
            "41+": {"tp": 15, "fp": 2, "tn": 9, "fn": 4},
        },
    },
}


@pytest.fixture(scope="module")
def bundle() -> Bundle:
    return load_bundle(POLICIES)


@pytest.fixture(scope="module")
def assessed() -> dict[str, Any]:
    return dict(assess(parse_request(copy.deepcopy(REQUEST)), min_group_size=30))


def reference(
    facts: dict[str, Any], bundle: Bundle, previous: TierState | None
) -> tuple[Any, ...]:
    """conclude's steps as written plainly; the fields of the Outcome, in order."""
    risk = evaluate_risk(facts, bundle.risk_model, previous)
    facts = {**facts, "risk": risk.facts}
    evaluation = bundle.evaluate(facts)
    state = risk.state.after_verdict(evaluation.verdict)
    return (
        evaluation.verdict,
        state.tier,
        previous.tier if previous is not None else None,
        dict(risk.facts),
        [reason.to_dict() for reason in evaluation.reasons],
        facts,
        state,
        risk.explanation,
    )


def fields(outcome: Outcome) -> tuple[Any, ...]:
    return (
        outcome.verdict,
        outcome.tier,
        outcome.previous_tier,
        outcome.risk,
        outcome.reasons,
        outcome.facts,
        outcome.state,
        outcome.explanation,
    )


def exact(value: Any) -> Any:
    """Floats spelled out (NaN included) and key order kept."""
    if isinstance(value, float):
        return ("float", "nan" if math.isnan(value) else value.hex())
    if isinstance(value, dict):
        return ("dict", [(k, exact(v)) for k, v in value.items()])
    if isinstance(value, list | tuple):
        return (type(value).__name__, [exact(v) for v in value])
    return (type(value).__name__, repr(value))


figures = st.one_of(
    st.floats(min_value=-0.2, max_value=1.2), st.sampled_from([0.0, 0.05, 0.8, 1.0])
)
ROOTS = ["fairness", "drift", "uncertainty", "dataset", "model", "metrics", "stage"]


@st.composite
def varied(draw: Any, base: dict[str, Any]) -> dict[str, Any]:
    facts = copy.deepcopy(base)
    for record in facts["fairness"].values():
        for metric in ("min_impact_ratio", "equal_opportunity_difference"):
            if draw(st.booleans()):
                record[metric] = draw(figures)
        if draw(st.booleans()):
            record["four_fifths_failing"] = draw(
                st.lists(st.sampled_from(["a", "b", "18-25"]), max_size=3)
            )
    features = draw(st.dictionaries(st.sampled_from("abcdef"), figures, max_size=6))
    facts["drift"] = {
        "features": {name: {"psi": psi} for name, psi in features.items()},
        "max_psi": max(features.values(), default=0.0),
        "worst_feature": max(features, key=features.__getitem__, default="a"),
        "alerts": [],
        "critical_alerts": draw(st.sampled_from([0, 1, 2])),
    }
    facts["uncertainty"] = draw(
        st.fixed_dictionaries(
            {"threshold": st.sampled_from([0.05, 0.1])},
            optional={
                "mean_std": figures,
                "share_above_threshold": figures,
                "ece": figures,
            },
        )
    )
    facts["dataset"] = {"records_without_consent": draw(st.sampled_from([0, 3]))}
    if draw(st.booleans()):
        facts["dataset"]["consent_covered"] = draw(st.booleans())
        facts["dataset"]["failing_purposes"] = ["training"]
    facts["model"] = dict(facts["model"])
    facts["model"]["domain"] = draw(st.sampled_from(["credit", "chatbot", "retail"]))
    facts["model"]["intended_use"] = draw(
        st.sampled_from(["credit scoring", "social scoring", None])
    )
    facts["stage"] = draw(st.sampled_from(["production", "staging", None]))
    for root in draw(st.lists(st.sampled_from(ROOTS), max_size=2)):
        facts.pop(root, None)
    return facts


previous_states = st.one_of(
    st.none(),
    st.builds(
        TierState,
        st.sampled_from(["minimal", "limited", "high", "unacceptable", "severe"]),
        st.sampled_from(["minimal", "limited", "high"]),
        st.integers(0, 3),
        st.integers(0, 4),
    ),
)


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data(), previous=previous_states)
def test_conclude_matches_its_steps_composed(
    bundle: Bundle, assessed: dict[str, Any], data: Any, previous: TierState | None
) -> None:
    facts = data.draw(varied(assessed))

    got = fields(conclude(facts, bundle, previous))
    expected = reference(facts, bundle, previous)

    assert exact(got) == exact(expected)
    assert got[6] == expected[6] and type(got[6]) is TierState


def test_outcome_is_frozen_and_compares_by_fields(
    bundle: Bundle, assessed: dict[str, Any]
) -> None:
    import dataclasses

    outcome = conclude(assessed, bundle, None)

    with pytest.raises(dataclasses.FrozenInstanceError):
        outcome.verdict = "allow"  # type: ignore[misc]
    assert outcome == Outcome(*fields(outcome))
    assert dataclasses.asdict(outcome)["verdict"] == outcome.verdict
