"""The bias-impact score: known answers and its promised properties."""

from __future__ import annotations

import math
import struct
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from govsvc.risk.errors import RiskError
from govsvc.risk.model import DEFAULT_SCORE, MetricWeight, ScoreSpec
from govsvc.risk.score import bias_impact, check_score_spec

SPEC = ScoreSpec(
    metrics=(
        MetricWeight("demographic_parity_difference", 1.0, 0.05),
        MetricWeight("equalized_odds_difference", 1.0, 0.05),
        MetricWeight("demographic_parity_ratio", 0.5, 0.1),
    ),
    attribute_weights={"gender": 2.0},
)
METRICS = [m.metric for m in SPEC.metrics]


def _fairness(gaps: dict[str, list[float]]) -> dict[str, dict[str, float]]:
    """Attributes with gaps per SPEC metric; a ratio's gap g becomes ratio 1 - g."""
    out = {}
    for attribute, values in gaps.items():
        out[attribute] = {
            m: (1 - g if m.endswith("_ratio") else g)
            for m, g in zip(METRICS, values, strict=True)
        }
    return out


def test_bias_impact_worked_example() -> None:
    # docs/risk.md, "Worked example".
    fairness = {
        "gender": {
            "demographic_parity_difference": 0.065,
            "equalized_odds_difference": 0.0926,
            "demographic_parity_ratio": 0.794,
        },
        "age_band": {
            "demographic_parity_difference": 0.02,
            "equalized_odds_difference": 0.25,
            "demographic_parity_ratio": 0.95,
        },
    }

    score, components = bias_impact(fairness, SPEC)

    # Weights: gender 2*1, 2*1, 2*0.5; age_band 1, 1, 0.5; total 7.5.
    # Severities: 0.065/0.2, 0.0926/0.2, 0.206/0.4; 0.02/0.2, 1 (capped), 0.05/0.4.
    expected = [
        2 * 0.325,
        2 * 0.463,
        1 * (1 - 0.794) / 0.4,
        1 * 0.1,
        1 * 1.0,
        0.5 * (1 - 0.95) / 0.4,
    ]
    assert [c["contribution"] for c in components] == pytest.approx(
        [100 * e / 7.5 for e in expected], abs=1e-12
    )
    assert score == pytest.approx(100 * sum(expected) / 7.5, abs=1e-12)
    assert score == pytest.approx(43.38, abs=1e-9)  # 100 * 3.2535 / 7.5
    assert components[0] == {
        "attribute": "gender",
        "metric": "demographic_parity_difference",
        "gap": 0.065,
        "missing": False,
        "tolerance": 0.05,
        "weight": 2.0,
        "contribution": pytest.approx(100 * 0.65 / 7.5),
    }


def test_bias_impact_zero_gaps_score_zero() -> None:
    score, _ = bias_impact(_fairness({"a": [0, 0, 0], "b": [0, 0, 0]}), SPEC)

    assert score == 0.0


def test_bias_impact_saturated_gaps_score_hundred() -> None:
    score, _ = bias_impact(_fairness({"a": [1, 1, 1], "b": [0.2, 0.2, 0.4]}), SPEC)

    assert score == 100.0


def test_bias_impact_missing_metric_counts_saturated() -> None:
    fairness = _fairness({"a": [0, 0, 0]})
    del fairness["a"]["equalized_odds_difference"]

    score, components = bias_impact(fairness, SPEC)

    assert components[1]["missing"] is True and "gap" not in components[1]
    assert score == pytest.approx(100 * 1.0 / 2.5)


def test_bias_impact_no_attributes_has_no_score() -> None:
    assert bias_impact({}, SPEC) == (None, [])


def test_bias_impact_zero_weights_score_zero() -> None:
    spec = ScoreSpec(metrics=(MetricWeight("demographic_parity_difference", 0, 0.05),))

    score, components = bias_impact({"a": {"demographic_parity_difference": 0.5}}, spec)

    assert score == 0.0 and components[0]["contribution"] == 0.0


@pytest.mark.parametrize(
    ("spec", "match"),
    [
        (
            ScoreSpec((MetricWeight("accuracy", 1, 0.1),)),
            r"'accuracy' is not a fairness",
        ),
        (
            ScoreSpec((MetricWeight("demographic_parity_difference", 1, 0),)),
            r"tolerance must be a positive number, found 0",
        ),
        (
            ScoreSpec((MetricWeight("demographic_parity_difference", -1, 0.1),)),
            r"weight must be zero or more, found -1",
        ),
        (
            ScoreSpec(DEFAULT_SCORE.metrics, attribute_weights={"x": math.nan}),
            r"attribute weights must be zero or more",
        ),
    ],
)
def test_check_score_spec_refuses(spec: ScoreSpec, match: str) -> None:
    with pytest.raises(RiskError, match=match):
        check_score_spec(spec)


# Properties. Gaps in [0, 1]; attributes a0..a3 with weights from the strategy.
gap = st.floats(min_value=0, max_value=1, allow_nan=False)
gaps = st.dictionaries(
    st.sampled_from(["a0", "a1", "gender", "a3"]),
    st.lists(gap, min_size=3, max_size=3),
    min_size=1,
)


def _bits(x: Any) -> bytes:
    return struct.pack("<d", x)


@settings(max_examples=200, deadline=None)
@given(gaps)
def test_bias_impact_bounded(g: dict[str, list[float]]) -> None:
    score, components = bias_impact(_fairness(g), SPEC)

    assert score is not None and 0.0 <= score <= 100.0
    assert all(c["contribution"] >= 0 for c in components)


@settings(max_examples=200, deadline=None)
@given(gaps, st.data())
def test_bias_impact_monotone_in_every_gap(
    g: dict[str, list[float]], data: Any
) -> None:
    attribute = data.draw(st.sampled_from(sorted(g)))
    index = data.draw(st.integers(0, 2))
    bigger = {a: list(v) for a, v in g.items()}
    bigger[attribute][index] = data.draw(
        st.floats(min_value=g[attribute][index], max_value=1)
    )

    before, _ = bias_impact(_fairness(g), SPEC)
    after, _ = bias_impact(_fairness(bigger), SPEC)

    assert before is not None and after is not None
    assert after >= before


@settings(max_examples=100, deadline=None)
@given(gaps)
def test_bias_impact_reproducible_to_the_bit_in_any_order(
    g: dict[str, list[float]],
) -> None:
    forward, _ = bias_impact(_fairness(g), SPEC)
    backward, _ = bias_impact(_fairness(dict(reversed(list(g.items())))), SPEC)

    assert _bits(forward) == _bits(backward)


@settings(max_examples=100, deadline=None)
@given(gaps)
def test_bias_impact_components_add_up(g: dict[str, list[float]]) -> None:
    score, components = bias_impact(_fairness(g), SPEC)

    assert score == pytest.approx(
        math.fsum(c["contribution"] for c in components), abs=1e-9
    )
    assert len(components) == len(g) * len(SPEC.metrics)


@settings(max_examples=100, deadline=None)
@given(gaps)
def test_bias_impact_positive_when_a_gap_is(g: dict[str, list[float]]) -> None:
    score, components = bias_impact(_fairness(g), SPEC)

    # Gaps as the score sees them (a ratio's 1 - (1 - g) may round to 0).
    if any(c["gap"] > 0 for c in components):
        assert (score is not None and score > 0) or min_positive(components) < 1e-300
    else:
        assert score == 0.0


def min_positive(components: list[dict[str, Any]]) -> float:
    # A subnormal gap (5e-324) can underflow to a zero contribution.
    return min((c["gap"] for c in components if c["gap"] > 0), default=1.0)
