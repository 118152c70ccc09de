"""Drift facts: how far the current data's distribution moved from the reference.

Each feature arrives as bin counts over the same bins (or raw values and the bin
edges, binned here). From the proportions p (current) and q (reference), natural
logarithms throughout:

- PSI, the population stability index (Siddiqi, *Credit Risk Scorecards*, 2006;
  Yurdakul, "Statistical properties of the population stability index", 2018):
  sum_i (p_i - q_i) ln(p_i / q_i).
- KL, the Kullback-Leibler divergence of current from reference (Kullback and
  Leibler, 1951): sum_i p_i ln(p_i / q_i).
- JS, the Jensen-Shannon distance (Endres and Schindelin, 2003): the square root of
  (KL(p || m) + KL(q || m)) / 2 with m = (p + q) / 2; between 0 and sqrt(ln 2).
- KS, the Kolmogorov-Smirnov statistic: the largest gap between the two cumulative
  distributions. Over bins it is evaluated at the bin edges; from raw values it is
  the exact two-sample statistic (as `scipy.stats.ks_2samp`).

Empty bins: PSI and KL divide by q_i and take ln p_i, so an empty bin would make them
infinite. Both use smoothed proportions: every proportion under EPSILON (1e-4) is
raised to EPSILON and the distribution renormalised to sum to one, so PSI and KL stay
finite and non-negative. JS and KS need no smoothing and use the raw proportions.

Bands, from the PSI (Siddiqi's rule of thumb): stable under 0.1, moderate under 0.25,
major from 0.25.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Mapping, Sequence
from typing import Any

from govsvc.assess.request import Drift, FeatureDrift

EPSILON = 1e-4
"""The floor for a bin's proportion in PSI and KL."""

STABLE_BELOW = 0.1
MODERATE_BELOW = 0.25

_log = math.log


def _proportions(bins: Sequence[float]) -> list[float]:
    total = math.fsum(bins)
    return [b / total for b in bins]


def _smoothed(props: list[float]) -> list[float]:
    if min(props) >= EPSILON:
        return props  # nothing to floor: keep the exact proportions
    floored = [x if x >= EPSILON else EPSILON for x in props]
    total = math.fsum(floored)
    return [x / total for x in floored]


def band(psi: float) -> str:
    if psi < STABLE_BELOW:
        return "stable"
    if psi < MODERATE_BELOW:
        return "moderate"
    return "major"


def binned_statistics(
    reference: Sequence[float], current: Sequence[float]
) -> dict[str, Any]:
    """PSI, KL, JS, KS (at the bin edges) and band for one feature's bins."""
    q = _proportions(reference)
    p = _proportions(current)
    return _statistics(p, q, _binned_ks(p, q))


def _statistics(p: list[float], q: list[float], ks: float) -> dict[str, Any]:
    ps, qs = _smoothed(p), _smoothed(q)
    psi = kl = 0.0
    for pi, qi in zip(ps, qs, strict=True):
        d = _log(pi / qi)
        psi += (pi - qi) * d
        kl += pi * d

    # JS needs no floor: m_i > 0 wherever p_i or q_i is, and 0 ln 0 is 0.
    js2 = 0.0
    for pi, qi in zip(p, q, strict=True):
        m = (pi + qi) / 2
        if pi > 0:
            js2 += pi * _log(pi / m)
        if qi > 0:
            js2 += qi * _log(qi / m)

    return {
        "psi": psi,
        "kl": kl if kl > 0 else 0.0,  # rounding can leave -1e-17
        "js": math.sqrt(js2 / 2) if js2 > 0 else 0.0,
        "ks": ks,
        "band": band(psi),
    }


def _binned_ks(p: list[float], q: list[float]) -> float:
    gap = cp = cq = 0.0
    for pi, qi in zip(p, q, strict=True):
        cp += pi
        cq += qi
        gap = max(gap, abs(cp - cq))
    return gap


def _bin(values: Sequence[float], edges: Sequence[float]) -> list[int]:
    """Counts per bin [e_i, e_i+1), the last bin closed; outliers go to an end bin."""
    last = len(edges) - 2
    counts = [0] * (last + 1)
    for v in values:
        i = bisect_right(edges, v) - 1
        counts[0 if i < 0 else last if i > last else i] += 1
    return counts


def _sample_ks(a: Sequence[float], b: Sequence[float]) -> float:
    """The exact two-sample KS statistic: sup over x of |F_a(x) - F_b(x)|."""
    xs, ys = sorted(a), sorted(b)
    n, m = len(xs), len(ys)
    i = j = 0
    gap = 0.0
    while i < n and j < m:
        x = min(xs[i], ys[j])
        while i < n and xs[i] == x:  # step past ties on both sides together
            i += 1
        while j < m and ys[j] == x:
            j += 1
        gap = max(gap, abs(i / n - j / m))
    return gap


def feature_facts(feature: FeatureDrift) -> dict[str, Any]:
    if feature.edges is not None:
        assert feature.reference_values is not None
        assert feature.current_values is not None
        q = _proportions(_bin(feature.reference_values, feature.edges))
        p = _proportions(_bin(feature.current_values, feature.edges))
        ks = _sample_ks(feature.current_values, feature.reference_values)
        return _statistics(p, q, ks)

    assert feature.reference is not None and feature.current is not None
    return binned_statistics(feature.reference, feature.current)


def drift_facts(drift: Drift) -> dict[str, Any]:
    """SCHEMA drift: per-feature statistics, the worst feature, and the alerts."""
    features: Mapping[str, dict[str, Any]] = {
        name: feature_facts(f) for name, f in drift.features.items()
    }
    facts: dict[str, Any] = {"features": features}

    if features:
        # The first feature in the request's order wins a tie.
        worst = max(features, key=lambda name: features[name]["psi"])
        facts["max_psi"] = features[worst]["psi"]
        facts["worst_feature"] = worst

    facts["alerts"] = [
        {"feature": a.feature, "severity": a.severity} for a in drift.alerts
    ]
    facts["critical_alerts"] = sum(1 for a in drift.alerts if a.severity == "critical")
    return facts
