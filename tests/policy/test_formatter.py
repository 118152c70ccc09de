"""The formatter: canonical layout, comments kept, idempotent."""

from __future__ import annotations

from pathlib import Path

import pytest

from govsvc.policy import PolicySyntaxError, format_source

MESSY = """\
# about this file
policy   p   "desc"
  deny  gap   "x"   when   a.b>1   and(c or d)   # trailing
  # before the let
  let   x=[1,2,3]
  applies when stage=="production"
test "t" given model.domain="credit" , stage = "canary"
  expect   deny
# at the end
"""

CANONICAL = """\
# about this file
policy p
  "desc"

  deny gap "x"
    when a.b > 1 and (c or d)  # trailing

  # before the let
  let x = [1, 2, 3]

  applies when stage == "production"

test "t"
  given model.domain = "credit", stage = "canary"
  expect deny

# at the end
"""


def test_format_source_canonical_layout() -> None:
    assert format_source(MESSY) == CANONICAL


def test_format_source_is_idempotent() -> None:
    assert format_source(CANONICAL) == CANONICAL


# (written, canonical expression) : parentheses only where precedence needs them
PRECEDENCE = [
    ("(a + b) * c", "(a + b) * c"),
    ("a + (b * c)", "a + b * c"),
    ("a - (b - c)", "a - (b - c)"),
    ("(a - b) - c", "a - b - c"),
    ("not (a and b)", "not (a and b)"),
    ("(not a) and b", "not a and b"),
    ("-(a + b)", "-(a + b)"),
    ("(a or b) and c", "(a or b) and c"),
    ("a or (b and c)", "a or b and c"),
]


@pytest.mark.parametrize(("written", "canonical"), PRECEDENCE)
def test_format_source_keeps_needed_parentheses(written: str, canonical: str) -> None:
    text = format_source(f"policy p let x = {written}\n")

    assert text == f"policy p\n\n  let x = {canonical}\n"


def test_format_source_breaks_long_conditions() -> None:
    condition = " and ".join(f"fairness.attribute_{i}.gap > 0.05" for i in range(4))

    text = format_source(f'policy p deny "x" when {condition}')

    assert text.splitlines()[3:] == [
        "    when fairness.attribute_0.gap > 0.05",
        "      and fairness.attribute_1.gap > 0.05",
        "      and fairness.attribute_2.gap > 0.05",
        "      and fairness.attribute_3.gap > 0.05",
    ]
    assert format_source(text) == text


def test_format_source_syntax_error_raises() -> None:
    with pytest.raises(PolicySyntaxError, match="unterminated string"):
        format_source('policy p deny "x', "bad.policy")


@pytest.mark.parametrize("path", sorted(Path("policies").glob("*.policy")), ids=str)
def test_format_source_shipped_policies_are_canonical(path: Path) -> None:
    text = path.read_text()

    assert format_source(text, str(path)) == text
