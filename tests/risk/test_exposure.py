"""The composite exposure and its components."""

from __future__ import annotations

import math
from typing import Any

import pytest

from govsvc.risk.errors import RiskError
from govsvc.risk.exposure import (
    check_exposure_spec,
    components,
    exposure,
    performance_loss,
)
from govsvc.risk.model import DEFAULT_EXPOSURE, ExposureSpec


@pytest.mark.parametrize(
    ("metrics", "baseline", "expected"),
    [
        ({"auc": 0.91}, {"auc": 0.92}, (0.92 - 0.91) / 0.92),
        ({"auc": 0.95}, {"auc": 0.92}, 0.0),  # an improvement is no loss
        ({"auc": 0.5, "f1": 0.1}, {"auc": 1.0, "f1": 0.8}, 0.875),  # the largest
        ({"auc": -1.0}, {"auc": 0.5}, 1.0),  # capped at 1
        ({"auc": 0.9}, {"f1": 0.8}, None),  # nothing in common
        ({"auc": 0.9}, {"auc": 0.0}, None),  # no relative drop from 0
    ],
)
def test_performance_loss(
    metrics: dict[str, float], baseline: dict[str, float], expected: float | None
) -> None:
    facts = {"metrics": metrics, "baseline": {"metrics": baseline}}

    assert performance_loss(facts) == expected


def test_components_scaling() -> None:
    facts: dict[str, Any] = {
        "drift": {"max_psi": 0.2},
        "uncertainty": {
            "mean_std": 0.05,
            "threshold": 0.1,
            "share_above_threshold": 0.1,
        },
        "metrics": {"auc": 0.9},
        "baseline": {"metrics": {"auc": 0.9}},
    }

    parts = components(facts, bias_impact=25.0)

    assert parts == {
        "bias_impact": 0.25,
        "drift": 0.4,  # 0.2 / 0.5
        "uncertainty": 0.25,  # max(0.1, 0.05 / (2 * 0.1))
        "performance_loss": 0.0,
    }


def test_components_uncertainty_from_variance() -> None:
    parts = components({"uncertainty": {"variance": 0.04, "threshold": 0.1}}, None)

    assert parts["uncertainty"] == 1.0  # sqrt(0.04) = 0.2 = 2 thresholds


def test_components_absent_facts_are_none() -> None:
    assert components({}, None) == dict.fromkeys(
        ("bias_impact", "drift", "uncertainty", "performance_loss")
    )


def test_exposure_weighted_mean() -> None:
    parts = {
        "bias_impact": 0.5,
        "drift": 0.2,
        "uncertainty": 0.0,
        "performance_loss": 0.1,
    }

    value, explained = exposure(parts, DEFAULT_EXPOSURE)

    assert value == pytest.approx(0.4 * 0.5 + 0.3 * 0.2 + 0.15 * 0.1)
    assert [e["component"] for e in explained] == [
        "bias_impact",
        "drift",
        "uncertainty",
        "performance_loss",
    ]


def test_exposure_missing_component_counts_as_one() -> None:
    parts: dict[str, float | None] = {
        "bias_impact": 0.0,
        "drift": None,
        "uncertainty": 0.0,
        "performance_loss": 0.0,
    }

    value, explained = exposure(parts, DEFAULT_EXPOSURE)

    assert value == pytest.approx(0.3)
    assert explained[1] == {
        "step": "exposure",
        "component": "drift",
        "value": 1.0,
        "weight": 0.3,
        "missing": True,
    }


def test_exposure_weights_need_not_sum_to_one() -> None:
    spec = ExposureSpec(weights={"bias_impact": 2.0, "drift": 2.0})

    value, _ = exposure({"bias_impact": 1.0, "drift": 0.0}, spec)

    assert value == 0.5


def test_exposure_all_weights_zero_is_zero() -> None:
    value, _ = exposure(dict.fromkeys(("drift",), None), ExposureSpec(weights={}))

    assert value == 0.0


@pytest.mark.parametrize(
    ("weights", "match"),
    [
        ({"bias": 1.0}, r"exposure weight 'bias' names no component"),
        ({"drift": -0.1}, r"exposure weight drift must be zero or more, found -0.1"),
        ({"drift": math.inf}, r"must be zero or more, found inf"),
    ],
)
def test_check_exposure_spec_refuses(weights: dict[str, float], match: str) -> None:
    with pytest.raises(RiskError, match=match):
        check_exposure_spec(ExposureSpec(weights=weights))
