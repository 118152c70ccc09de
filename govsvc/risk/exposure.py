"""The composite exposure: one number in [0, 1] from four components.

Each component is scaled to [0, 1] (1 is worst), then combined as the weighted mean
with the bundle's `ExposureSpec.weights` (they need not sum to one):

    bias_impact        the bias-impact score / 100
    drift              min(max_psi / DRIFT_SATURATION, 1): a PSI of 0.5, twice the
                       start of the "major" band, saturates
    uncertainty        the larger of share_above_threshold and
                       min(spread / (2 * threshold), 1): a spread at the threshold
                       reads 0.5, at twice the threshold 1
    performance_loss   the largest relative drop of a metric against the baseline

A component the facts cannot give (no drift section, no baseline, ...) counts as 1:
a missing fact never lowers the exposure. The explanation lists which were missing.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from govsvc.facts import RISK_COMPONENTS, Facts
from govsvc.risk.errors import RiskError
from govsvc.risk.model import ExposureSpec

DRIFT_SATURATION = 0.5
"""The PSI at which the drift component reaches 1."""

UNCERTAINTY_SATURATION = 2.0
"""The spread, in thresholds, at which the uncertainty component reaches 1."""


def check_exposure_spec(spec: ExposureSpec) -> None:
    for name, weight in spec.weights.items():
        if name not in RISK_COMPONENTS:
            raise RiskError(
                f"exposure weight {name!r} names no component; expected one of "
                f"{', '.join(RISK_COMPONENTS)}"
            )
        if not (weight >= 0 and math.isfinite(weight)):
            raise RiskError(
                f"exposure weight {name} must be zero or more, found {weight}"
            )


def performance_loss(facts: Facts) -> float | None:
    """The largest relative drop, in [0, 1], of a metric present in both the request
    and its baseline; None when no metric can be compared.

    Every metric is read as higher-is-better (auc, accuracy, f1). A lower-is-better
    metric (log loss, error rate) sent here would read an improvement as a loss and a
    loss as nothing; send those under names the policies test directly.
    """
    current: Mapping[str, float] = facts.get("metrics", {})
    baseline: Mapping[str, float] = facts.get("baseline", {}).get("metrics", {})
    drops = [
        min(max((base - current[name]) / base, 0.0), 1.0)
        for name, base in baseline.items()
        if name in current and base > 0
    ]
    return max(drops) if drops else None


def components(facts: Facts, bias_impact: float | None) -> dict[str, float | None]:
    """Each exposure component in [0, 1], or None when the facts cannot give it."""
    drift: float | None = None
    max_psi = facts.get("drift", {}).get("max_psi")
    if max_psi is not None:
        drift = min(max_psi / DRIFT_SATURATION, 1.0)

    u = facts.get("uncertainty", {})
    readings = []
    if "share_above_threshold" in u:
        readings.append(u["share_above_threshold"])
    spread = u.get("mean_std")
    if spread is None and "variance" in u:
        spread = math.sqrt(u["variance"])
    if spread is not None and "threshold" in u:
        readings.append(min(spread / (UNCERTAINTY_SATURATION * u["threshold"]), 1.0))

    return {
        "bias_impact": None if bias_impact is None else bias_impact / 100.0,
        "drift": drift,
        "uncertainty": max(readings) if readings else None,
        "performance_loss": performance_loss(facts),
    }


def exposure(
    parts: Mapping[str, float | None], spec: ExposureSpec
) -> tuple[float, list[dict[str, Any]]]:
    """(exposure, explanation): the weighted mean, a missing component counted at 1."""
    explained: list[dict[str, Any]] = []
    weighted = []
    for name in RISK_COMPONENTS:
        weight = spec.weights.get(name, 0.0)
        value = parts.get(name)
        counted = 1.0 if value is None else value
        weighted.append((weight, counted))
        explained.append(
            {
                "step": "exposure",
                "component": name,
                "value": counted,
                "weight": weight,
                "missing": value is None,
            }
        )

    total = math.fsum(w for w, _ in weighted)
    if total == 0:
        return 0.0, explained
    value = math.fsum(w * x for w, x in weighted) / total
    return min(max(value, 0.0), 1.0), explained
