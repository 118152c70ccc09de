"""Risk tiers: placement, escalation, and the state a model carries between evaluations.

The ladder is the bundle's (`RiskModel.tiers`, by default the EU AI Act's minimal,
limited, high, unacceptable). One evaluation:

1. Placement: the base tier is the highest tier whose `tier ... when` rule holds;
   the lowest tier when none does.
2. Escalation: every `escalate by N when` rule that holds adds N steps; the sum
   raises the base tier, capped at the top of the ladder.
3. Hysteresis against the previous state: a tier at or above the tier in force
   takes effect at once. A lower one takes effect only after
   `RiskModel.clean_evaluations_to_lower` clean evaluations in a row (no escalation
   rule held, no deny in between), or a reviewer's approval
   (`TierState.after_approval`). Until then the tier in force is held.

Fail closed: a condition that raises `MissingFact` (or any other `GovsvcError`, such
as a type error in a compiled policy expression) counts as holding. A missing fact
therefore never lowers a tier; it can only place or raise one, and the explanation
names the fact so the pipeline can send it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import Any

from govsvc.errors import GovsvcError
from govsvc.facts import Facts, MissingFact
from govsvc.risk.errors import RiskError
from govsvc.risk.model import EscalationRule, TierRule

log = logging.getLogger(__name__)

VERDICTS = ("allow", "warn", "review", "deny")

_STATE_KEYS = frozenset(("tier", "base_tier", "clean_streak", "consecutive_failures"))


@dataclass(frozen=True)
class TierState:
    """What the service stores per model between evaluations (as JSON: `to_dict`).

    tier                  the tier in force
    base_tier             the tier placement gave last time, before escalation
    clean_streak          clean evaluations in a row while a lower tier waits
    consecutive_failures  denied evaluations in a row
    """

    tier: str
    base_tier: str
    clean_streak: int = 0
    consecutive_failures: int = 0

    def after_verdict(self, verdict: str) -> TierState:
        """The state once the decision's verdict is known.

        A deny is a failure and breaks a clean streak; allow and warn end a run of
        failures; a review changes neither (a run of denies interrupted by reviews
        still counts as repeated failure).
        """
        if verdict not in VERDICTS:
            raise RiskError(
                f"unknown verdict {verdict!r}; expected one of {', '.join(VERDICTS)}"
            )
        # Built directly: dataclasses.replace costs twice as much, per decision.
        if verdict == "deny":
            return self.__class__(
                self.tier, self.base_tier, 0, self.consecutive_failures + 1
            )
        if verdict in ("allow", "warn"):
            return self.__class__(self.tier, self.base_tier, self.clean_streak, 0)
        return self

    def after_approval(self) -> TierState:
        """A reviewer's approval: a raised tier comes down to the base tier at once,
        and the run of failures ends."""
        return replace(
            self, tier=self.base_tier, clean_streak=0, consecutive_failures=0
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "tier": self.tier,
            "base_tier": self.base_tier,
            "clean_streak": self.clean_streak,
            "consecutive_failures": self.consecutive_failures,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TierState:
        """Read a stored state; a malformed one raises `RiskError` naming the key."""
        # What the service stores and reads back per decision: a dict of known keys,
        # tier names and counts. Anything else, valid or not, takes the careful way.
        if data.__class__ is dict and data.keys() <= _STATE_KEYS:
            tier = data.get("tier")
            base_tier = data.get("base_tier")
            streak = data.get("clean_streak", 0)
            failures = data.get("consecutive_failures", 0)
            if (
                tier.__class__ is str
                and tier
                and base_tier.__class__ is str
                and base_tier
                and streak.__class__ is int
                and streak >= 0
                and failures.__class__ is int
                and failures >= 0
            ):
                return cls(tier, base_tier, streak, failures)
        return cls._checked(data)

    @classmethod
    def _checked(cls, data: Mapping[str, Any]) -> TierState:
        """`from_dict`, each requirement checked in turn to name the first unmet."""
        if not isinstance(data, Mapping):
            raise RiskError(
                f"tier state: expected an object, found {type(data).__name__}"
            )
        unknown = sorted(set(data) - _STATE_KEYS)
        if unknown:
            raise RiskError(f"tier state: unknown keys {', '.join(unknown)}")
        for key in ("tier", "base_tier"):
            if not isinstance(data.get(key), str) or not data[key]:
                raise RiskError(
                    f"tier state: {key} must be a tier name, found {data.get(key)!r}"
                )
        for key in ("clean_streak", "consecutive_failures"):
            value = data.get(key, 0)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise RiskError(
                    f"tier state: {key} must be an integer >= 0, found {value!r}"
                )
        return cls(
            tier=data["tier"],
            base_tier=data["base_tier"],
            clean_streak=data.get("clean_streak", 0),
            consecutive_failures=data.get("consecutive_failures", 0),
        )


def _holds(
    rule: TierRule | EscalationRule, facts: Facts
) -> tuple[bool, Mapping[str, Any]]:
    """Evaluate a rule's condition, fail closed; the map explains an assumption."""
    try:
        return bool(rule.condition(facts)), _CERTAIN
    except GovsvcError as exc:
        return True, _assumed(rule, exc)


_CERTAIN: Mapping[str, Any] = MappingProxyType({})  # nothing was assumed


def _assumed(rule: TierRule | EscalationRule, exc: GovsvcError) -> dict[str, Any]:
    """Why a condition that could not be evaluated counts as holding."""
    if isinstance(exc, MissingFact):
        log.debug(
            "%s:%s needs missing fact %s; counted as holding",
            rule.source.file,
            rule.source.line,
            exc.path,
        )
        return {"assumed": True, "missing": exc.path}
    log.debug(
        "%s:%s failed (%s); counted as holding",
        rule.source.file,
        rule.source.line,
        exc,
    )
    return {"assumed": True, "error": str(exc)}


def _source(rule: TierRule | EscalationRule) -> dict[str, Any]:
    src = {"rule": rule.text, "file": rule.source.file, "line": rule.source.line}
    if rule.source.policy:
        src["policy"] = rule.source.policy
    return src


def place(
    rules: Sequence[TierRule], tiers: Sequence[str], facts: Facts
) -> tuple[int, list[dict[str, Any]]]:
    """(index of the base tier, explanation): the highest tier whose rule holds."""
    base = 0
    explained: list[dict[str, Any]] = []
    for rule in rules:
        held, why = _holds(rule, facts)
        if held:
            index = tiers.index(rule.tier)
            if index > base:  # max(), without the cost of a builtin call
                base = index
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
    """(steps, explanation): the steps of every escalation rule that holds, summed."""
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


def check_ladder(
    tiers: Sequence[str],
    placement: Sequence[TierRule],
    escalation: Sequence[EscalationRule],
) -> None:
    if not tiers or len(set(tiers)) != len(tiers):
        raise RiskError(
            f"the tier ladder must list distinct tiers, found {list(tiers)}"
        )
    for rule in placement:
        if rule.tier not in tiers:
            raise RiskError(
                f"{rule.source.file}:{rule.source.line}: tier {rule.tier!r} is not on "
                f"the ladder ({', '.join(tiers)})"
            )
    for esc in escalation:
        if esc.steps < 1:
            raise RiskError(
                f"{esc.source.file}:{esc.source.line}: escalate by {esc.steps}; "
                "expected a whole number of steps, at least 1"
            )
