"""The test-block runner."""

from __future__ import annotations

from govsvc.policy import compile_sources
from govsvc.policy.testing import facts_from, run_tests, scope_of, summary

POLICY = """\
policy drift
  review "major drift" when drift.max_psi >= 0.25

test "stable passes"
  given drift.max_psi = 0.01
  expect allow

test "wrong on purpose"
  given drift.max_psi = 0.3
  expect allow
  expect reason "minor"
"""


def test_run_tests_reports_expected_against_got() -> None:
    bundle = compile_sources({"drift.policy": POLICY})

    results = run_tests(bundle)

    assert [r.passed for r in results] == [True, False]
    assert results[1].failures == [
        "expected allow, got review (line 10)",
        'expected a reason containing "minor", got none (line 11)',
    ]
    assert (
        results[1].render().startswith('drift.policy:8: test "wrong on purpose" FAILED')
    )
    assert summary(results) == "1 passed, 1 failed"


def test_scope_of_test_file_is_the_policy_beside_it() -> None:
    bundle = compile_sources(
        {
            "a/drift.policy": 'policy drift\n  warn "x" when true\n',
            "a/other.policy": 'policy other\n  deny "y" when true\n',
            "a/drift_test.policy": 'test "t"\n  expect warn\n',
        }
    )

    assert scope_of(bundle, "a/drift_test.policy") == {"drift"}
    assert [r.passed for r in run_tests(bundle)] == [True]


def test_facts_from_builds_nested_records() -> None:
    from govsvc.policy.parser import parse_source

    test = parse_source(
        'test "t" given a.b = 1, a.c = "x", d = [true] expect allow', "t.policy"
    ).tests[0]

    assert facts_from(test.given) == {"a": {"b": 1.0, "c": "x"}, "d": [True]}


def test_run_tests_computes_tier_with_the_bundle_risk_model() -> None:
    text = """\
policy tiers
  tier high when model.domain == "credit"

test "credit is high"
  given model.domain = "credit"
  expect tier high
"""
    results = run_tests(compile_sources({"t.policy": text}))

    assert [r.failures for r in results] == [[]]
