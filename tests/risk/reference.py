"""The risk computation written straight from its definitions (docs/risk.md), as it
stood before it was tuned for speed: the reference that tests/risk/test_reference.py
compares `govsvc.risk` with, to the bit.

Nothing here is cached or precomputed; each step reads the model and the facts
afresh, with the builtins min, max and sum as the definitions use them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from govsvc.facts import RISK_COMPONENTS, Facts
from govsvc.risk.exposure import DRIFT_SATURATION, UNCERTAINTY_SATURATION
from govsvc.risk.model import (
    EscalationRule,
    ExposureSpec,
    RiskModel,
    ScoreSpec,
    TierRule,
)
from govsvc.risk.score import SATURATION
from govsvc.risk.tiers import TierState, _holds, _source


def bias_impact(
    fairness: Mapping[str, Mapping[str, Any]], spec: ScoreSpec
) -> tuple[float | None, list[dict[str, Any]]]:
    components: list[dict[str, Any]] = []
    weighted: list[tuple[float, float]] = []
    for attribute, facts in fairness.items():
        w_a = spec.attribute_weights.get(attribute, spec.default_attribute_weight)
        for mw in spec.metrics:
            component: dict[str, Any] = {"attribute": attribute, "metric": mw.metric}
            value = facts.get(mw.metric)
            if value is None:
                severity = 1.0
                component["missing"] = True
            else:
                g = 1.0 - value if mw.metric.endswith("_ratio") else value
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


def performance_loss(facts: Facts) -> float | None:
    current = facts.get("metrics", {})
    baseline = facts.get("baseline", {}).get("metrics", {})
    drops = [
        min(max((base - current[name]) / base, 0.0), 1.0)
        for name, base in baseline.items()
        if name in current and base > 0
    ]
    return max(drops) if drops else None


def components(facts: Facts, score: float | None) -> dict[str, float | None]:
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
        "bias_impact": None if score is None else score / 100.0,
        "drift": drift,
        "uncertainty": max(readings) if readings else None,
        "performance_loss": performance_loss(facts),
    }


def exposure(
    parts: Mapping[str, float | None], spec: ExposureSpec
) -> tuple[float, list[dict[str, Any]]]:
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


def place(
    rules: Sequence[TierRule], tiers: Sequence[str], facts: Facts
) -> tuple[int, list[dict[str, Any]]]:
    base = 0
    explained: list[dict[str, Any]] = []
    for rule in rules:
        held, why = _holds(rule, facts)
        if held:
            base = max(base, tiers.index(rule.tier))
            explained.append(
                {"step": "placement", "tier": rule.tier, **_source(rule), **why}
            )
    if not explained:
        explained.append(
            {"step": "placement", "tier": tiers[0], "rule": "(no placement rule held)"}
        )
    return base, explained


def escalate(
    rules: Sequence[EscalationRule], facts: Facts
) -> tuple[int, list[dict[str, Any]]]:
    steps = 0
    explained: list[dict[str, Any]] = []
    for rule in rules:
        held, why = _holds(rule, facts)
        if held:
            steps += rule.steps
            explained.append(
                {"step": "escalation", "by": rule.steps, **_source(rule), **why}
            )
    return steps, explained


def evaluate_risk(
    facts: Facts, model: RiskModel, previous: TierState | None = None
) -> tuple[dict[str, Any], TierState, bool, list[dict[str, Any]]]:
    """(risk facts, state, tier changed, explanation) of one evaluation; the model
    is assumed to pass its checks."""
    tiers = list(model.tiers)
    top = len(tiers) - 1

    score, parts_of_score = bias_impact(facts.get("fairness", {}), model.score)
    if "fairness" not in facts:
        score = None
    parts = components(facts, score)
    exposed, explanation = exposure(parts, model.exposure)

    risk: dict[str, Any] = {}
    if previous is not None:
        risk["previous_tier"] = previous.tier
    if score is not None:
        risk["bias_impact"] = score
    risk["exposure"] = exposed
    if parts["performance_loss"] is not None:
        risk["performance_loss"] = parts["performance_loss"]
    risk["components"] = parts_of_score
    risk["consecutive_failures"] = (
        0 if previous is None else previous.consecutive_failures
    )

    base, placed = place(model.placement, tiers, {**facts, "risk": risk})
    risk["base_tier"] = tiers[base]
    steps, raised = escalate(model.escalation, {**facts, "risk": risk})
    candidate = min(base + steps, top)
    explanation += placed + raised
    if steps:
        explanation.append(
            {
                "step": "escalated",
                "from": tiers[base],
                "to": tiers[candidate],
                "by": steps,
            }
        )

    tier, streak = candidate, 0
    if previous is not None:
        if previous.tier in tiers:
            in_force = tiers.index(previous.tier)
        else:
            explanation.append(
                {
                    "step": "unknown_previous_tier",
                    "tier": previous.tier,
                    "read_as": tiers[-1],
                }
            )
            in_force = top
        if candidate < in_force:
            streak = previous.clean_streak + 1 if steps == 0 else 0
            needed = model.clean_evaluations_to_lower
            if streak >= needed:
                explanation.append(
                    {
                        "step": "lowered",
                        "from": tiers[in_force],
                        "to": tiers[candidate],
                        "clean_evaluations": streak,
                    }
                )
                streak = 0
            else:
                tier = in_force
                explanation.append(
                    {
                        "step": "held",
                        "tier": tiers[in_force],
                        "instead_of": tiers[candidate],
                        "clean_evaluations": streak,
                        "needed": needed,
                    }
                )

    risk["tier"] = tiers[tier]
    state = TierState(tiers[tier], tiers[base], streak, risk["consecutive_failures"])
    changed = previous is None or previous.tier != state.tier
    return risk, state, changed, explanation
