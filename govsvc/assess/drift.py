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
from collections.abc import Sequence
from operator import mul
from typing import Any

import numpy as np

from govsvc.assess.bins import EPSILON, Block, Prepared, prepare
from govsvc.assess.request import Drift, FeatureDrift

__all__ = [
    "EPSILON",
    "band",
    "binned_statistics",
    "block_statistics",
    "drift_facts",
    "statistics",
]

STABLE_BELOW = 0.1
MODERATE_BELOW = 0.25


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
    return statistics(prepare(reference, current))


def statistics(prep: Prepared, sample_ks: float | None = None) -> dict[str, Any]:
    """Every statistic in one pass over the bins.

    One loop with local variables rather than a pass per statistic, and the logs
    through map(): the arrays are short, so the interpreter's per-element overhead
    is most of the cost (tests/bench/bench_assess.py).
    """
    cur, ref = prep.current, prep.reference
    psi = kl = ks = 0.0
    bins = zip(
        cur.smoothed, cur.logs, cur.cdf,
        ref.smoothed, ref.logs, ref.cdf,
        strict=True,
    )  # fmt: skip
    for ps, lps, cp, qs, lqs, cq in bins:
        # PSI and KL on the smoothed proportions.
        d = lps - lqs
        psi += (ps - qs) * d
        kl += ps * d

        # KS at this bin's upper edge.
        gap = cp - cq if cp > cq else cq - cp
        if gap > ks:
            ks = gap

    # JS on the raw proportions, through m = (p + q) / 2.
    mids = [(p + q) * 0.5 for p, q in zip(cur.p, ref.p, strict=True)]
    if 0.0 in mids:  # a bin empty on both sides adds 0 ln 0 = 0
        mids = [m for m in mids if m > 0]
    mlogm = sum(map(mul, mids, map(math.log, mids)))

    # sum p ln(p/m) + q ln(q/m) = sum p ln p + sum q ln q - 2 sum m ln m. When p = q,
    # m = p to the bit and the terms cancel exactly, so JS is exactly 0.
    js2 = cur.plogp + ref.plogp - 2 * mlogm
    return {
        "psi": psi,
        "kl": kl if kl > 0 else 0.0,  # rounding can leave -1e-17
        "js": math.sqrt(js2 / 2) if js2 > 0 else 0.0,
        "ks": ks if sample_ks is None else sample_ks,
        "band": band(psi),
    }


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
    if feature.edges is None:
        return statistics(feature.prepared)
    assert feature.reference_values is not None
    assert feature.current_values is not None
    ks = _sample_ks(feature.current_values, feature.reference_values)
    return statistics(feature.prepared, ks)


def block_statistics(block: Block) -> list[dict[str, Any]]:
    """`statistics` for every feature of a block at once, in the block's order.

    The same expressions as `statistics`, each over every feature's bins; sums run
    bin by bin (see `govsvc.assess.bins`), so PSI, KL and KS equal the per-feature
    ones to the bit. JS may differ in its last bits: numpy's logarithm is not
    always the C library's. So may PSI and KL of a feature alone in its block with
    8 bins or more: numpy sums a single column as a contiguous array, pairwise.
    """
    n = block.n
    stacked, p = block.stacked, block.p
    bins = p.shape[0]

    # One subtraction compares current with reference for the smoothed
    # proportions, their logarithms and the CDFs: diffs[1:] = (sc - sr, d, cdf gap).
    # diffs[0] is sc itself, so that one product gives the KL terms sc * d and the
    # PSI terms (sc - sr) * d side by side.
    diffs = np.empty((4, bins, n))
    np.copyto(diffs[0], stacked[0, :, :n])
    np.subtract(stacked[:, :, :n], stacked[:, :, n:], out=diffs[1:])

    # JS on the raw proportions, through m = (p + q) / 2, as in `statistics`; with
    # nothing floored every proportion is positive and so is every m.
    mids = (p[:, :n] + p[:, n:]) * 0.5
    logs = np.log(np.where(mids > 0, mids, 1.0) if block.floored else mids)

    # KL, PSI and sum m ln m: one product each, summed bin by bin in one reduction.
    terms = np.empty((3, bins, n))
    np.multiply(diffs[:2], diffs[2], out=terms[:2])
    np.multiply(mids, logs, out=terms[2])
    kl, psi, mlogm = np.add.reduce(terms, axis=1).tolist()

    # KS at the bins' upper edges.
    ks = np.maximum.reduce(np.absolute(diffs[3]), axis=0).tolist()

    # One dict literal per feature, the band inlined: a function call per feature
    # would cost as much as the rest of its facts. JS as in `statistics`:
    # sum p ln(p/m) + q ln(q/m) = sum p ln p + sum q ln q - 2 sum m ln m = js2.
    plogp = block.plogp.tolist()
    return [
        {
            "psi": psi_f,
            "kl": kl_f if kl_f > 0 else 0.0,  # rounding can leave -1e-17
            "js": math.sqrt(js2 / 2) if (js2 := pc + pr - 2 * mm) > 0 else 0.0,
            "ks": ks_f,
            "band": (
                "stable"
                if psi_f < STABLE_BELOW
                else "moderate"
                if psi_f < MODERATE_BELOW
                else "major"
            ),
        }
        for psi_f, kl_f, ks_f, pc, pr, mm in zip(
            psi, kl, ks, plogp[:n], plogp[n:], mlogm, strict=True
        )
    ]


def drift_facts(drift: Drift) -> dict[str, Any]:
    """SCHEMA drift: per-feature statistics, the worst feature, and the alerts."""
    features: dict[str, dict[str, Any]] = {}
    for block in drift.blocks:
        features.update(zip(block.names, block_statistics(block), strict=True))
    if len(drift.blocks) > 1:  # back to the request's order
        features = {name: features[name] for name in drift.features}

    # Raw values: the exact sample KS replaces the one at the bin edges.
    for name in drift.raw_features:
        f = drift.features[name]
        assert f.reference_values is not None
        assert f.current_values is not None
        features[name]["ks"] = _sample_ks(f.current_values, f.reference_values)

    facts: dict[str, Any] = {"features": features}

    if features:
        # The first feature in the request's order wins a tie, as list.index finds.
        psis = [f["psi"] for f in features.values()]
        facts["max_psi"] = max_psi = max(psis)
        facts["worst_feature"] = list(features)[psis.index(max_psi)]

    facts["alerts"] = [
        {"feature": a.feature, "severity": a.severity} for a in drift.alerts
    ]
    facts["critical_alerts"] = sum(1 for a in drift.alerts if a.severity == "critical")
    return facts
