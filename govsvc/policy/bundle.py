"""A compiled policy bundle and what evaluating it gives.

`Bundle.evaluate(facts)` runs the one generated function over every rule, then builds
a `Reason` for each rule that fired (its message, observed value and threshold are
computed only then). Effects combine deny over review over warn over allow. A rule
that needs a fact the request lacks gives a reason "missing fact X" with its policy's
`on missing` effect (review unless the policy says otherwise): it never passes.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from govsvc.facts import Facts, MissingFact
from govsvc.policy import nodes as n
from govsvc.risk.model import RiskModel

log = logging.getLogger(__name__)

VERDICTS = ("allow", "warn", "review", "deny")
RANK = {verdict: rank for rank, verdict in enumerate(VERDICTS)}


@dataclass(slots=True)  # not frozen: a frozen dataclass costs a microsecond to build
class Reason:
    effect: str
    message: str
    policy: str
    file: str
    line: int
    rule: str
    observed: Any = None
    threshold: Any = None
    missing_fact: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "effect": self.effect,
            "message": self.message,
            "policy": self.policy,
            "file": self.file,
            "line": self.line,
            "rule": self.rule,
            "observed": self.observed
            if self.observed.__class__ is not tuple
            else _jsonable(self.observed),
            "threshold": self.threshold
            if self.threshold.__class__ is not tuple
            else _jsonable(self.threshold),
            "missing_fact": self.missing_fact,
        }


@dataclass(frozen=True)
class Evaluation:
    verdict: str
    reasons: tuple[Reason, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"verdict": self.verdict, "reasons": [r.to_dict() for r in self.reasons]}


def _jsonable(value: Any) -> Any:
    # Lists in policies are tuples at run time; JSON wants lists.
    if value.__class__ is tuple:
        return [_jsonable(v) for v in value]
    return value


def show(value: Any) -> str:
    """A value as a message shows it: 0.07, 12, credit, a, b."""
    kind = value.__class__
    if kind is str:
        return value
    if kind is float:
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return f"{value:.4g}"
    if kind is bool:
        return "true" if value else "false"
    if value is None:
        return "?"  # a figure that could not be computed
    if kind is int:
        return str(value)
    if kind is tuple or kind is list:  # before isinstance, which costs more
        return _show_items(value)
    if isinstance(value, list | tuple):
        return ", ".join(show(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True, default=str)
    return str(value)


def _show_items(items: list[Any] | tuple[Any, ...]) -> str:
    # A list of names (failing groups, purposes) is joined as it is: a string shows
    # as itself, and a call of show per item costs more than the join.
    for item in items:
        if item.__class__ is not str:
            return ", ".join([show(v) for v in items])
    return ", ".join(items)


@dataclass
class CompiledRule:
    """One rule with its generated functions; `index` is its place in the bundle."""

    index: int
    policy: str
    file: str
    line: int
    effect: str
    name: str
    on_missing: str
    slow: Callable[..., None]
    # (observed, threshold, message) for the bindings the rule fired with
    render: Callable[[Facts, tuple[Any, ...]], tuple[Any, Any, str]]

    def reason(self, facts: Facts, bindings: tuple[Any, ...]) -> Reason:
        observed, threshold, message = self.render(facts, bindings)
        return Reason(
            self.effect,
            message,
            self.policy,
            self.file,
            self.line,
            self.name,
            observed,
            threshold,
        )

    def record(self, facts: Facts, bindings: tuple[Any, ...]) -> dict[str, Any]:
        """`reason(...).to_dict()`, without the Reason in between: the keys and
        values of `Reason.to_dict`, in its order (tests/policy/test_fuzz.py checks)."""
        observed, threshold, message = self.render(facts, bindings)
        return {
            "effect": self.effect,
            "message": message,
            "policy": self.policy,
            "file": self.file,
            "line": self.line,
            "rule": self.name,
            "observed": observed
            if observed.__class__ is not tuple
            else _jsonable(observed),
            "threshold": threshold
            if threshold.__class__ is not tuple
            else _jsonable(threshold),
            "missing_fact": None,
        }

    def missing(self, path: str) -> Reason:
        return Reason(
            self.on_missing,
            f"missing fact {path} (needed by {self.policy}/{self.name})",
            self.policy,
            self.file,
            self.line,
            self.name,
            missing_fact=path,
        )

    def failed(self, exc: Exception) -> Reason:
        return Reason(
            self.on_missing,
            f"cannot evaluate {self.policy}/{self.name}: {exc}; check the "
            "facts' types against the fact schema",
            self.policy,
            self.file,
            self.line,
            self.name,
        )


@dataclass
class CompiledPolicy:
    name: str
    file: str
    line: int
    on_missing: str
    rules: list[CompiledRule]
    applies: Callable[[Facts], bool] | None  # the safe version, for the slow path


@dataclass
class Bundle:
    """A compiled set of policy files: evaluate it, quote its digest, read its risk."""

    sources: dict[str, str]  # file name -> canonical text
    digest: str
    risk_model: RiskModel
    files: list[n.File] = field(repr=False)
    _policies: list[CompiledPolicy] = field(repr=False)
    _rules: list[CompiledRule] = field(repr=False)
    _fast: Callable[[Facts, list[Any]], None] = field(repr=False)
    python_source: str = field(repr=False, default="")

    @property
    def policies(self) -> list[str]:
        return [p.name for p in self._policies]

    def policy_files(self) -> dict[str, str]:
        return {p.name: p.file for p in self._policies}

    def evaluate(
        self, facts: Facts, *, only: Collection[str] | None = None
    ) -> Evaluation:
        """Evaluate every rule (or only those of the named policies) on `facts`."""
        fired: list[tuple[int, tuple[Any, ...] | None]] = []
        self._fast(facts, fired)

        reasons: list[Reason] = []
        for index, bindings in fired:
            if bindings is None:
                self._slow(index, facts, reasons)
                continue
            reasons.append(self._rules[index].reason(facts, bindings))

        if only is not None:
            reasons = [r for r in reasons if r.policy in only]
        return Evaluation(_verdict([r.effect for r in reasons]), tuple(reasons))

    def evaluate_records(self, facts: Facts) -> tuple[str, list[dict[str, Any]]]:
        """`evaluate(facts)` as a decision records it: the verdict, and each reason
        as `Reason.to_dict` gives it.

        The records of rules that fired on the fast path are built directly: a
        Reason built only to be read back costs a microsecond per reason.
        """
        fired: list[tuple[int, tuple[Any, ...] | None]] = []
        self._fast(facts, fired)

        records: list[dict[str, Any]] = []
        effects: list[str] = []
        for index, bindings in fired:
            if bindings is None:
                reasons: list[Reason] = []
                self._slow(index, facts, reasons)
                records += [reason.to_dict() for reason in reasons]
                effects += [reason.effect for reason in reasons]
                continue
            rule = self._rules[index]
            records.append(rule.record(facts, bindings))
            effects.append(rule.effect)

        return _verdict(effects), records

    def _slow(self, index: int, facts: Facts, reasons: list[Reason]) -> None:
        """The safe path for what the fast one could not decide: a policy's
        `applies` (a negative index) or one rule."""
        if index < 0:
            self._slow_policy(self._policies[-index - 1], facts, reasons)
        else:
            self._slow_rule(self._rules[index], facts, reasons)

    def _slow_policy(
        self, policy: CompiledPolicy, facts: Facts, reasons: list[Reason]
    ) -> None:
        assert policy.applies is not None
        try:
            applies = policy.applies(facts)
        except MissingFact as exc:
            reasons.append(
                Reason(
                    policy.on_missing,
                    f"missing fact {exc.path} (needed by {policy.name}/applies)",
                    policy.name,
                    policy.file,
                    policy.line,
                    "applies",
                    missing_fact=exc.path,
                )
            )
            return
        except Exception as exc:
            reasons.append(
                Reason(
                    policy.on_missing,
                    f"cannot evaluate {policy.name}/applies: {exc}",
                    policy.name,
                    policy.file,
                    policy.line,
                    "applies",
                )
            )
            return
        if applies:
            for rule in policy.rules:
                self._slow_rule(rule, facts, reasons)

    def _slow_rule(
        self, rule: CompiledRule, facts: Facts, reasons: list[Reason]
    ) -> None:
        seen: set[str] = set()

        def fire(bindings: tuple[Any, ...]) -> None:
            reasons.append(rule.reason(facts, bindings))

        def fail(exc: Exception) -> None:
            if isinstance(exc, MissingFact):
                if exc.path not in seen:
                    seen.add(exc.path)
                    reasons.append(rule.missing(exc.path))
            else:
                log.debug("rule %s/%s failed: %s", rule.policy, rule.name, exc)
                reasons.append(rule.failed(exc))

        rule.slow(facts, fire, fail)


def _verdict(effects: Iterable[str]) -> str:
    """The highest of the effects, allow when there is none (a loop: max() over a
    generator costs a microsecond more per evaluation)."""
    rank = 0
    for effect in effects:
        effect_rank = RANK[effect]
        if effect_rank > rank:
            rank = effect_rank
    return VERDICTS[rank]


def strip_nulls(facts: Any) -> Any:
    """JSON null is an absent fact: drop null values from maps (recursively)."""
    if isinstance(facts, Mapping):
        return {k: strip_nulls(v) for k, v in facts.items() if v is not None}
    if isinstance(facts, list):
        return [strip_nulls(v) for v in facts]
    return facts
