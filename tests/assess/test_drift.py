"""Drift statistics, against scipy and known answers."""

from __future__ import annotations

import collections
import functools
import itertools
import math
import operator
import random
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from scipy.spatial import distance

from govsvc.assess.drift import (
    EPSILON,
    band,
    binned_statistics,
    drift_facts,
    feature_facts,
)
from govsvc.assess.request import Drift, FeatureDrift

TOLERANCE = 1e-12


def _smoothed(counts: list[float]) -> np.ndarray:
    p = np.array(counts, dtype=float) / sum(counts)
    p = np.where(p < EPSILON, EPSILON, p)
    return p / p.sum()


@pytest.mark.parametrize("seed", range(6))
def test_binned_statistics_match_scipy(seed: int) -> None:
    rng = random.Random(seed)
    bins = rng.randint(2, 12)
    reference = [float(rng.randint(0, 500)) for _ in range(bins)]
    current = [float(rng.randint(0, 500)) for _ in range(bins)]
    reference[0] += 1  # never all zero
    current[-1] += 1
    if seed % 2:
        current[1] = 0.0  # an empty bin exercises the floor

    facts = binned_statistics(reference, current)

    p, q = _smoothed(current), _smoothed(reference)
    assert facts["kl"] == pytest.approx(stats.entropy(p, q), abs=TOLERANCE)
    assert facts["psi"] == pytest.approx(
        stats.entropy(p, q) + stats.entropy(q, p), abs=TOLERANCE
    )
    assert facts["js"] == pytest.approx(
        distance.jensenshannon(current, reference), abs=TOLERANCE
    )
    cp = np.cumsum(current) / sum(current)
    cq = np.cumsum(reference) / sum(reference)
    assert facts["ks"] == pytest.approx(np.max(np.abs(cp - cq)), abs=TOLERANCE)


# Known answers, worked by hand (natural logarithms).
KNOWN = [
    # reference, current, psi, kl, js, ks
    ([1, 1], [1, 1], 0.0, 0.0, 0.0, 0.0),
    (
        [1, 1],
        [3, 1],
        0.25 * math.log(1.5) - 0.25 * math.log(0.5),
        0.75 * math.log(1.5) + 0.25 * math.log(0.5),
        math.sqrt(
            (0.75 * math.log(0.75 / 0.625) + 0.25 * math.log(0.25 / 0.375)) / 2
            + (0.5 * math.log(0.5 / 0.625) + 0.5 * math.log(0.5 / 0.375)) / 2
        ),
        0.25,
    ),
    # Disjoint supports: JS reaches its bound sqrt(ln 2), KS reaches 1.
    ([1, 0], [0, 1], None, None, math.sqrt(math.log(2)), 1.0),
]


@pytest.mark.parametrize(("reference", "current", "psi", "kl", "js", "ks"), KNOWN)
def test_binned_statistics_known_answers(
    reference: list[float],
    current: list[float],
    psi: float | None,
    kl: float | None,
    js: float,
    ks: float,
) -> None:
    facts = binned_statistics(reference, current)

    if psi is not None:
        assert facts["psi"] == pytest.approx(psi, abs=TOLERANCE)
    if kl is not None:
        assert facts["kl"] == pytest.approx(kl, abs=TOLERANCE)
    assert facts["js"] == pytest.approx(js, abs=TOLERANCE)
    assert facts["ks"] == pytest.approx(ks, abs=TOLERANCE)


def test_binned_statistics_empty_bin_stays_finite() -> None:
    facts = binned_statistics([1, 0], [0, 1])

    # Floored to (1, e) and (e, 1), renormalised by 1 + e; the log ratio is ln(1/e).
    e = EPSILON
    expected_psi = 2 * (1 - e) / (1 + e) * math.log(1 / e)
    assert facts["psi"] == pytest.approx(expected_psi, rel=1e-12)
    assert math.isfinite(facts["kl"])
    assert facts["band"] == "major"


@pytest.mark.parametrize(
    ("psi", "expected"),
    [(0.0, "stable"), (0.0999, "stable"), (0.1, "moderate"), (0.2499, "moderate"),
     (0.25, "major"), (3.0, "major")],
)  # fmt: skip
def test_band_thresholds(psi: float, expected: str) -> None:
    assert band(psi) == expected


def test_feature_facts_raw_values_binned_and_exact_ks() -> None:
    rng = random.Random(7)
    reference = [rng.gauss(0, 1) for _ in range(300)]
    current = [rng.gauss(0.4, 1.2) for _ in range(200)]
    edges = [-2.0, -1.0, 0.0, 1.0, 2.0]

    facts = feature_facts(
        FeatureDrift(reference_values=reference, current_values=current, edges=edges)
    )

    # Outliers are clamped into the end bins, unlike numpy.histogram which drops them.
    clamp = [min(max(v, -2.0), 2.0) for v in current + reference]
    cur = np.histogram(clamp[:200], bins=edges)[0]
    ref = np.histogram(clamp[200:], bins=edges)[0]
    assert cur.sum() == 200 and ref.sum() == 300
    binned = binned_statistics(list(ref), list(cur))
    assert facts["psi"] == pytest.approx(binned["psi"], abs=TOLERANCE)
    assert facts["js"] == pytest.approx(binned["js"], abs=TOLERANCE)
    assert facts["ks"] == pytest.approx(
        stats.ks_2samp(current, reference).statistic, abs=TOLERANCE
    )


def test_feature_facts_raw_values_with_ties_match_scipy_ks() -> None:
    reference = [1.0, 1.0, 2.0, 2.0, 3.0]
    current = [1.0, 2.0, 2.0, 2.0, 4.0, 4.0]

    facts = feature_facts(
        FeatureDrift(
            reference_values=reference, current_values=current, edges=[0, 2, 5]
        )
    )

    assert facts["ks"] == pytest.approx(stats.ks_2samp(current, reference).statistic)


def test_drift_facts_worst_feature_and_alerts() -> None:
    drift = Drift.model_validate(
        {
            "features": {
                "age": {"reference": [10, 10], "current": [10, 10]},
                "income": {"reference": [10, 10], "current": [30, 10]},
                "tenure": {"reference": [10, 10], "current": [10, 30]},
            },
            "alerts": [
                {"feature": "income", "severity": "critical"},
                {"feature": "age", "severity": "warning"},
            ],
        }
    )

    facts = drift_facts(drift)

    assert facts["worst_feature"] == "income"  # tied with tenure; first one wins
    assert facts["max_psi"] == facts["features"]["income"]["psi"] > 0
    assert facts["critical_alerts"] == 1
    assert facts["alerts"][1] == {"feature": "age", "severity": "warning"}


def test_drift_facts_no_features_has_no_worst_feature() -> None:
    facts = drift_facts(Drift.model_validate({"alerts": []}))

    assert facts == {"features": {}, "alerts": [], "critical_alerts": 0}


counts = st.lists(st.integers(0, 10_000), min_size=2, max_size=12).filter(
    lambda xs: sum(xs) > 0
)


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_binned_statistics_properties(data: st.DataObject) -> None:
    reference = data.draw(counts)
    current = data.draw(
        st.lists(
            st.integers(0, 10_000), min_size=len(reference), max_size=len(reference)
        ).filter(lambda xs: sum(xs) > 0)
    )

    facts = binned_statistics(reference, current)

    assert facts["psi"] >= 0 and facts["kl"] >= 0
    assert 0 <= facts["js"] <= math.sqrt(math.log(2)) + 1e-12
    assert 0 <= facts["ks"] <= 1 + 1e-12
    assert facts["band"] == band(facts["psi"])
    assert all(math.isfinite(facts[k]) for k in ("psi", "kl", "js", "ks"))


@settings(max_examples=100, deadline=None)
@given(counts, st.integers(1, 5))
def test_binned_statistics_same_distribution_is_exactly_zero(
    bins: list[int], scale: int
) -> None:
    facts = binned_statistics(bins, [b * scale for b in bins])

    assert (facts["psi"], facts["kl"], facts["js"], facts["ks"]) == (0, 0, 0, 0)
    assert facts["band"] == "stable"


def _features(seed: int, count: int) -> dict[str, dict[str, list[float]]]:
    rng = random.Random(seed)
    features = {}
    for i in range(count):
        bins = rng.choice([2, 5, 10])
        reference = [float(rng.randint(0, 500)) for _ in range(bins)]
        current = [float(rng.randint(0, 500)) for _ in range(bins)]
        reference[0] += 1
        current[-1] += 1
        if i % 3 == 0:
            current[0] = 0.0  # an empty bin exercises the floor
        if i % 4 == 0:
            reference = [r + 0.25 for r in reference]  # not integers: fsum totals
        features[f"f{i}"] = {"reference": reference, "current": current}
    return features


@pytest.mark.parametrize("seed", range(4))
def test_drift_facts_stacked_match_feature_facts(seed: int) -> None:
    drift = Drift.model_validate({"features": _features(seed, 30)})

    facts = drift_facts(drift)["features"]

    # Three bin counts, three blocks; the request's order is kept.
    assert len(drift.blocks) == 3
    assert list(facts) == list(drift.features)
    for name, feature in drift.features.items():
        one = feature_facts(feature)
        # The sums run in the same order; only numpy's logarithm may differ from
        # the C library's in the last bit.
        for key in ("psi", "kl", "js", "ks"):
            assert facts[name][key] == pytest.approx(one[key], rel=1e-12, abs=1e-15)
        assert facts[name]["band"] == one["band"]


def test_drift_facts_stacked_same_distribution_is_exactly_zero() -> None:
    features = {
        f"f{i}": {"reference": bins, "current": [b * 3 for b in bins]}
        for i, bins in enumerate([[1, 0, 7], [5, 5, 5], [0.5, 0, 2.25], [9, 1, 0]])
    }

    facts = drift_facts(Drift.model_validate({"features": features}))["features"]

    for f in facts.values():
        assert (f["psi"], f["kl"], f["js"], f["ks"]) == (0, 0, 0, 0)


def test_drift_facts_stacked_raw_values_take_sample_ks() -> None:
    rng = random.Random(3)
    reference = [rng.gauss(0, 1) for _ in range(100)]
    current = [rng.gauss(0.5, 1) for _ in range(80)]
    raw = {"reference_values": reference, "current_values": current}
    drift = Drift.model_validate(
        {
            "features": {
                "binned": {"reference": [3, 4, 5], "current": [5, 4, 3]},
                "raw": raw | {"edges": [-1.0, 0.0, 1.0, 2.0]},
            }
        }
    )

    facts = drift_facts(drift)["features"]

    assert facts["raw"]["ks"] == pytest.approx(
        stats.ks_2samp(current, reference).statistic, abs=TOLERANCE
    )
    assert facts["raw"]["psi"] == feature_facts(drift.features["raw"])["psi"]
    assert facts["binned"]["ks"] == pytest.approx(2 / 12, abs=TOLERANCE)


def _reference_facts(
    reference: list[float], current: list[float], alone: bool
) -> dict[str, Any]:
    """One feature's statistics straight from the formulas in the module docstring,
    in the floating-point steps the stacked computation takes: proportions over
    math.fsum totals, numpy's logarithm, every sum taken bin by bin from the first.

    Except for a feature `alone` in its block (no other feature has its bin count):
    numpy sums a single column as a contiguous array, pairwise from 8 bins on, so
    its PSI, KL and sum of m ln m are summed as np.add.reduce sums a 1-D array.
    """

    def total(values: Any) -> float:
        return float(functools.reduce(operator.add, values.tolist()))

    def compared(values: Any) -> float:
        return float(np.add.reduce(values)) if alone else total(values)

    def smoothed(x: Any) -> Any:
        if x.min() >= EPSILON:
            return x
        floored = np.where(x < EPSILON, EPSILON, x)
        return floored / math.fsum(floored.tolist())

    def plogp(x: Any) -> float:
        return total(x * np.log(np.where(x > 0, x, 1.0)))

    p = np.array(current, dtype=float) / math.fsum(current)
    q = np.array(reference, dtype=float) / math.fsum(reference)
    ps, qs = smoothed(p), smoothed(q)
    d = np.log(ps) - np.log(qs)
    psi = compared((ps - qs) * d)
    kl = compared(ps * d)
    mids = (p + q) * 0.5
    js2 = plogp(p) + plogp(q) - 2 * compared(mids * np.log(np.where(mids > 0, mids, 1)))
    cdf_p = list(itertools.accumulate(p.tolist()))
    cdf_q = list(itertools.accumulate(q.tolist()))
    return {
        "psi": psi,
        "kl": max(kl, 0.0),
        "js": math.sqrt(js2 / 2) if js2 > 0 else 0.0,
        "ks": max(abs(a - b) for a, b in zip(cdf_p, cdf_q, strict=True)),
        "band": band(psi),
    }


def _generated_features(seed: int) -> dict[str, dict[str, list[float]]]:
    """Features of every kind the stacked computation distinguishes: several bin
    counts in one request, empty and tiny bins (floored), fractional counts, large
    counts, and the same distribution on both sides."""
    rng = random.Random(seed)
    features = {}
    for i in range(rng.randint(1, 40)):
        bins = rng.choice([2, 3, 10, 10, 10, 17])
        high = rng.choice([5, 1000, 10**9, 3 * 10**14])
        reference = [float(rng.randint(0, high)) for _ in range(bins)]
        current = [float(rng.randint(0, high)) for _ in range(bins)]
        kind = rng.random()
        if kind < 0.2:
            current = [c * rng.choice([1, 3]) for c in reference]
        elif kind < 0.35:
            current = [c + rng.random() for c in current]
        elif kind < 0.5:
            reference[rng.randrange(bins)] = 0.0
            current[rng.randrange(bins)] = 1e-9
        reference[0] += 1
        current[-1] += 1
        features[f"f{i}"] = {"reference": reference, "current": current}
    return features


@pytest.mark.parametrize("seed", range(40))
def test_drift_facts_equal_the_reference_to_the_bit(seed: int) -> None:
    features = _generated_features(seed)

    facts = drift_facts(Drift.model_validate({"features": features}))["features"]

    assert list(facts) == list(features)
    bin_counts = collections.Counter(len(f["reference"]) for f in features.values())
    for name, f in features.items():
        alone = bin_counts[len(f["reference"])] == 1
        expected = _reference_facts(f["reference"], f["current"], alone)
        assert facts[name] == expected, name
