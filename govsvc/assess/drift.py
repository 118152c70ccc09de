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

from govsvc.assess.bins import EPSILON, Block, Prepared, plogp_sums, prepare
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
    always the C library's.
    """
    n = block.n
    s, logs, p, cdf, plogp = block.smoothed, block.logs, block.p, block.cdf, block.plogp

    # PSI and KL on the smoothed proportions.
    sc, sr = s[:, :n], s[:, n:]
    d = logs[:, :n] - logs[:, n:]
    psi = ((sc - sr) * d).sum(axis=0)
    kl = (sc * d).sum(axis=0)

    # KS at the bins' upper edges.
    ks = np.abs(cdf[:, :n] - cdf[:, n:]).max(axis=0)

    # JS on the raw proportions, through m = (p + q) / 2, as in `statistics`.
    js2 = plogp[:n] + plogp[n:] - 2 * plogp_sums((p[:, :n] + p[:, n:]) * 0.5)
    js = np.sqrt(np.where(js2 > 0, js2, 0.0) / 2)

    return [
        {
            "psi": psi_f,
            "kl": kl_f if kl_f > 0 else 0.0,  # rounding can leave -1e-17
            "js": js_f,
            "ks": ks_f,
            "band": band(psi_f),
        }
        for psi_f, kl_f, js_f, ks_f in zip(
            psi.tolist(), kl.tolist(), js.tolist(), ks.tolist(), strict=True
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
    for name, f in drift.features.items():
        if f.edges is not None:
            assert f.reference_values is not None
            assert f.current_values is not None
            features[name]["ks"] = _sample_ks(f.current_values, f.reference_values)

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
