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

import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from govsvc.facts import Facts
from govsvc.risk.exposure import ExposurePlan, check_exposure_spec, components
from govsvc.risk.model import RiskModel
from govsvc.risk.score import ScorePlan, check_score_spec
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
    checked = _checked(model)
    tiers = checked.tiers
    top = len(tiers) - 1

    # 2-3. Score and exposure.
    score, parts_of_score = checked.score.score(facts.get("fairness", {}))
    if "fairness" not in facts:
        score = None
    parts = components(facts, score)
    exposed, explanation = checked.exposure.combine(parts)

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

    # 4. Placement, then escalation (which may read the base tier). Both read the
    # same facts: `risk` is the record being filled in, so escalation sees the base
    # tier that placement did not.
    seen = {**facts, "risk": risk}
    base, placed = place(model.placement, tiers, seen)
    risk["base_tier"] = tiers[base]
    steps, raised = escalate(model.escalation, seen)
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


def _rank(tier: str, tiers: Sequence[str], explanation: list[dict[str, Any]]) -> int:
    """The index of a stored tier; one the ladder no longer has reads as the top."""
    if tier in tiers:
        return tiers.index(tier)
    explanation.append(
        {"step": "unknown_previous_tier", "tier": tier, "read_as": tiers[-1]}
    )
    return len(tiers) - 1


@dataclass(frozen=True)
class _Checked:
    """A risk model that passed its checks, with what every evaluation derives
    from it: the ladder, the score's terms, the exposure's weights and their sum."""

    tiers: tuple[str, ...]
    score: ScorePlan
    exposure: ExposurePlan


# Checked models by id, each with a weak reference that removes its entry when the
# model goes, so that a new model at a reused id is never mistaken for it. A model
# that fails its checks is not kept: it fails again at every evaluation.
#
# Known shortcoming: a RiskModel is frozen, but its weight maps are plain dicts; one
# changed in place after the model's first evaluation is neither checked again nor
# read again. Nothing in govsvc does that (the compiler builds a model once per
# bundle); build a new model instead.
_CHECKED: dict[int, tuple[weakref.ref[RiskModel], _Checked]] = {}


def _checked(model: RiskModel) -> _Checked:
    """The checked form of a risk model, built and checked on its first evaluation."""
    key = id(model)
    kept = _CHECKED.get(key)
    if kept is not None and kept[0]() is model:
        return kept[1]

    tiers = tuple(model.tiers)
    check_ladder(tiers, model.placement, model.escalation)
    check_score_spec(model.score)
    check_exposure_spec(model.exposure)
    checked = _Checked(
        tiers, ScorePlan.of(model.score), ExposurePlan.of(model.exposure)
    )

    def forget(_: weakref.ref[RiskModel]) -> None:
        _CHECKED.pop(key, None)

    _CHECKED[key] = (weakref.ref(model, forget), checked)
    return checked
