"""The parser: known answers for good and bad text."""

from __future__ import annotations

import pytest

from govsvc.policy import PolicySyntaxError
from govsvc.policy import nodes as n
from govsvc.policy.parser import MAX_NESTING, parse_source

GOOD = """\
# leading comment
policy fairness-baseline
  "No group is disadvantaged."
  applies when model.domain in ["credit", "hiring"] and stage != "staging"  # scope
  on missing deny
  let max_gap = 5%
  deny gap "gap on {attribute} is {value}"
    when fairness[attribute].groups.women.for > max_gap
    for each attribute in protected_attributes
  review "drift" when count(f in drift.features where f.psi >= 0.25) > 0
  warn "worst" when max(f.psi for name, f in drift.features where name != "x") > 0.1
  tier high when model.domain == "credit"
  escalate by 1 when drift.critical_alerts > 0
  lower after 3 clean evaluations
  minimum group size 30
  score metric demographic_parity_difference weight 1 tolerance 5%
  score attribute race weight 1.5
  score other attributes weight 1
  exposure drift weight 0.3

test "a \\"quoted\\" name"
  given model.domain = "credit", fairness.gender = {min_impact_ratio: 0.9},
    drift.alerts = [{feature: "age", "severity": "critical"}], uncertainty.ece = -1%
  expect allow
  expect tier high
  expect reason "gap"
"""


def test_parse_source_good_file_builds_every_item() -> None:
    file = parse_source(GOOD, "good.policy")

    (policy,) = file.policies
    kinds = [type(item).__name__ for item in policy.items]
    assert kinds == [
        "Applies", "OnMissing", "Let", "Rule", "Rule", "Rule", "TierRule", "Escalate",
        "LowerAfter", "MinGroup", "ScoreMetric", "ScoreAttribute", "ScoreOther",
        "Exposure",
    ]  # fmt: skip
    assert policy.name == "fairness-baseline"
    assert policy.description == "No group is disadvantaged."


def test_parse_source_percent_is_a_fraction() -> None:
    file = parse_source(GOOD, "good.policy")

    let = file.policies[0].items[2]
    assert isinstance(let, n.Let) and isinstance(let.value, n.Literal)
    assert let.value.value == pytest.approx(0.05)
    assert let.value.text == "5%"


def test_parse_source_keyword_after_dot_is_a_field() -> None:
    file = parse_source(GOOD, "good.policy")

    rule = file.policies[0].items[3]
    assert isinstance(rule, n.Rule) and isinstance(rule.condition, n.Binary)
    path = rule.condition.left
    assert isinstance(path, n.Path)
    assert isinstance(path.segments[-1], n.Field) and path.segments[-1].name == "for"


def test_parse_source_test_values_are_json_like() -> None:
    file = parse_source(GOOD, "good.policy")

    (test,) = file.tests
    assert test.name == 'a "quoted" name'
    values = {".".join(a.path): a.value for a in test.given}
    assert values["fairness.gender"] == {"min_impact_ratio": 0.9}
    assert values["drift.alerts"] == [{"feature": "age", "severity": "critical"}]
    assert values["uncertainty.ece"] == pytest.approx(-0.01)
    assert [(e.kind, e.value) for e in test.expects] == [
        ("verdict", "allow"),
        ("tier", "high"),
        ("reason", "gap"),
    ]


def test_parse_source_collects_comments_with_their_lines() -> None:
    file = parse_source(GOOD, "good.policy")

    assert [(c.line, c.own_line) for c in file.comments] == [(1, True), (4, False)]


def test_parse_source_empty_file_is_empty() -> None:
    file = parse_source("", "empty.policy")

    assert file.policies == [] and file.tests == []


# (text, code, line, column, message pattern)
BAD = [
    ('policy p\n  deny "abc when x', "P003", 2, 8, "unterminated string"),
    ('policy p deny "a" when 1 +', "P001", 1, 27, "unexpected end of file"),
    ("\x00\x01", "P002", 1, 1, "unexpected character U\\+0000"),
    ("policy", "P001", 1, 7, "expected a policy name"),
    ('policy p deny "a\\q" when x', "P004", 1, 17, "unknown escape"),
    ('policy p deny "a" when x > > 1', "P001", 1, 28, "unexpected comparison '>'"),
    ("policy p escalate by 1.5 when x", "P007", 1, 22, "whole number"),
    ("policy p let x = " + "-" * 60 + "1", "P005", 1, 18 + MAX_NESTING, "nested"),
    ('test "t" expect maybe', "P001", 1, 17, "unexpected word 'maybe'"),
]


@pytest.mark.parametrize(("text", "code", "line", "column", "message"), BAD)
def test_parse_source_bad_text_reports_position(
    text: str, code: str, line: int, column: int, message: str
) -> None:
    with pytest.raises(PolicySyntaxError, match=message) as info:
        parse_source(text, "bad.policy")

    (diagnostic,) = info.value.diagnostics
    assert (diagnostic.code, diagnostic.line, diagnostic.column) == (code, line, column)
    assert diagnostic.file == "bad.policy"


def test_parse_source_huge_file_is_refused() -> None:
    text = "# " + "x" * (1024 * 1024)

    with pytest.raises(PolicySyntaxError, match="split it into several policy files"):
        parse_source(text, "huge.policy")


def test_diagnostic_render_puts_a_caret_under_the_fault() -> None:
    text = 'policy p\n  deny "a" when x > > 1\n'

    with pytest.raises(PolicySyntaxError) as info:
        parse_source(text, "bad.policy")

    rendered = info.value.diagnostics[0].render(text)
    assert rendered.splitlines()[1:] == [
        '      deny "a" when x > > 1',
        "                        ^",
    ]
