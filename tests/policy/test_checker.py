"""The checker: one known diagnostic per snippet, and no cascades."""

from __future__ import annotations

import re

import pytest

from govsvc.policy import check_sources

# (policy body, code, message pattern); each body sits in `policy p` on line 2.
CASES = [
    (
        'deny "a" when model.domian == "x"',
        "P102",
        "no field domian; did you mean domain",
    ),
    (
        'deny "a" when modle.domain == "x"',
        "P101",
        "unknown name modle; did you mean model",
    ),
    ('deny "a" when lenn(protected_attributes) > 1', "P103", "unknown function lenn"),
    ('deny "a" when stage > 3', "P201", "`>` compares numbers; found a string"),
    ('deny "a" when stage == 3', "P201", "cannot compare a string with a number"),
    ('deny "a" when drift.max_psi', "P203", "true or false; found a number"),
    ('deny "a" when drift.max_psi + "x" > 1', "P202", "`\\+` needs a number"),
    ('deny "a" when count(stage) > 1', "P204", "count\\(...\\) needs a list or a map"),
    ('deny "a" when has(1)', "P204", "has\\(...\\) takes one fact path"),
    ('deny "a" when 1 > 2', "P301", "never fires: its condition is always false"),
    (
        'deny "a" when drift.max_psi > 0.3 and drift.max_psi < 0.2',
        "P301",
        "drift.max_psi > 0.3 and drift.max_psi < 0.2 cannot both hold",
    ),
    ('deny "a" when stage == "prod"', "P302", 'stage is never "prod"'),
    ('deny "a" when risk.tier == "hihg"', "P302", "did you mean high"),
    ('deny "a {valeu}" when stage == "canary"', "P101", "unknown name valeu"),
    ('deny "a {" when stage == "canary"', "P008", "lone brace"),
    (
        'deny "{count}" when stage == "canary"',
        "P101",
        "count is a function, not a value",
    ),
    (
        'deny "a" when x > 1 for each x in stage',
        "P205",
        "only go through a list or a map",
    ),
    ("let stage = 1", "P105", "hides the fact root stage"),
    ('tier hihg when stage == "canary"', "P401", "unknown tier hihg"),
    ('tier high when risk.tier == "high"', "P406", "cannot read risk.tier"),
    ("score metric dp weight 1 tolerance 5%", "P402", "unknown fairness metric dp"),
    (
        "score metric demographic_parity_difference weight 1 tolerance 0",
        "P405",
        "above 0",
    ),
    ("exposure drfit weight 1", "P403", "did you mean drift"),
    ("on missing deny\n  on missing warn", "P304", "already says `on missing`"),
]


@pytest.mark.parametrize(("body", "code", "message"), CASES)
def test_check_sources_reports_one_root_cause(
    body: str, code: str, message: str
) -> None:
    diagnostics = check_sources({"p.policy": f"policy p\n  {body}\n"})

    assert [d.code for d in diagnostics] == [code], diagnostics
    assert re.search(message, diagnostics[0].message)


def test_check_sources_unknown_name_does_not_cascade() -> None:
    text = 'policy p\n  deny "a" when max(modle.x, 1) + 2 > 3 and not modle.y\n'

    diagnostics = check_sources({"p.policy": text})

    assert [(d.code, d.column) for d in diagnostics] == [("P101", 21), ("P101", 49)]


def test_check_sources_reports_every_error_sorted() -> None:
    text = (
        "policy p\n"
        '  deny "a" when stage == 3\n'
        '  warn "b" when model.nam == "x"\n'
        '  review "c" when lenn(1) > 0\n'
    )

    diagnostics = check_sources({"p.policy": text})

    assert [(d.line, d.code) for d in diagnostics] == [
        (2, "P201"),
        (3, "P102"),
        (4, "P103"),
    ]


def test_check_sources_duplicate_policy_across_files() -> None:
    sources = {"a.policy": "policy same\n", "b.policy": "policy same\n"}

    diagnostics = check_sources(sources)

    assert [(d.file, d.code) for d in diagnostics] == [("b.policy", "P104")]
    assert "already defined at a.policy:1" in diagnostics[0].message


def test_check_sources_declared_tiers_replace_the_default() -> None:
    text = (
        "policy p\n"
        "  tiers low, mid, top\n"
        '  tier top when stage == "production"\n'
        '  tier high when stage == "canary"\n'
    )

    diagnostics = check_sources({"p.policy": text})

    assert [(d.line, d.code) for d in diagnostics] == [(4, "P401")]


def test_check_sources_test_given_checked_against_schema() -> None:
    text = (
        'test "t"\n'
        '  given model.domian = "credit", drift.max_psi = "high"\n'
        "  expect tier hgh\n"
    )

    diagnostics = check_sources({"t.policy": text})

    assert [d.code for d in diagnostics] == ["P102", "P201", "P401"]


def test_check_sources_syntax_errors_in_several_files() -> None:
    sources = {"a.policy": "policy", "b.policy": 'policy b deny "x'}

    diagnostics = check_sources(sources)

    assert [(d.file, d.code) for d in diagnostics] == [
        ("a.policy", "P001"),
        ("b.policy", "P003"),
    ]


def test_check_sources_shipped_policies_are_clean() -> None:
    from govsvc.policy import read_sources

    assert check_sources(read_sources("policies")) == []


def test_check_sources_reports_an_error_in_every_block() -> None:
    text = (
        "policy a\n"
        '  deny "x" when stage ==\n'
        "\n"
        "policy b\n"
        '  warn "y" when stag == "canary"\n'
        "\n"
        'test "t"\n'
        "  expect maybe\n"
    )

    diagnostics = check_sources({"f.policy": text})

    assert [(d.line, d.code) for d in diagnostics] == [
        (4, "P001"),
        (5, "P101"),
        (8, "P001"),
    ]
    assert "the one before it is unfinished" in diagnostics[0].message
