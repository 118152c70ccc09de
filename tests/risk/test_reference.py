"""`govsvc.risk` against its definitions written straight (tests/risk/reference.py).

The package precomputes what a risk model implies (once per model), builds each
score component in one pass and writes min and max out as comparisons. These tests
generate fairness, drift, uncertainty and metric facts (NaN, infinities, negative
and integer values, absent metrics included), score and exposure specs, tier rules
and previous states, and require the same results to the bit and in the same key
order.
"""

from __future__ import annotations

import math
from dataclasses import replace
from types import MappingProxyType
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from govsvc.facts import ATTRIBUTE_METRICS, RISK_COMPONENTS, MissingFact
from govsvc.risk import RiskError, TierState, evaluate_risk
from govsvc.risk.exposure import components, exposure, performance_loss
from govsvc.risk.model import (
    EscalationRule,
    ExposureSpec,
    MetricWeight,
    RiskModel,
    ScoreSpec,
    SourceRef,
    TierRule,
)
from govsvc.risk.score import bias_impact

from . import reference


def exact(value: Any) -> Any:
    """A value with every float spelled out (NaN included) and every key order kept,
    so that == means the same to the bit and in the same order."""
    if isinstance(value, float):
        return ("float", "nan" if math.isnan(value) else value.hex())
    if isinstance(value, dict):
        return ("dict", [(k, exact(v)) for k, v in value.items()])
    if isinstance(value, list | tuple):
        return (type(value).__name__, [exact(v) for v in value])
    return (type(value).__name__, value)


numbers = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(min_value=-0.5, max_value=1.5),
    st.integers(-2, 3),
    st.sampled_from([0.0, -0.0, 1.0, 0.05, 0.2, 1e-320]),
)
ATTRIBUTES = ["gender", "age", "race", "region"]
fairness = st.dictionaries(
    st.sampled_from(ATTRIBUTES),
    st.dictionaries(st.sampled_from(ATTRIBUTE_METRICS), numbers),
    max_size=4,
)
weights = st.one_of(
    st.floats(min_value=0, max_value=10), st.sampled_from([0.0, 1.0, 0.5])
)
score_specs = st.builds(
    ScoreSpec,
    metrics=st.lists(
        st.builds(
            MetricWeight,
            st.sampled_from(ATTRIBUTE_METRICS),
            weights,
            st.floats(min_value=1e-6, max_value=1).filter(lambda t: t > 0),
        ),
        max_size=5,
    ).map(tuple),
    attribute_weights=st.dictionaries(st.sampled_from(ATTRIBUTES), weights),
    default_attribute_weight=weights,
)
exposure_specs = st.builds(
    ExposureSpec, st.dictionaries(st.sampled_from(RISK_COMPONENTS), weights)
)


@st.composite
def other_facts(draw: Any) -> dict[str, Any]:
    """Drift, uncertainty, metrics and baseline, each present or not."""
    facts: dict[str, Any] = {}
    if draw(st.booleans()):
        facts["drift"] = draw(st.fixed_dictionaries({}, optional={"max_psi": numbers}))
    if draw(st.booleans()):
        facts["uncertainty"] = draw(
            st.fixed_dictionaries(
                {},
                optional={
                    "share_above_threshold": numbers,
                    "mean_std": numbers,
                    "variance": st.floats(min_value=0, max_value=4),
                    "threshold": numbers.filter(lambda t: t != 0),
                },
            )
        )
    names = st.sampled_from(["auc", "f1", "accuracy"])
    if draw(st.booleans()):
        facts["metrics"] = draw(st.dictionaries(names, numbers))
    if draw(st.booleans()):
        facts["baseline"] = {"metrics": draw(st.dictionaries(names, numbers))}
    return facts


@settings(max_examples=300, deadline=None)
@given(fairness, score_specs)
def test_bias_impact_matches_reference(
    facts: dict[str, dict[str, Any]], spec: ScoreSpec
) -> None:
    assert exact(bias_impact(facts, spec)) == exact(reference.bias_impact(facts, spec))


@settings(max_examples=300, deadline=None)
@given(other_facts(), st.one_of(st.none(), numbers))
def test_components_match_reference(facts: dict[str, Any], score: Any) -> None:
    try:
        expected = reference.components(facts, score)
    except (ZeroDivisionError, TypeError, ValueError) as exc:
        # The same inputs must fail the same way.
        try:
            components(facts, score)
        except type(exc):
            return
        raise AssertionError(f"expected {type(exc).__name__}") from None

    assert exact(components(facts, score)) == exact(expected)
    assert exact(performance_loss(facts)) == exact(reference.performance_loss(facts))


@settings(max_examples=300, deadline=None)
@given(
    st.fixed_dictionaries(
        {name: st.one_of(st.none(), numbers) for name in RISK_COMPONENTS}
    ),
    exposure_specs,
)
def test_exposure_matches_reference(
    parts: dict[str, float | None], spec: ExposureSpec
) -> None:
    assert exact(exposure(parts, spec)) == exact(reference.exposure(parts, spec))


# Tier rules over two facts the generated requests vary; a condition may raise
# MissingFact, which places or raises fail closed.
def _reads(path: str, threshold: float) -> Any:
    def condition(facts: Any) -> bool:
        node = facts
        for part in path.split("."):
            if not isinstance(node, dict) or part not in node:
                raise MissingFact(path)
            node = node[part]
        return bool(node > threshold)

    return condition


TIERS = ("minimal", "limited", "high", "unacceptable")
PATHS = ["risk.exposure", "risk.bias_impact", "drift.max_psi", "risk.base_tier_rank"]
tier_rules = st.builds(
    lambda tier, path, threshold, line: TierRule(
        tier, _reads(path, threshold), SourceRef("t.policy", line, "p"), path
    ),
    st.sampled_from(TIERS),
    st.sampled_from(PATHS),
    st.floats(0, 1),
    st.integers(1, 99),
)
escalations = st.builds(
    lambda steps, path, threshold, line: EscalationRule(
        steps, _reads(path, threshold), SourceRef("t.policy", line), path
    ),
    st.integers(1, 3),
    st.sampled_from(PATHS),
    st.floats(0, 1),
    st.integers(1, 99),
)
models = st.builds(
    RiskModel,
    placement=st.lists(tier_rules, max_size=3).map(tuple),
    escalation=st.lists(escalations, max_size=2).map(tuple),
    clean_evaluations_to_lower=st.integers(1, 3),
    score=score_specs,
    exposure=exposure_specs,
)
states = st.one_of(
    st.none(),
    st.builds(
        TierState,
        st.sampled_from([*TIERS, "severe"]),
        st.sampled_from(TIERS),
        st.integers(0, 4),
        st.integers(0, 4),
    ),
)
finite = st.floats(min_value=-0.5, max_value=1.5)


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(ATTRIBUTES),
        st.dictionaries(st.sampled_from(ATTRIBUTE_METRICS), finite),
        max_size=4,
    ),
    st.booleans(),
    other_facts().filter(
        lambda f: all(
            not isinstance(v, float) or math.isfinite(v)
            for part in ("drift", "uncertainty")
            for v in f.get(part, {}).values()
        )
    ),
    models,
    states,
)
def test_evaluate_risk_matches_reference(
    scores: dict[str, dict[str, float]],
    with_fairness: bool,
    facts: dict[str, Any],
    model: RiskModel,
    previous: TierState | None,
) -> None:
    if with_fairness:
        facts = {**facts, "fairness": scores}
    try:
        expected = reference.evaluate_risk(facts, model, previous)
    except (ZeroDivisionError, TypeError, ValueError):
        return  # nonsense facts the reference cannot read either

    result = evaluate_risk(facts, model, previous)

    got = (result.facts, result.state, result.tier_changed, result.explanation)
    assert exact(got[0]) == exact(expected[0])
    assert got[1:3] == expected[1:3]
    assert exact(got[3]) == exact(expected[3])


def test_evaluate_risk_same_model_twice_same_result() -> None:
    # The second evaluation reads the model's cached checked form.
    model = RiskModel(
        placement=(
            TierRule(
                "high", _reads("risk.exposure", 0.1), SourceRef("t.policy", 1), "x"
            ),
        )
    )
    facts = {"fairness": {"gender": {"demographic_parity_difference": 0.1}}}

    first = evaluate_risk(facts, model)
    second = evaluate_risk(facts, model)

    assert exact(first.facts) == exact(second.facts)
    assert first.explanation == second.explanation


def test_evaluate_risk_refuses_a_bad_model_every_time() -> None:
    # A model that fails its checks is not cached as checked.
    model = RiskModel(tiers=("low", "low"))

    for _ in range(2):
        with pytest.raises(RiskError, match=r"must list distinct tiers"):
            evaluate_risk({}, model)


state_values = st.one_of(
    st.sampled_from(["high", "", "minimal"]),
    st.integers(-1, 3),
    st.booleans(),
    st.none(),
    st.floats(0, 2),
)
state_dicts = st.dictionaries(
    st.sampled_from(
        ["tier", "base_tier", "clean_streak", "consecutive_failures", "other"]
    ),
    state_values,
)


@settings(max_examples=300, deadline=None)
@given(st.one_of(state_dicts, state_dicts.map(lambda d: MappingProxyType(d))))
def test_tier_state_from_dict_matches_careful_reading(data: Any) -> None:
    # from_dict takes a short way for plain dicts of tier names and counts; the
    # careful reading (`_checked`) must agree on every input, errors included.
    try:
        expected: Any = TierState._checked(data)
    except RiskError as exc:
        with pytest.raises(RiskError) as raised:
            TierState.from_dict(data)
        assert str(raised.value) == str(exc)
        return

    got = TierState.from_dict(data)

    assert got == expected and type(got) is TierState
    assert [type(v) for v in vars(got).values()] == [
        type(v) for v in vars(expected).values()
    ]


@pytest.mark.parametrize("verdict", ["allow", "warn", "review", "deny"])
def test_tier_state_after_verdict_matches_replace(verdict: str) -> None:
    state = TierState("high", "limited", clean_streak=2, consecutive_failures=1)
    expected = {
        "deny": replace(state, consecutive_failures=2, clean_streak=0),
        "allow": replace(state, consecutive_failures=0),
        "warn": replace(state, consecutive_failures=0),
        "review": state,
    }[verdict]

    assert state.after_verdict(verdict) == expected
