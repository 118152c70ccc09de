"""The shipped bundle (policies/) on complete facts and on facts with one missing."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest

from govsvc.policy import load_bundle

BUNDLE = load_bundle("policies")


def complete_facts() -> dict[str, Any]:
    attribute = {
        "min_impact_ratio": 0.95,
        "equal_opportunity_difference": 0.01,
        "false_positive_rate_difference": 0.01,
        "four_fifths_failing": [],
        "low_support_groups": [],
    }
    return {
        "model": {"domain": "forecasting", "intended_use": "demand planning"},
        "stage": "production",
        "dataset": {
            "records_without_consent": 0,
            "consent_covered": True,
            "failing_purposes": [],
        },
        "protected_attributes": ["gender", "race"],
        "fairness": {"gender": dict(attribute), "race": dict(attribute)},
        "drift": {
            "features": {"income": {"psi": 0.02}, "age": {"psi": 0.03}},
            "max_psi": 0.03,
            "worst_feature": "age",
            "critical_alerts": 0,
        },
        "uncertainty": {
            "mean_std": 0.04,
            "threshold": 0.08,
            "share_above_threshold": 0.02,
            "ece": 0.01,
        },
        "risk": {
            "tier": "minimal",
            "base_tier": "minimal",
            "exposure": 0.1,
            "bias_impact": 5,
            "consecutive_failures": 0,
        },
    }


def leaf_paths(value: Any, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    if isinstance(value, dict):
        for key, child in value.items():
            yield from leaf_paths(child, (*prefix, key))
    else:
        yield prefix


def test_shipped_bundle_allows_complete_clean_facts() -> None:
    evaluation = BUNDLE.evaluate(complete_facts())

    assert (evaluation.verdict, evaluation.reasons) == ("allow", ())


@pytest.mark.parametrize(
    "path", list(leaf_paths(complete_facts())), ids=lambda p: ".".join(p)
)
def test_shipped_bundle_names_each_missing_fact(path: tuple[str, ...]) -> None:
    facts = copy.deepcopy(complete_facts())
    parent = facts
    for key in path[:-1]:
        parent = parent[key]
    del parent[path[-1]]

    evaluation = BUNDLE.evaluate(facts)

    messages = [r.message for r in evaluation.reasons]
    assert not any(m.startswith("cannot evaluate") for m in messages), messages
    for reason in evaluation.reasons:
        if reason.missing_fact is not None:
            assert reason.effect in ("review", "deny")
            assert reason.missing_fact.startswith(path[0])
