"""Property tests: any input gets diagnostics or a result, never a traceback."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from govsvc.policy import (
    Diagnostic,
    PolicyError,
    check_sources,
    compile_sources,
    format_source,
)
from govsvc.policy.compiler import decode

FUZZ = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)

# Pieces of the language, so that random sequences reach the checker and compiler.
TOKENS = [
    "policy", "p", "q-r", '"msg {value}"', '"x"', "deny", "review", "warn", "when",
    "applies", "on", "missing", "let", "x", "=", "for", "each", "in", "not", "and",
    "or", "(", ")", "[", "]", ",", ".", "+", "-", "*", "/", "==", "!=", "<", ">=",
    "1", "0.25", "5%", "true", "false", "stage", "model", "domain", "drift",
    "features", "psi", "fairness", "protected_attributes", "count", "max", "has",
    "where", "tier", "high", "escalate", "by", "test", "given", "expect", "allow",
    "\n", "# c\n", '"', "{", "}", ":", "tiers", "score", "metric", "weight",
]  # fmt: skip

token_soup = st.lists(st.sampled_from(TOKENS), max_size=60).map(" ".join)


def assert_handled(text: str) -> None:
    """check_sources gives diagnostics; compile and format raise only PolicyError."""
    diagnostics = check_sources({"f.policy": text})
    assert all(isinstance(d, Diagnostic) for d in diagnostics)
    for diagnostic in diagnostics:
        diagnostic.render(text)

    try:
        bundle = compile_sources({"f.policy": text})
    except PolicyError as exc:
        assert exc.diagnostics and str(exc)
    else:
        bundle.evaluate({})
        assert format_source(bundle.sources["f.policy"]) == bundle.sources["f.policy"]


@FUZZ
@given(st.binary(max_size=300))
def test_fuzz_binary_garbage(data: bytes) -> None:
    try:
        text = decode(data, "f.policy")
    except PolicyError as exc:
        assert exc.diagnostics[0].code == "P009"
        return
    assert_handled(text)


@FUZZ
@given(st.text(max_size=300))
def test_fuzz_any_text(text: str) -> None:
    assert_handled(text)


@FUZZ
@given(token_soup)
def test_fuzz_token_soup(text: str) -> None:
    assert_handled(text)


@FUZZ
@given(token_soup)
def test_fuzz_format_is_idempotent(text: str) -> None:
    try:
        once = format_source(text)
    except PolicyError:
        return
    assert format_source(once) == once


@settings(max_examples=25, deadline=None)
@given(
    st.sampled_from(["(", "not ", "-", "[", "max(", "f(x in "]),
    st.integers(min_value=1, max_value=3000),
)
def test_fuzz_deep_nesting(opener: str, depth: int) -> None:
    closer = {"(": ")", "[": "]", "max(": ")", "f(x in ": " where true)"}.get(
        opener, ""
    )
    text = f'policy p\n  warn "x" when {opener * depth}1{closer * depth} > 0\n'

    assert_handled(text)


@FUZZ
@given(st.text(alphabet=st.characters(blacklist_characters='"\n'), max_size=50))
def test_fuzz_unterminated_string(body: str) -> None:
    diagnostics = check_sources({"f.policy": f'policy p\n  deny "{body}\n'})

    assert diagnostics and diagnostics[0].severity == "error"


def test_fuzz_empty_file_is_fine() -> None:
    assert check_sources({"f.policy": ""}) == []


def test_fuzz_huge_file_compiles() -> None:
    rules = "".join(
        f'  warn r{i} "psi {{value}}" when drift.max_psi > {i / 1000}\n'
        for i in range(1000)
    )

    bundle = compile_sources({"f.policy": f"policy p\n{rules}"})

    assert len(bundle.evaluate({"drift": {"max_psi": 0.0105}}).reasons) == 11


def test_fuzz_long_chain_is_refused() -> None:
    text = 'policy p\n  warn "x" when ' + " + ".join(["1"] * 500) + " > 0\n"

    diagnostics = check_sources({"f.policy": text})

    assert [d.code for d in diagnostics] == ["P005"]
    assert "more than 100 operands in one chain" in diagnostics[0].message


def test_fuzz_lets_built_from_lets_do_not_explode() -> None:
    lets = "".join(f"  let a{i} = a{i - 1} + a{i - 1}\n" for i in range(1, 40))
    warn = '  warn "x" when a39 > 0\n'

    constant = compile_sources({"f.policy": f"policy p\n  let a0 = 1\n{lets}{warn}"})
    with pytest.raises(PolicyError, match="expand to more code than govsvc compiles"):
        compile_sources(
            {"f.policy": f"policy p\n  let a0 = drift.max_psi\n{lets}{warn}"}
        )

    assert constant.evaluate({}).verdict == "warn"


# Well-typed programs, so that the compiler and the evaluator see many of them.
NUMBERS = st.sampled_from(
    ["1", "0.25", "5%", "drift.max_psi", "fairness.gender.min_impact_ratio",
     "uncertainty.ece", "count(protected_attributes)", "metrics.auc"]
)  # fmt: skip
STRINGS = st.sampled_from(['"credit"', "stage", "model.domain", "risk.tier"])


def _numbers(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.tuples(children, st.sampled_from("+-*/"), children).map(
            lambda t: f"({t[0]} {t[1]} {t[2]})"
        ),
        children.map(lambda c: f"-{c}"),
        children.map(lambda c: f"abs({c})"),
        st.tuples(children, children).map(lambda t: f"max({t[0]}, {t[1]})"),
        children.map(lambda c: f"count(f in drift.features where f.psi > {c})"),
        children.map(lambda c: f"sum(f.psi * {c} for f in drift.features)"),
        children.map(lambda c: f"min(v for k, v in metrics where v < {c})"),
    )


numbers = st.recursive(NUMBERS, _numbers, max_leaves=6)


def _conditions(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.tuples(children, st.sampled_from(["and", "or"]), children).map(
            lambda t: f"({t[0]} {t[1]} {t[2]})"
        ),
        children.map(lambda c: f"not {c}"),
        st.tuples(
            numbers, st.sampled_from(["<", "<=", ">", ">=", "==", "!="]), numbers
        ).map(" ".join),
        st.tuples(STRINGS, st.sampled_from(["==", "!="]), STRINGS).map(" ".join),
        STRINGS.map(lambda s: f'{s} in ["credit", "high", "production"]'),
        children.map(lambda c: f"any(a in drift.alerts where {c})"),
        children.map(lambda c: f"all(x in protected_attributes where {c})"),
    )


conditions = st.recursive(
    st.sampled_from(
        ["true", "dataset.consent_covered", "has(drift.alerts)", '"gender" in fairness']
    ),
    _conditions,
    max_leaves=8,
)

FACTS = st.recursive(
    st.one_of(
        st.none(), st.booleans(), st.floats(allow_nan=False), st.text(max_size=3)
    ),
    lambda children: st.one_of(
        st.lists(children, max_size=3),
        st.dictionaries(
            st.sampled_from(["gender", "psi", "min_impact_ratio", "a", "x"]),
            children,
            max_size=3,
        ),
    ),
    max_leaves=10,
)
ROOTS = ["model", "stage", "drift", "fairness", "metrics", "dataset", "risk",
         "uncertainty", "protected_attributes"]  # fmt: skip


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(conditions, st.dictionaries(st.sampled_from(ROOTS), FACTS, max_size=5))
def test_fuzz_programs_check_compile_and_evaluate(condition: str, facts: dict) -> None:
    text = f'policy p\n  warn "got {{value}}" when {condition}\n'

    try:
        bundle = compile_sources({"f.policy": text})
    except PolicyError as exc:
        assert exc.diagnostics
        return

    evaluation = bundle.evaluate(facts)
    assert evaluation.verdict in ("allow", "warn", "review")
    for reason in evaluation.reasons:
        reason.to_dict()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.binary(max_size=200), token_soup.map(str.encode)))
def test_fuzz_cli_check_exits_0_or_1(data: bytes) -> None:
    import contextlib
    import io
    import tempfile
    from pathlib import Path

    from govsvc.cli import main

    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "f.policy"
        path.write_bytes(data)
        with (
            contextlib.redirect_stdout(io.StringIO()),
            contextlib.redirect_stderr(io.StringIO()),
        ):
            status = main(["policy", "check", str(path)])

    assert status in (0, 1)


def _facts_of(fact_type: object, depth: int = 0) -> st.SearchStrategy[object]:
    """Facts shaped by the schema, any of them absent or null."""
    from govsvc.facts import BOOL, NUMBER, ListOf, MapOf, Record

    if fact_type == NUMBER:
        return st.floats(min_value=-2, max_value=2, allow_nan=False)
    if fact_type == BOOL:
        return st.booleans()
    if isinstance(fact_type, ListOf):
        item = st.sampled_from(["gender", "race", "credit"])
        if fact_type.item != fact_type.item.__class__("string"):
            item = _facts_of(fact_type.item, depth + 1)  # type: ignore[assignment]
        return st.lists(item, max_size=3)
    if isinstance(fact_type, MapOf):
        return st.dictionaries(
            st.sampled_from(["gender", "race", "auc", "income"]),
            _facts_of(fact_type.value, depth + 1),
            max_size=3,
        )
    if isinstance(fact_type, Record):
        return st.fixed_dictionaries(
            {},
            optional={
                name: st.one_of(st.none(), _facts_of(field.type, depth + 1))
                for name, field in fact_type.fields.items()
            },
        )
    return st.sampled_from(["credit", "production", "high", "canary", "x"])


def _slow_only(bundle: object) -> object:
    """The bundle with its fast path replaced by 'evaluate everything safely'."""
    import dataclasses

    policies = bundle._policies  # type: ignore[attr-defined]
    rules = bundle._rules  # type: ignore[attr-defined]

    def fast(facts: object, fired: list) -> None:
        for index, policy in enumerate(policies):
            if policy.applies is not None:
                fired.append((-index - 1, None))
            else:
                fired.extend((rules.index(rule), None) for rule in policy.rules)

    return dataclasses.replace(bundle, _fast=fast)  # type: ignore[type-var]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(conditions, _facts_of(__import__("govsvc.facts").facts.SCHEMA))
def test_fuzz_fast_and_safe_paths_agree(condition: str, facts: dict) -> None:
    text = (
        "policy p\n  applies when has(stage) or true\n\n"
        f'  warn "got {{value}} {{threshold}}" when {condition}\n\n'
        '  review "each {attribute}" when fairness[attribute].min_impact_ratio < 0.8\n'
        "    for each attribute in protected_attributes\n"
    )
    try:
        bundle = compile_sources({"f.policy": text})
    except PolicyError:
        return

    fast = bundle.evaluate(facts)
    safe = _slow_only(bundle).evaluate(facts)  # type: ignore[attr-defined]

    assert fast.to_dict() == safe.to_dict()
    # The records a decision keeps are the reasons' to_dict(), keys in order.
    verdict, records = bundle.evaluate_records(facts)
    assert {"verdict": verdict, "reasons": records} == fast.to_dict()
    assert [list(r) for r in records] == [list(r.to_dict()) for r in fast.reasons]


# Thresholds that are constants are shown at compile time (`ExprGen.threshold`);
# compiled without that, every threshold is shown per reason. Both must give the
# same reasons, whether the figures could be computed or not.
LET_NUMBERS = st.one_of(numbers, st.sampled_from(["limit", "limit * 2"]))
let_conditions = st.recursive(
    st.one_of(
        conditions,
        st.tuples(LET_NUMBERS, st.sampled_from(["<", ">=", "!="]), LET_NUMBERS).map(
            " ".join
        ),
        STRINGS.map(lambda s: f"{s} in names"),
        STRINGS.map(lambda s: f"{s} == label"),
    ),
    lambda children: st.tuples(children, st.sampled_from(["and", "or"]), children).map(
        lambda t: f"({t[0]} {t[1]} {t[2]})"
    ),
    max_leaves=4,
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(let_conditions, _facts_of(__import__("govsvc.facts").facts.SCHEMA))
def test_fuzz_constant_thresholds_shown_as_per_reason(
    condition: str, facts: dict
) -> None:
    from unittest import mock

    from govsvc.policy.codegen import ExprGen

    text = (
        "policy p\n"
        "  let limit = 5%\n"
        '  let names = ["credit", "high"]\n'
        '  let label = "production"\n'
        f'  warn "got {{value}} over {{threshold}}" when {condition}\n'
    )
    try:
        bundle = compile_sources({"f.policy": text})
    except PolicyError:
        return
    with mock.patch.object(ExprGen, "threshold", return_value=(False, None)):
        shown_per_reason = compile_sources({"f.policy": text})

    assert (
        bundle.evaluate(facts).to_dict() == shown_per_reason.evaluate(facts).to_dict()
    )
    # Rendered on facts where the rule need not hold, the figures may be unknown.
    (rule,) = bundle._rules
    (per_reason,) = shown_per_reason._rules
    assert rule.render(facts, ()) == per_reason.render(facts, ())
