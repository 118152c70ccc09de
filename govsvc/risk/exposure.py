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
from dataclasses import dataclass
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

    # min(max(drop, 0), 1) and the max over metrics written out: a builtin call
    # costs more than the rest of the line. A NaN drop stays NaN, as with them.
    largest: float | None = None
    for name, base in baseline.items():
        if name in current and base > 0:
            drop = (base - current[name]) / base
            if drop < 0.0:
                drop = 0.0
            if drop > 1.0:
                drop = 1.0
            if largest is None or drop > largest:
                largest = drop
    return largest


def components(facts: Facts, bias_impact: float | None) -> dict[str, float | None]:
    """Each exposure component in [0, 1], or None when the facts cannot give it."""
    # min(x, 1) is written out, here and below: the builtin call costs more than
    # the rest of the line. A NaN stays NaN, as with the builtin.
    drift: float | None = None
    max_psi = facts.get("drift", {}).get("max_psi")
    if max_psi is not None:
        drift = max_psi / DRIFT_SATURATION
        if drift > 1.0:
            drift = 1.0

    # The larger of the two readings that the facts give, the share first (as
    # max([share, spread]) would take it).
    u = facts.get("uncertainty", {})
    has_share = "share_above_threshold" in u
    uncertainty: float | None = u["share_above_threshold"] if has_share else None
    spread = u.get("mean_std")
    if spread is None and "variance" in u:
        spread = math.sqrt(u["variance"])
    if spread is not None and "threshold" in u:
        reading = spread / (UNCERTAINTY_SATURATION * u["threshold"])
        if reading > 1.0:
            reading = 1.0
        if not has_share or reading > u["share_above_threshold"]:
            uncertainty = reading

    return {
        "bias_impact": None if bias_impact is None else bias_impact / 100.0,
        "drift": drift,
        "uncertainty": uncertainty,
        "performance_loss": performance_loss(facts),
    }


@dataclass(frozen=True)
class ExposurePlan:
    """An `ExposureSpec` as every evaluation reads it: each component of
    `RISK_COMPONENTS` with its weight (0 when the spec is silent), and their sum.

    Built once per risk model (`govsvc.risk.evaluate`); `exposure` builds one per
    call. It does not check the spec: `check_exposure_spec` does.
    """

    # (component, weight, its explanation but for the value and whether missing)
    weights: tuple[tuple[str, float, dict[str, Any]], ...]
    total: float

    @classmethod
    def of(cls, spec: ExposureSpec) -> ExposurePlan:
        weights = []
        for name in RISK_COMPONENTS:
            weight = spec.weights.get(name, 0.0)
            explained = {
                "step": "exposure",
                "component": name,
                "value": 1.0,
                "weight": weight,
                "missing": True,
            }
            weights.append((name, weight, explained))
        return cls(tuple(weights), math.fsum(weight for _, weight, _ in weights))

    def combine(
        self, parts: Mapping[str, float | None]
    ) -> tuple[float, list[dict[str, Any]]]:
        """(exposure, explanation), as `exposure` defines them."""
        part = parts.get
        explained: list[dict[str, Any]] = []
        products: list[float] = []
        for name, weight, template in self.weights:
            value = part(name)
            counted = 1.0 if value is None else value
            products.append(weight * counted)
            step = template.copy()  # half the cost of a dict built whole
            step["value"] = counted
            step["missing"] = value is None
            explained.append(step)

        if self.total == 0:
            return 0.0, explained
        value = math.fsum(products) / self.total
        # min(max(value, 0), 1), written out as above.
        if value < 0.0:
            value = 0.0
        if value > 1.0:
            value = 1.0
        return value, explained


def exposure(
    parts: Mapping[str, float | None], spec: ExposureSpec
) -> tuple[float, list[dict[str, Any]]]:
    """(exposure, explanation): the weighted mean, a missing component counted at 1."""
    return ExposurePlan.of(spec).combine(parts)
