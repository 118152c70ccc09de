"""`evaluate_risk`: facts and a bundle's risk model in, the `risk` facts and the next
tier state out. Pure: the caller loads the previous state and stores the new one.

The plan:

1. Check the risk model (ladder, weights, tolerances).
2. The bias-impact score and its components (`govsvc.risk.score`).
3. The exposure from its components (`govsvc.risk.exposure`).
4. The base tier from the placement rules, then escalation (`govsvc.risk.tiers`);
   conditions see the facts with a partial `risk` record: every risk fact except
   `tier` (and, for placement, `base_tier`), which they are computing.
5. Hysteresis against the previous state; the new state and the explanation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from govsvc.facts import Facts
from govsvc.risk.exposure import check_exposure_spec, components, exposure
from govsvc.risk.model import RiskModel
from govsvc.risk.score import bias_impact, check_score_spec
from govsvc.risk.tiers import TierState, check_ladder, escalate, place


@dataclass(frozen=True)
class RiskResult:
    facts: dict[str, Any]  # facts["risk"], paths in SCHEMA["risk"]
    state: TierState  # for the caller to store, after `after_verdict`
    tier_changed: bool  # the first evaluation of a model counts as a change
    explanation: list[dict[str, Any]] = field(default_factory=list)


def evaluate_risk(
    facts: Facts, model: RiskModel, previous: TierState | None = None
) -> RiskResult:
    """Score, exposure and tier of one evaluation; see the module docstring."""
    tiers = list(model.tiers)
    check_ladder(tiers, model.placement, model.escalation)
    check_score_spec(model.score)
    check_exposure_spec(model.exposure)
    top = len(tiers) - 1

    # 2-3. Score and exposure.
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

    # 4. Placement, then escalation (which may read the base tier).
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

    # 5. Hysteresis: going up is immediate, coming down waits for clean evaluations.
    tier, streak = candidate, 0
    if previous is not None:
        in_force = _rank(previous.tier, tiers, explanation)
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
    state = TierState(
        tier=tiers[tier],
        base_tier=tiers[base],
        clean_streak=streak,
        consecutive_failures=risk["consecutive_failures"],
    )
    changed = previous is None or previous.tier != state.tier
    return RiskResult(
        facts=risk, state=state, tier_changed=changed, explanation=explanation
    )


def _rank(tier: str, tiers: list[str], explanation: list[dict[str, Any]]) -> int:
    """The index of a stored tier; one the ladder no longer has reads as the top."""
    if tier in tiers:
        return tiers.index(tier)
    explanation.append(
        {"step": "unknown_previous_tier", "tier": tier, "read_as": tiers[-1]}
    )
    return len(tiers) - 1
