"""The syntax tree of a policy file, as the parser builds it.

Every node carries the 1-based line and column where it starts (and the column where
it ends, on that line, for carets). Parentheses leave no node: the formatter puts
back the ones precedence needs. Literals keep their source text (`5%` stays `5%`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Pos:
    line: int
    column: int
    end_column: int = 0


# ---- expressions ------------------------------------------------------------


@dataclass
class Expr:
    pos: Pos


@dataclass
class Literal(Expr):
    value: Any  # float, str, bool
    text: str  # as written


@dataclass
class ListLit(Expr):
    items: list[Expr]


@dataclass
class Name(Expr):
    name: str


@dataclass
class Field:
    name: str
    pos: Pos


@dataclass
class Index:
    expr: Expr
    pos: Pos


Segment = Field | Index


@dataclass
class Path(Expr):
    root: Name
    segments: list[Segment]


@dataclass
class Call(Expr):
    func: str
    args: list[Expr]


@dataclass
class Comprehension(Expr):
    """`count(x in C where P)` (`value` is None) or `max(E for x in C where P)`."""

    func: str
    value: Expr | None
    names: list[str]
    source: Expr
    where: Expr | None


@dataclass
class Unary(Expr):
    op: str  # "-" or "not"
    operand: Expr


@dataclass
class Binary(Expr):
    """Comparisons, `in`, `not in`; `and`/`or` and arithmetic are n-ary chains."""

    op: str
    left: Expr
    right: Expr


@dataclass
class Chain(Expr):
    """`a and b and c`, `a or b`, or `a + b - c` (ops[i] joins operands i and i+1)."""

    ops: list[str]
    operands: list[Expr]


# ---- policy items -----------------------------------------------------------


@dataclass
class Item:
    pos: Pos


@dataclass
class Applies(Item):
    condition: Expr


@dataclass
class OnMissing(Item):
    effect: str


@dataclass
class Let(Item):
    name: str
    value: Expr


@dataclass
class ForEach:
    names: list[str]
    source: Expr
    pos: Pos


@dataclass
class Rule(Item):
    effect: str
    name: str | None
    message: str  # the decoded string
    message_text: str  # as written, quotes included
    message_pos: Pos
    condition: Expr
    loops: list[ForEach]


@dataclass
class Tiers(Item):
    names: list[tuple[str, Pos]]


@dataclass
class TierRule(Item):
    tier: str
    tier_pos: Pos
    condition: Expr


@dataclass
class Escalate(Item):
    steps: int
    steps_text: str
    condition: Expr


@dataclass
class LowerAfter(Item):
    count: int
    text: str


@dataclass
class MinGroup(Item):
    size: int
    text: str


@dataclass
class ScoreMetric(Item):
    metric: str
    metric_pos: Pos
    weight: Literal
    tolerance: Literal


@dataclass
class ScoreAttribute(Item):
    attribute: str
    weight: Literal


@dataclass
class ScoreOther(Item):
    weight: Literal


@dataclass
class Exposure(Item):
    component: str
    component_pos: Pos
    weight: Literal


@dataclass
class Policy:
    name: str
    pos: Pos
    description: str | None
    description_text: str | None
    items: list[Item] = field(default_factory=list)


# ---- tests ------------------------------------------------------------------


@dataclass
class Assign:
    path: list[str]
    value: Any  # JSON-like
    text: str  # the value as the formatter writes it
    pos: Pos


@dataclass
class Expect:
    kind: str  # "verdict", "tier" or "reason"
    value: str
    text: str  # as written
    pos: Pos


@dataclass
class Test:
    name: str
    name_text: str
    pos: Pos
    given: list[Assign]
    expects: list[Expect]


@dataclass
class Comment:
    text: str
    line: int
    own_line: bool  # nothing but whitespace before it on its line


@dataclass
class File:
    name: str
    policies: list[Policy]
    tests: list[Test]
    comments: list[Comment]
    order: list[Policy | Test]  # top-level blocks in source order
