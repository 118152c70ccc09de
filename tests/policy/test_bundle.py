"""Compiling and evaluating: verdicts, reasons, missing facts, the risk model."""

from __future__ import annotations

from typing import Any

import pytest

from govsvc.facts import MissingFact
from govsvc.policy import Bundle, PolicyCheckError, compile_sources, load_bundle
from govsvc.policy.errors import PolicyEvaluationError

FAIRNESS = """\
policy fairness
  "gaps"
  applies when stage != "staging"
  let max_gap = 5%

  deny gap "gap on {attribute} is {value}, above {threshold}"
    when fairness[attribute].demographic_parity_difference > max_gap
    for each attribute in protected_attributes

  warn "drift on {value} features"
    when count(f in drift.features where f.psi >= 0.1) > 0
"""


def bundle(text: str, name: str = "p.policy") -> Bundle:
    return compile_sources({name: text})


def facts(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "stage": "production",
        "protected_attributes": ["gender", "race"],
        "fairness": {
            "gender": {"demographic_parity_difference": 0.02},
            "race": {"demographic_parity_difference": 0.03},
        },
        "drift": {"features": {"age": {"psi": 0.01}, "income": {"psi": 0.02}}},
    }
    base.update(overrides)
    return base


def test_evaluate_nothing_fires_allows() -> None:
    evaluation = bundle(FAIRNESS).evaluate(facts())

    assert evaluation.verdict == "allow"
    assert evaluation.reasons == ()


def test_evaluate_firing_rule_gives_full_reason() -> None:
    given = facts(fairness={
        "gender": {"demographic_parity_difference": 0.07},
        "race": {"demographic_parity_difference": 0.01},
    })  # fmt: skip

    evaluation = bundle(FAIRNESS).evaluate(given)

    assert evaluation.verdict == "deny"
    assert [r.to_dict() for r in evaluation.reasons] == [
        {
            "effect": "deny",
            "message": "gap on gender is 0.07, above 0.05",
            "policy": "fairness",
            "file": "p.policy",
            "line": 6,
            "rule": "gap",
            "observed": 0.07,
            "threshold": 0.05,
            "missing_fact": None,
        }
    ]


def test_evaluate_deny_beats_review_beats_warn() -> None:
    text = (
        'policy a\n  warn "w" when stage == "production"\n'
        'policy b\n  review "r" when stage == "production"\n'
        'policy c\n  deny "d" when stage == "canary"\n'
    )
    compiled = bundle(text)

    assert compiled.evaluate({"stage": "production"}).verdict == "review"
    assert compiled.evaluate({"stage": "canary"}).verdict == "deny"
    assert compiled.evaluate({"stage": "staging"}).verdict == "allow"


def test_evaluate_missing_fact_reviews_by_default() -> None:
    given = facts()
    del given["fairness"]["race"]

    evaluation = bundle(FAIRNESS).evaluate(given)

    assert evaluation.verdict == "review"
    (reason,) = evaluation.reasons
    assert reason.missing_fact == "fairness.race.demographic_parity_difference"
    assert reason.message.startswith(
        "missing fact fairness.race.demographic_parity_difference"
    )


def test_evaluate_on_missing_deny_denies() -> None:
    text = 'policy p\n  on missing deny\n  warn "x" when dataset.records > 0\n'

    evaluation = bundle(text).evaluate({})

    assert evaluation.verdict == "deny"
    assert evaluation.reasons[0].missing_fact == "dataset.records"


def test_evaluate_null_fact_is_missing() -> None:
    text = 'policy p\n  warn "x" when dataset.records > 0\n'

    evaluation = bundle(text).evaluate({"dataset": {"records": None}})

    assert evaluation.reasons[0].missing_fact == "dataset.records"


def test_evaluate_missing_fact_in_applies_names_it() -> None:
    given = facts()
    del given["stage"]

    evaluation = bundle(FAIRNESS).evaluate(given)

    assert [(r.rule, r.missing_fact) for r in evaluation.reasons] == [
        ("applies", "stage")
    ]


def test_evaluate_applies_false_skips_policy() -> None:
    evaluation = bundle(FAIRNESS).evaluate({"stage": "staging"})

    assert evaluation.verdict == "allow"


def test_evaluate_has_guards_optional_fact() -> None:
    text = (
        "policy p\n"
        '  review "alerts"\n'
        "    when has(drift.critical_alerts) and drift.critical_alerts > 0\n"
    )
    compiled = bundle(text)

    assert compiled.evaluate({}).verdict == "allow"
    assert compiled.evaluate({"drift": {"critical_alerts": 2}}).verdict == "review"


def test_evaluate_wrong_fact_type_fails_closed() -> None:
    text = 'policy p\n  warn "x" when drift.max_psi > 0.25\n'

    evaluation = bundle(text).evaluate({"drift": {"max_psi": "high"}})

    assert evaluation.verdict == "review"
    assert evaluation.reasons[0].message.startswith("cannot evaluate p/warn-1")


def test_evaluate_two_name_loop_binds_key_and_value() -> None:
    text = (
        "policy p\n"
        '  warn "{name} at {value}" when feature.psi >= 0.1\n'
        "    for each name, feature in drift.features\n"
    )
    given = {"drift": {"features": {"age": {"psi": 0.3}, "zip": {"psi": 0.01}}}}

    evaluation = bundle(text).evaluate(given)

    assert [r.message for r in evaluation.reasons] == ["age at 0.3"]


# (condition, facts, fires)
EXPRESSIONS = [
    ("1 + 2 * 3 == 7", {}, True),
    ("(1 + 2) * 3 == 9", {}, True),
    ("10 - 4 - 3 == 3", {}, True),
    ("-drift.max_psi < 0", {"drift": {"max_psi": 0.2}}, True),
    ("abs(-2) == 2 and min(1, 2) == 1 and max(1, 3) == 3", {}, True),
    ("sum(metrics) == 3", {"metrics": {"auc": 1, "f1": 2}}, True),
    ("max(metrics) == 2", {"metrics": {"auc": 1, "f1": 2}}, True),
    ("count(protected_attributes) == 2", {"protected_attributes": ["a", "b"]}, True),
    ('"a" in protected_attributes', {"protected_attributes": ["a"]}, True),
    ('"b" not in protected_attributes', {"protected_attributes": ["a"]}, True),
    ('"auc" in metrics', {"metrics": {"auc": 0.9}}, True),
    ("any(a in drift.alerts where a.severity == \"critical\")",
     {"drift": {"alerts": [{"severity": "info"}, {"severity": "critical"}]}}, True),
    ("all(a in drift.alerts where a.severity == \"critical\")",
     {"drift": {"alerts": [{"severity": "info"}]}}, False),
    ("sum(f.psi for f in drift.features where f.psi > 0.1) == 0.5",
     {"drift": {"features": {"a": {"psi": 0.2}, "b": {"psi": 0.3}}}}, True),
    ('not (stage == "canary" or stage == "staging")', {"stage": "production"}, True),
    ('drift.alerts[0].feature == "age"', {"drift": {"alerts": [{"feature": "a"}]}},
     False),
    ("fairness.gender.groups.women.for > 0.1",
     {"fairness": {"gender": {"groups": {"women": {"for": 0.2}}}}}, True),
]  # fmt: skip


@pytest.mark.parametrize(("condition", "given", "fires"), EXPRESSIONS)
def test_evaluate_expression_known_answers(
    condition: str, given: dict[str, Any], fires: bool
) -> None:
    compiled = bundle(f'policy p\n  warn "x" when {condition}\n')

    evaluation = compiled.evaluate(given)

    assert evaluation.verdict == ("warn" if fires else "allow"), evaluation


def test_evaluate_fast_and_safe_paths_agree() -> None:
    # A float list index fails the fast path (Python wants an int) and succeeds safely.
    text = 'policy p\n  warn "x {value}" when drift.alerts[0].feature == "age"\n'

    evaluation = bundle(text).evaluate({"drift": {"alerts": [{"feature": "age"}]}})

    assert [r.message for r in evaluation.reasons] == ["x age"]


def test_evaluate_or_observes_the_branch_that_held() -> None:
    text = 'policy p\n  warn "x" when drift.max_psi > 0.5 or uncertainty.ece > 0.1\n'

    (reason,) = (
        bundle(text)
        .evaluate({"drift": {"max_psi": 0.1}, "uncertainty": {"ece": 0.2}})
        .reasons
    )

    assert (reason.observed, reason.threshold) == (0.2, 0.1)


def test_evaluate_only_filters_policies() -> None:
    text = 'policy a\n  warn "w" when true\npolicy b\n  deny "d" when true\n'

    evaluation = bundle(text).evaluate({}, only={"a"})

    assert evaluation.verdict == "warn"


def test_compile_sources_check_error_is_raised_whole() -> None:
    with pytest.raises(PolicyCheckError, match="unknown name stag; did you mean stage"):
        bundle('policy p\n  deny "x" when stag == "canary"\n')


def test_compile_sources_empty_is_refused() -> None:
    with pytest.raises(Exception, match="would allow everything"):
        compile_sources({})


def test_bundle_digest_ignores_whitespace_and_sees_edits() -> None:
    one = bundle('policy p\n  deny "x" when stage == "canary"\n')
    spaced = bundle('\n\npolicy   p\n\n  deny "x"\n      when stage=="canary"\n\n')
    edited = bundle('policy p\n  deny "x" when stage == "production"\n')

    assert one.digest == spaced.digest
    assert one.digest != edited.digest
    assert one.digest.startswith("sha256:") and len(one.digest) == 71


def test_bundle_digest_known_answer() -> None:
    import hashlib

    text = 'policy p\n\n  deny "x"\n    when stage == "canary"\n'
    expected = hashlib.sha256(b"p.policy\x00" + text.encode() + b"\x00").hexdigest()

    assert bundle(text).digest == f"sha256:{expected}"
    assert bundle(text).sources == {"p.policy": text}


RISK = """\
policy r
  tiers low, mid, top
  tier top when model.domain == "credit"
  escalate by 1 when drift.critical_alerts > 0
  lower after 5 clean evaluations
  minimum group size 50
  score metric demographic_parity_difference weight 2 tolerance 10%
  score attribute race weight 1.5
  score other attributes weight 0.5
  exposure drift weight 1
"""


def test_risk_model_filled_from_declarations() -> None:
    model = bundle(RISK, "risk.policy").risk_model

    assert model.tiers == ("low", "mid", "top")
    assert [(r.tier, r.text, r.source.line) for r in model.placement] == [
        ("top", 'model.domain == "credit"', 3)
    ]
    assert [(e.steps, e.source.policy) for e in model.escalation] == [(1, "r")]
    assert model.clean_evaluations_to_lower == 5
    assert model.min_group_size == 50
    (metric,) = model.score.metrics
    assert (metric.metric, metric.weight, metric.tolerance) == (
        "demographic_parity_difference",
        2.0,
        pytest.approx(0.1),
    )
    assert model.score.attribute_weights == {"race": 1.5}
    assert model.score.default_attribute_weight == 0.5
    assert dict(model.exposure.weights) == {"drift": 1.0}


def test_risk_condition_raises_missing_fact() -> None:
    model = bundle(RISK, "risk.policy").risk_model

    assert model.placement[0].condition({"model": {"domain": "credit"}}) is True
    with pytest.raises(MissingFact, match=r"missing fact drift\.critical_alerts"):
        model.escalation[0].condition({})
    with pytest.raises(PolicyEvaluationError, match="cannot evaluate the condition"):
        model.escalation[0].condition({"drift": {"critical_alerts": "many"}})


def test_load_bundle_shipped_policies() -> None:
    compiled = load_bundle("policies")

    assert "fairness-baseline" in compiled.policies
    assert compiled.risk_model.tiers == ("minimal", "limited", "high", "unacceptable")
    assert all(name.startswith("policies/") for name in compiled.sources)


def test_evaluate_null_never_passes_an_equality_or_a_negation() -> None:
    text = (
        'policy p\n  review "prod" when stage == "production"\n\n'
        '  deny "consent" when not dataset.consent_covered\n'
    )

    evaluation = bundle(text).evaluate(
        {"stage": None, "dataset": {"consent_covered": None}}
    )

    assert [r.missing_fact for r in evaluation.reasons] == [
        "stage",
        "dataset.consent_covered",
    ]


def test_bundle_digest_does_not_depend_on_the_directory() -> None:
    text = 'policy p\n  deny "x" when stage == "canary"\n'

    here = compile_sources({"p.policy": text})
    there = compile_sources({"some/dir/p.policy": text})

    assert here.digest == there.digest


def test_evaluate_nested_for_each_over_attributes_and_groups() -> None:
    text = (
        "policy p\n"
        '  warn "{attribute}/{group}: tpr {value}" when rates.tpr < 0.7\n'
        "    for each attribute in protected_attributes\n"
        "    for each group, rates in fairness[attribute].groups\n"
    )
    given = {
        "protected_attributes": ["gender", "race"],
        "fairness": {
            "gender": {"groups": {"women": {"tpr": 0.65}, "men": {"tpr": 0.8}}},
            "race": {"groups": {"a": {"tpr": 0.9}, "b": {}}},
        },
    }

    evaluation = bundle(text).evaluate(given)

    assert [(r.effect, r.message, r.missing_fact) for r in evaluation.reasons] == [
        ("warn", "gender/women: tpr 0.65", None),
        (
            "review",
            "missing fact fairness.race.groups.b.tpr (needed by p/warn-1)",
            "fairness.race.groups.b.tpr",
        ),
    ]
