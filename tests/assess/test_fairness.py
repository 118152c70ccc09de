"""Fairness facts, cross-checked against fairlearn on generated data."""

from __future__ import annotations

import random
import warnings
from typing import Any

import numpy as np
import pytest
import sklearn.metrics as skm
from fairlearn import metrics as flm
from hypothesis import given, settings
from hypothesis import strategies as st

from govsvc.assess.fairness import _general_facts, attribute_facts, group_rates
from govsvc.assess.request import GroupCounts
from govsvc.facts import ATTRIBUTE_METRICS, GROUP_RATES

TOLERANCE = 1e-12


def _counts(tp: int, fp: int, tn: int, fn: int) -> GroupCounts:
    return GroupCounts(tp=tp, fp=fp, tn=tn, fn=fn)


def _expand(groups: dict[str, GroupCounts]) -> tuple[Any, Any, Any]:
    """Per-group counts as y_true, y_pred and sensitive-feature arrays."""
    y_true: list[int] = []
    y_pred: list[int] = []
    sensitive: list[str] = []
    for name, c in groups.items():
        for truth, pred, n in ((1, 1, c.tp), (0, 1, c.fp), (0, 0, c.tn), (1, 0, c.fn)):
            y_true += [truth] * n
            y_pred += [pred] * n
            sensitive += [name] * n
    return np.array(y_true), np.array(y_pred), np.array(sensitive)


def _random_groups(seed: int, n_groups: int) -> dict[str, GroupCounts]:
    rng = random.Random(seed)
    return {
        f"g{i}": _counts(*(rng.randint(1, 150) for _ in range(4)))
        for i in range(n_groups)
    }


def _npv(y_true: Any, y_pred: Any) -> float:
    tn, _fp, fn, _tp = skm.confusion_matrix(y_true, y_pred, labels=[0, 1]).ravel()
    return float(tn / (tn + fn))


def _for(y_true: Any, y_pred: Any) -> float:
    return 1 - _npv(y_true, y_pred)


def _fdr(y_true: Any, y_pred: Any) -> float:
    return float(1 - skm.precision_score(y_true, y_pred))


@pytest.mark.parametrize(
    ("seed", "n_groups"), [(1, 2), (2, 3), (3, 5), (4, 8), (5, 10)]
)
def test_attribute_facts_match_fairlearn(seed: int, n_groups: int) -> None:
    groups = _random_groups(seed, n_groups)
    y_true, y_pred, sf = _expand(groups)
    ours = attribute_facts(groups, min_group_size=30)

    # Per group: fairlearn's MetricFrame with its own and scikit-learn's metrics.
    frame = flm.MetricFrame(
        metrics={
            "count": flm.count,
            "base_rate": lambda t, p: flm.mean_prediction(p, t),
            "selection_rate": flm.selection_rate,
            "tpr": flm.true_positive_rate,
            "fpr": flm.false_positive_rate,
            "fnr": flm.false_negative_rate,
            "tnr": flm.true_negative_rate,
            "ppv": skm.precision_score,
            "npv": _npv,
            "fdr": _fdr,
            "for": _for,
            "accuracy": skm.accuracy_score,
        },
        y_true=y_true,
        y_pred=y_pred,
        sensitive_features=sf,
    )
    for group in groups:
        for rate in GROUP_RATES:
            expected = frame.by_group.loc[group, rate]
            assert ours["groups"][group][rate] == pytest.approx(expected, abs=TOLERANCE)

    # Between groups: fairlearn's named functions, and MetricFrame for the rest.
    kw = {"y_true": y_true, "y_pred": y_pred, "sensitive_features": sf}
    expected = {
        "demographic_parity_difference": flm.demographic_parity_difference(**kw),
        "demographic_parity_ratio": flm.demographic_parity_ratio(**kw),
        "equalized_odds_difference": flm.equalized_odds_difference(**kw),
        "equalized_odds_ratio": flm.equalized_odds_ratio(**kw),
        "equal_opportunity_difference": flm.equal_opportunity_difference(**kw),
        "equal_opportunity_ratio": flm.equal_opportunity_ratio(**kw),
        "false_positive_rate_difference": flm.false_positive_rate_difference(**kw),
        "false_negative_rate_difference": flm.false_negative_rate_difference(**kw),
        "predictive_parity_difference": frame.difference()["ppv"],
    }
    assert set(expected) == set(ATTRIBUTE_METRICS)
    for metric, value in expected.items():
        assert ours[metric] == pytest.approx(value, abs=TOLERANCE), metric

    # Four-fifths: each selection rate over the highest.
    best = frame.group_max()["selection_rate"]
    for group in groups:
        ratio = frame.by_group.loc[group, "selection_rate"] / best
        assert ours["impact_ratios"][group] == pytest.approx(ratio, abs=TOLERANCE)
    assert ours["min_impact_ratio"] == pytest.approx(
        flm.demographic_parity_ratio(**kw), abs=TOLERANCE
    )


def test_group_rates_known_answer() -> None:
    rates = group_rates(_counts(tp=410, fp=90, tn=1300, fn=200), min_group_size=30)

    assert rates == {
        "count": 2000,
        "base_rate": 610 / 2000,
        "selection_rate": 500 / 2000,
        "tpr": 410 / 610,
        "fnr": 200 / 610,
        "fpr": 90 / 1390,
        "tnr": 1300 / 1390,
        "ppv": 410 / 500,
        "fdr": 90 / 500,
        "npv": 1300 / 1500,
        "for": 200 / 1500,
        "accuracy": 1710 / 2000,
        "low_support": False,
    }


def test_group_rates_no_positives_leaves_rates_undefined() -> None:
    rates = group_rates(_counts(tp=0, fp=3, tn=40, fn=0), min_group_size=30)

    assert "tpr" not in rates and "fnr" not in rates
    assert rates["fpr"] == 3 / 43
    assert rates["base_rate"] == 0.0


def test_group_rates_no_predicted_positives_leaves_ppv_undefined() -> None:
    rates = group_rates(_counts(tp=0, fp=0, tn=40, fn=5), min_group_size=30)

    assert "ppv" not in rates and "fdr" not in rates
    assert rates["selection_rate"] == 0.0


def test_attribute_facts_undefined_rate_removes_between_group_metric() -> None:
    groups = {
        "a": _counts(tp=10, fp=5, tn=50, fn=5),
        "b": _counts(tp=0, fp=5, tn=50, fn=0),  # no actual positives: no TPR
    }

    facts = attribute_facts(groups, min_group_size=1)

    for metric in (
        "equal_opportunity_difference",
        "equal_opportunity_ratio",
        "equalized_odds_difference",
        "equalized_odds_ratio",
        "false_negative_rate_difference",
    ):
        assert metric not in facts, metric
    assert facts["false_positive_rate_difference"] == pytest.approx(5 / 55 - 5 / 55)


def test_attribute_facts_fairlearn_reports_zero_where_we_report_absent() -> None:
    # Documented divergence: fairlearn's TPR of a group with no positives is 0.
    groups = {
        "a": _counts(tp=10, fp=5, tn=50, fn=5),
        "b": _counts(tp=0, fp=5, tn=50, fn=0),
    }
    y_true, y_pred, sf = _expand(groups)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fl = flm.equal_opportunity_difference(y_true, y_pred, sensitive_features=sf)

    assert fl == pytest.approx(10 / 15)
    assert "equal_opportunity_difference" not in attribute_facts(groups, 1)


def test_attribute_facts_nobody_selected_has_no_ratios() -> None:
    groups = {
        "a": _counts(tp=0, fp=0, tn=50, fn=5),
        "b": _counts(tp=0, fp=0, tn=40, fn=9),
    }

    facts = attribute_facts(groups, min_group_size=1)

    assert facts["demographic_parity_difference"] == 0.0
    assert "demographic_parity_ratio" not in facts
    assert "impact_ratios" not in facts
    assert "min_impact_ratio" not in facts
    assert "four_fifths_failing" not in facts


@pytest.mark.parametrize(
    ("selected_b", "failing"),
    [
        (40, []),  # 0.40 / 0.50 = 0.8 exactly: not under four-fifths
        (39, ["b"]),  # 0.39 / 0.50 = 0.78
        (50, []),
    ],
)
def test_attribute_facts_four_fifths_boundary(
    selected_b: int, failing: list[str]
) -> None:
    groups = {
        "a": _counts(tp=50, fp=0, tn=50, fn=0),  # selection rate 0.5
        "b": _counts(tp=selected_b, fp=0, tn=100 - selected_b, fn=0),
    }

    facts = attribute_facts(groups, min_group_size=1)

    assert facts["four_fifths_failing"] == failing
    assert facts["impact_ratios"]["a"] == 1.0


def test_attribute_facts_low_support_group_is_flagged_not_dropped() -> None:
    groups = {
        "big": _counts(tp=100, fp=20, tn=300, fn=30),
        "small": _counts(tp=5, fp=1, tn=3, fn=1),
    }

    facts = attribute_facts(groups, min_group_size=30)

    assert facts["low_support_groups"] == ["small"]
    assert facts["groups"]["small"]["low_support"] is True
    assert facts["groups"]["big"]["low_support"] is False
    assert facts["demographic_parity_difference"] == pytest.approx(0.6 - 120 / 450)


def test_attribute_facts_min_group_size_is_inclusive() -> None:
    groups = {"a": _counts(10, 10, 5, 5), "b": _counts(10, 10, 5, 4)}

    facts = attribute_facts(groups, min_group_size=30)

    assert facts["low_support_groups"] == ["b"]


group = (
    st.tuples(*(st.integers(0, 500) for _ in range(4)))
    .filter(lambda t: sum(t) > 0)
    .map(lambda t: _counts(*t))
)


@settings(max_examples=200, deadline=None)
@given(st.lists(group, min_size=2, max_size=8))
def test_attribute_facts_properties(counts: list[GroupCounts]) -> None:
    groups = {f"g{i}": c for i, c in enumerate(counts)}

    facts = attribute_facts(groups, min_group_size=100)

    for metric in ATTRIBUTE_METRICS:
        if metric in facts:  # differences and ratios of rates all lie in [0, 1]
            assert 0 <= facts[metric] <= 1, metric
    # A between-groups metric is present exactly when every group has its rate.
    every = {r: all(r in g for g in facts["groups"].values()) for r in ("tpr", "ppv")}
    assert ("equal_opportunity_difference" in facts) == every["tpr"]
    assert ("predictive_parity_difference" in facts) == every["ppv"]
    if "impact_ratios" in facts:
        assert max(facts["impact_ratios"].values()) == 1.0
        assert set(facts["four_fifths_failing"]) == {
            g for g, r in facts["impact_ratios"].items() if r < 0.8
        }
    assert facts["low_support_groups"] == [
        name for name, c in groups.items() if c.tp + c.fp + c.tn + c.fn < 100
    ]


# attribute_facts answers the common case, every rate defined in every group, in a
# shorter way than _general_facts, which handles every case; the two must agree.
near_four_fifths = st.sampled_from(
    [(40, 10, 50, 0), (40, 0, 60, 0), (32, 8, 60, 0), (4, 0, 1, 0), (5, 0, 0, 5)]
).map(lambda t: _counts(*t))
common_group = st.tuples(*(st.integers(1, 10**6) for _ in range(4))).map(
    lambda t: _counts(*t)
)
any_group = st.one_of(common_group, group, near_four_fifths)


@settings(max_examples=400, deadline=None)
@given(
    st.lists(st.one_of(common_group, any_group), min_size=2, max_size=10),
    st.sampled_from([1, 100, 10**6]),
)
def test_attribute_facts_common_case_as_the_general_one(
    counts: list[GroupCounts], min_group_size: int
) -> None:
    groups = {f"g{i}": c for i, c in enumerate(counts)}
    per_group = {n: group_rates(c, min_group_size) for n, c in groups.items()}

    facts = attribute_facts(groups, min_group_size)
    general = _general_facts(groups, per_group)

    assert facts == general
    assert list(facts) == list(general)  # the same keys in the same order
