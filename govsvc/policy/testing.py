"""Running the `test` blocks of a bundle.

A test builds facts from its `given` assignments, evaluates the policies it tests
(the policies of its own file, or for `x_test.policy` those of `x.policy` beside it)
and compares the verdict, the tier and the reasons with its `expect` lines.

Risk: when a test does not set `risk.tier` itself, the runner asks `govsvc.risk` for
the tier with the bundle's risk model and merges the result into `facts["risk"]`
(values the test gives win), so `expect tier high` tests the bundle's tier rules.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from govsvc.errors import GovsvcError
from govsvc.policy import nodes as n
from govsvc.policy.bundle import Bundle, Evaluation

log = logging.getLogger(__name__)

TEST_SUFFIX = "_test.policy"


@dataclass
class TestResult:
    file: str
    line: int
    name: str
    failures: list[str] = field(default_factory=list)
    evaluation: Evaluation | None = None

    @property
    def passed(self) -> bool:
        return not self.failures

    def render(self) -> str:
        head = f'{self.file}:{self.line}: test "{self.name}"'
        if self.passed:
            return f"{head} passed"
        lines = [f"{head} FAILED"]
        lines += [f"    {failure}" for failure in self.failures]
        if self.evaluation is not None and self.evaluation.reasons:
            lines.append("    reasons:")
            lines += [
                f"      {r.effect}: {r.message} ({r.file}:{r.line})"
                for r in self.evaluation.reasons
            ]
        return "\n".join(lines)


def facts_from(given: list[n.Assign]) -> dict[str, Any]:
    facts: dict[str, Any] = {}
    for assign in given:
        target = facts
        for key in assign.path[:-1]:
            child = target.get(key)
            if not isinstance(child, dict):
                child = target[key] = {}
            target = child
        target[assign.path[-1]] = assign.value
    return facts


def scope_of(bundle: Bundle, filename: str) -> set[str]:
    """The policies a file's tests evaluate."""
    owners = bundle.policy_files()
    tested = {filename}
    path = PurePosixPath(filename)
    if path.name.endswith(TEST_SUFFIX):
        tested.add(str(path.with_name(path.name[: -len(TEST_SUFFIX)] + ".policy")))
    names = {name for name, file in owners.items() if file in tested}
    return names or set(owners)


def with_risk(bundle: Bundle, facts: dict[str, Any]) -> str | None:
    """Merge the computed risk into facts; return why it could not be, or None.

    A test that gives `risk.previous_tier` or `risk.consecutive_failures` describes
    the model's history: the runner passes it on as the previous tier state.
    """
    given_risk = facts.get("risk", {})
    if "tier" in given_risk:
        return None
    try:
        from govsvc.risk import TierState, evaluate_risk
    except ImportError:
        return "govsvc.risk is not available to compute the tier"

    previous = None
    if "previous_tier" in given_risk or "consecutive_failures" in given_risk:
        tier = str(given_risk.get("previous_tier", bundle.risk_model.tiers[0]))
        previous = TierState(
            tier=tier,
            base_tier=tier,
            consecutive_failures=int(given_risk.get("consecutive_failures", 0)),
        )
    try:
        result = evaluate_risk(facts, bundle.risk_model, previous)
    except GovsvcError as exc:
        return f"the risk computation failed: {exc}"
    facts["risk"] = {**dict(result.facts), **given_risk}
    return None


def run_test(bundle: Bundle, filename: str, test: n.Test) -> TestResult:
    result = TestResult(filename, test.pos.line, test.name)
    facts = facts_from(test.given)
    risk_problem = with_risk(bundle, facts)

    evaluation = bundle.evaluate(facts, only=scope_of(bundle, filename))
    result.evaluation = evaluation
    for expect in test.expects:
        where = f"(line {expect.pos.line})"
        if expect.kind == "verdict" and evaluation.verdict != expect.value:
            result.failures.append(
                f"expected {expect.value}, got {evaluation.verdict} {where}"
            )
        elif expect.kind == "tier":
            tier = facts.get("risk", {}).get("tier")
            if tier != expect.value:
                got = tier if tier is not None else f"no tier ({risk_problem})"
                result.failures.append(
                    f"expected tier {expect.value}, got {got} {where}"
                )
        elif expect.kind == "reason" and not any(
            expect.value in r.message for r in evaluation.reasons
        ):
            result.failures.append(
                f'expected a reason containing "{expect.value}", got none {where}'
            )
    return result


def run_tests(bundle: Bundle) -> list[TestResult]:
    """Every test of the bundle, in file and line order."""
    results = []
    for file in bundle.files:
        for test in file.tests:
            log.debug("running %s:%s %s", file.name, test.pos.line, test.name)
            results.append(run_test(bundle, file.name, test))
    return results


def summary(results: list[TestResult]) -> str:
    passed = sum(r.passed for r in results)
    return f"{passed} passed, {len(results) - passed} failed"
