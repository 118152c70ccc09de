"""The bias-impact score: how far a model is from the fairness the policies demand.

No standard defines such a score, so this one is ours; docs/risk.md has the
definition and a worked example. For every protected attribute a and every metric m
the bundle weighs (`ScoreSpec.metrics`):

    gap       g = the metric's value for a difference, 1 - value for a ratio
    severity  s = min(g / (4 t), 1)        t: the metric's tolerance
    weight    w = w_a * w_m                w_a: the attribute's weight
    score       = 100 * sum(w * s) / sum(w)

so the score is 0 when every gap is 0, 100 when every gap is at least four times its
tolerance, and never decreases when a gap grows. Each (attribute, metric) pair is a
component whose contribution, 100 * w * s / sum(w), is what it adds to the score.

A metric the facts lack for an attribute (a rate undefined in some group) counts at
full severity: what cannot be measured is not assumed fair. The sums use
`math.fsum`, which is correctly rounded, so the score is the same to the bit whatever
the order of attributes.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from govsvc.facts import ATTRIBUTE_METRICS
from govsvc.risk.errors import RiskError
from govsvc.risk.model import ScoreSpec

SATURATION = 4.0
"""A gap at this many tolerances gives the component its whole weight."""


def check_score_spec(spec: ScoreSpec) -> None:
    """Refuse a spec the score cannot honour, naming the faulty entry."""
    for mw in spec.metrics:
        if mw.metric not in ATTRIBUTE_METRICS:
            raise RiskError(
                f"score metric {mw.metric!r} is not a fairness metric; expected one of "
                f"{', '.join(ATTRIBUTE_METRICS)}"
            )
        if not (mw.tolerance > 0 and math.isfinite(mw.tolerance)):
            raise RiskError(
                f"score metric {mw.metric}: tolerance must be a positive number, "
                f"found {mw.tolerance}"
            )
        if not (mw.weight >= 0 and math.isfinite(mw.weight)):
            raise RiskError(
                f"score metric {mw.metric}: weight must be zero or more, "
                f"found {mw.weight}"
            )
    weights = [*spec.attribute_weights.values(), spec.default_attribute_weight]
    if not all(w >= 0 and math.isfinite(w) for w in weights):
        raise RiskError(
            f"score attribute weights must be zero or more, found {sorted(weights)}"
        )


def gap(metric: str, value: float) -> float:
    """How far a metric is from parity: 0 is parity, larger is worse."""
    return 1.0 - value if metric.endswith("_ratio") else value


def bias_impact(
    fairness: Mapping[str, Mapping[str, Any]], spec: ScoreSpec
) -> tuple[float | None, list[dict[str, Any]]]:
    """(score, components); the score is None when there is nothing to score."""
    components: list[dict[str, Any]] = []
    weighted: list[tuple[float, float]] = []  # (weight, severity) per component

    for attribute, facts in fairness.items():
        w_a = spec.attribute_weights.get(attribute, spec.default_attribute_weight)
        for mw in spec.metrics:
            component: dict[str, Any] = {"attribute": attribute, "metric": mw.metric}
            value = facts.get(mw.metric)
            if value is None:
                severity = 1.0  # fail closed: an unmeasurable gap is not a fair one
                component["missing"] = True
            else:
                g = gap(mw.metric, value)
                severity = min(max(g, 0.0) / (SATURATION * mw.tolerance), 1.0)
                component["gap"] = g
                component["missing"] = False
            w = w_a * mw.weight
            component["tolerance"] = mw.tolerance
            component["weight"] = w
            components.append(component)
            weighted.append((w, severity))

    if not components:
        return None, components

    total = math.fsum(w for w, _ in weighted)
    for component, (w, severity) in zip(components, weighted, strict=True):
        component["contribution"] = 100.0 * w * severity / total if total > 0 else 0.0
    score = math.fsum(c["contribution"] for c in components)
    return min(score, 100.0), components
