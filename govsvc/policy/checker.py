"""Type-checking policy files against the fact schema (`govsvc.facts.SCHEMA`).

The checker walks every file of a bundle once and reports, sorted by position:
unknown names and fields (with a "did you mean"), unknown functions, type mismatches,
conditions that are not true/false, duplicate policies, lets and tests, rules that can
never fire (a constant false condition, bounds that cannot both hold, a stage or tier
compared with a value it never takes), and risk declarations that do not fit
`govsvc.risk.model.RiskModel`. An expression whose type could not be worked out gets
the type UNKNOWN, which fits everywhere: one root cause, one diagnostic.
"""

from __future__ import annotations

import difflib
import logging
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from govsvc.facts import (
    ATTRIBUTE_METRICS,
    BOOL,
    NUMBER,
    RISK_COMPONENTS,
    SCHEMA,
    STAGES,
    STRING,
    TIERS,
    FactType,
    ListOf,
    MapOf,
    Record,
    Scalar,
)
from govsvc.policy import nodes as n
from govsvc.policy.analysis import const_value, path_text, walk
from govsvc.policy.errors import ERROR, Diagnostic
from govsvc.policy.functions import FUNCTIONS, MESSAGE_NAMES
from govsvc.policy.parser import parse_expression

log = logging.getLogger(__name__)

UNKNOWN = Scalar("unknown")
_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]")

# Facts whose string values are known in advance: comparing them with anything else
# is a rule that never fires. Tier facts take the bundle's tier names.
_STAGE_PATHS = {"stage": STAGES}
_TIER_PATHS = ("risk.tier", "risk.base_tier", "risk.previous_tier")


def _describe(t: FactType) -> str:
    if t == NUMBER:
        return "a number"
    if t == STRING:
        return "a string"
    if t == BOOL:
        return "true/false"
    if isinstance(t, Record):
        return "a record"
    return str(t)


def did_you_mean(name: str, candidates: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, sorted(set(candidates)), n=1, cutoff=0.6)
    return f"; did you mean {close[0]}?" if close else ""


def split_message(message: str) -> Iterator[tuple[str, str | None, int]]:
    """Yield (literal text, placeholder or None, offset) pieces of a rule message.

    `{expr}` is a placeholder, `{{` and `}}` are literal braces; a lone brace yields
    the placeholder "\\x00" so the checker can report it.
    """
    last = 0
    for match in _PLACEHOLDER.finditer(message):
        literal = message[last : match.start()]
        token = match.group(0)
        if token in ("{{", "}}"):
            yield literal + token[0], None, match.start()
        elif match.group(1) is not None:
            yield literal, match.group(1), match.start() + 1
        else:
            yield literal, "\x00", match.start()
        last = match.end()
    yield message[last:], None, last


@dataclass
class Symbol:
    kind: str  # "root", "let", "var", "message"
    type: FactType
    expr: n.Expr | None = None


class Scope:
    def __init__(self, parent: Scope | None = None) -> None:
        self.parent = parent
        self.names: dict[str, Symbol] = {}

    def lookup(self, name: str) -> Symbol | None:
        scope: Scope | None = self
        while scope is not None:
            if name in scope.names:
                return scope.names[name]
            scope = scope.parent
        return None

    def all_names(self) -> set[str]:
        names: set[str] = set()
        scope: Scope | None = self
        while scope is not None:
            names.update(scope.names)
            scope = scope.parent
        return names


def root_scope() -> Scope:
    scope = Scope()
    for name, field in SCHEMA.fields.items():
        scope.names[name] = Symbol("root", field.type)
    return scope


class Checker:
    """Checks a whole bundle: `check(files)` returns every diagnostic, sorted."""

    def __init__(self) -> None:
        self.diagnostics: list[Diagnostic] = []
        self.file = ""
        self.tiers: tuple[str, ...] = TIERS
        self.lets: dict[str, n.Expr] = {}

    # ---- reporting -----------------------------------------------------------

    def report(
        self, code: str, pos: n.Pos, message: str, severity: str = ERROR
    ) -> None:
        self.diagnostics.append(
            Diagnostic(
                code, self.file, pos.line, pos.column, message, severity, pos.end_column
            )
        )

    # ---- the bundle ----------------------------------------------------------

    def check(self, files: list[n.File]) -> list[Diagnostic]:
        self.tiers = self._bundle_tiers(files)
        self._bundle_duplicates(files)
        for file in files:
            self.file = file.name
            for policy in file.policies:
                self.policy(policy)
            seen: dict[str, n.Test] = {}
            for test in file.tests:
                if test.name in seen:
                    self.report(
                        "P502",
                        test.pos,
                        f'test "{test.name}" is already defined on line '
                        f"{seen[test.name].pos.line}; give each test its own name",
                    )
                seen.setdefault(test.name, test)
                self.test(test)
        return sorted(self.diagnostics, key=Diagnostic.sort_key)

    def _bundle_tiers(self, files: list[n.File]) -> tuple[str, ...]:
        declared: list[tuple[str, n.Tiers]] = []
        for file in files:
            for policy in file.policies:
                declared.extend(
                    (file.name, i) for i in policy.items if isinstance(i, n.Tiers)
                )
        for filename, item in declared[1:]:
            first_file, first = declared[0]
            self.file = filename
            self.report(
                "P404",
                item.pos,
                f"tiers are already declared at {first_file}:{first.pos.line}; "
                "a bundle declares its tiers once",
            )
        if not declared:
            return TIERS
        filename, item = declared[0]
        self.file = filename
        names: list[str] = []
        for name, pos in item.names:
            if name in names:
                self.report("P401", pos, f"tier {name} is listed twice")
            names.append(name)
        if len(names) < 2:
            self.report("P401", item.pos, "declare at least two tiers, lowest first")
        return tuple(names)

    def _bundle_duplicates(self, files: list[n.File]) -> None:
        """Policy names and the risk declarations that a bundle holds once."""
        policies: dict[str, str] = {}
        singles: dict[str, str] = {}
        for file in files:
            self.file = file.name
            for policy in file.policies:
                where = f"{file.name}:{policy.pos.line}"
                if policy.name in policies:
                    self.report(
                        "P104",
                        policy.pos,
                        f"policy {policy.name} is already defined at "
                        f"{policies[policy.name]}; rename one of them",
                    )
                policies.setdefault(policy.name, where)
                for item in policy.items:
                    key = _single_key(item)
                    if key is None:
                        continue
                    where = f"{file.name}:{item.pos.line}"
                    if key in singles:
                        self.report(
                            "P404",
                            item.pos,
                            f"{key} is already declared at {singles[key]}; a "
                            "bundle declares it once",
                        )
                    singles.setdefault(key, where)

    # ---- policies --------------------------------------------------------------

    def policy(self, policy: n.Policy) -> None:
        scope = Scope(root_scope())
        self.lets = {}
        seen_once: dict[type, n.Item] = {}
        for item in policy.items:
            if isinstance(item, n.Applies | n.OnMissing):
                if type(item) in seen_once:
                    what = (
                        "applies when" if isinstance(item, n.Applies) else "on missing"
                    )
                    self.report(
                        "P304",
                        item.pos,
                        f"policy {policy.name} already says `{what}` on line "
                        f"{seen_once[type(item)].pos.line}; join the two",
                    )
                seen_once.setdefault(type(item), item)
            self.item(item, scope)

    def item(self, item: n.Item, scope: Scope) -> None:
        if isinstance(item, n.Applies):
            self.condition(item.condition, scope, "applies when")
        elif isinstance(item, n.Let):
            self.let(item, scope)
        elif isinstance(item, n.Rule):
            self.rule(item, scope)
        elif isinstance(item, n.TierRule):
            self.tier_name(item.tier, item.tier_pos)
            self.no_tier_fact(
                item.condition, "tier rule", ("risk.tier", "risk.base_tier")
            )
            self.condition(item.condition, scope, f"tier {item.tier} when")
        elif isinstance(item, n.Escalate):
            if item.steps < 1:
                self.report("P405", item.pos, "escalate by at least 1 tier")
            self.no_tier_fact(item.condition, "escalation rule", ("risk.tier",))
            self.condition(item.condition, scope, "escalate when")
        elif isinstance(item, n.LowerAfter):
            if item.count < 1:
                self.report("P405", item.pos, "lower after at least 1 clean evaluation")
        elif isinstance(item, n.MinGroup):
            if item.size < 1:
                self.report("P405", item.pos, "the minimum group size is at least 1")
        elif isinstance(item, n.ScoreMetric):
            if item.metric not in ATTRIBUTE_METRICS:
                self.report(
                    "P402",
                    item.metric_pos,
                    f"unknown fairness metric {item.metric}"
                    + did_you_mean(item.metric, ATTRIBUTE_METRICS),
                )
            self.weight(item.weight)
            if item.tolerance.value <= 0:
                self.report(
                    "P405",
                    item.tolerance.pos,
                    f"a tolerance must be above 0, found {item.tolerance.text}",
                )
        elif isinstance(item, n.ScoreAttribute | n.ScoreOther):
            self.weight(item.weight)
        elif isinstance(item, n.Exposure):
            if item.component not in RISK_COMPONENTS:
                self.report(
                    "P403",
                    item.component_pos,
                    f"unknown exposure component {item.component}; expected one "
                    f"of {', '.join(RISK_COMPONENTS)}"
                    + did_you_mean(item.component, RISK_COMPONENTS),
                )
            self.weight(item.weight)

    def weight(self, literal: n.Literal) -> None:
        if literal.value < 0:
            self.report(
                "P405",
                literal.pos,
                f"a weight must not be negative, found {literal.text}",
            )

    def tier_name(self, name: str, pos: n.Pos) -> None:
        if name not in self.tiers:
            self.report(
                "P401",
                pos,
                f"unknown tier {name}; the tiers are {', '.join(self.tiers)}"
                + did_you_mean(name, self.tiers),
            )

    def no_tier_fact(self, expr: n.Expr, what: str, banned: tuple[str, ...]) -> None:
        for node in walk(expr):
            text = path_text(node)
            if text in banned:
                self.report(
                    "P406",
                    node.pos,
                    f"a {what} cannot read {text}: the tier is computed from "
                    "these rules",
                )

    def let(self, item: n.Let, scope: Scope) -> None:
        self.shadowing(item.name, item.pos, scope, "let")
        value_type = self.expr(item.value, scope)
        scope.names[item.name] = Symbol("let", value_type, item.value)
        self.lets[item.name] = item.value

    def shadowing(self, name: str, pos: n.Pos, scope: Scope, what: str) -> None:
        existing = scope.lookup(name)
        if name in MESSAGE_NAMES:
            self.report(
                "P105",
                pos,
                f"{what} {name}: `{name}` is reserved for the observed value and "
                "threshold in messages; choose another name",
            )
        elif existing is not None:
            kind = {
                "root": "the fact root",
                "let": "the let",
                "var": "the loop variable",
            }
            self.report(
                "P105",
                pos,
                f"{what} {name} hides {kind.get(existing.kind, '')} {name}; "
                "choose another name",
            )

    def rule(self, rule: n.Rule, scope: Scope) -> None:
        inner = Scope(scope)
        for loop in rule.loops:
            item_types = self.iteration(loop.source, len(loop.names), inner)
            for name, item_type in zip(loop.names, item_types, strict=True):
                self.shadowing(name, loop.pos, inner, "loop variable")
                inner.names[name] = Symbol("var", item_type)

        self.condition(rule.condition, inner, f"{rule.effect} when")
        self.never_fires(rule.condition, inner)
        self.message(rule, inner)

    def message(self, rule: n.Rule, scope: Scope) -> None:
        message_scope = Scope(scope)
        for name in MESSAGE_NAMES:
            message_scope.names[name] = Symbol("message", UNKNOWN)
        base = rule.message_pos
        for _literal, placeholder, offset in split_message(rule.message):
            if placeholder is None:
                continue
            # Offsets are into the decoded text; exact for messages without escapes.
            pos = n.Pos(
                base.line,
                base.column + 1 + offset,
                base.column + 1 + offset + len(placeholder),
            )
            if placeholder == "\x00":
                self.report(
                    "P008",
                    n.Pos(pos.line, pos.column - 1),
                    "a lone brace in a message; write {{ or }} for a brace, "
                    "{name} to insert a value",
                )
                continue
            expr = parse_expression(placeholder, self.file)
            if expr is None:
                self.report(
                    "P008",
                    pos,
                    f"cannot read the placeholder {{{placeholder}}}; write a name "
                    "or a path such as {model.name}",
                )
                continue
            for node in walk(expr):  # report at the placeholder, not inside it
                node.pos = pos
            self.expr(expr, message_scope)

    # ---- tests ---------------------------------------------------------------------

    def test(self, test: n.Test) -> None:
        for assign in test.given:
            self.given(assign)
        for expect in test.expects:
            if expect.kind == "tier":
                self.tier_name(expect.value, expect.pos)

    def given(self, assign: n.Assign) -> None:
        current: FactType = SCHEMA
        where = ""
        for name in assign.path:
            if isinstance(current, Record):
                if name not in current.fields:
                    self.report(
                        "P102",
                        assign.pos,
                        f"{where or 'the fact namespace'} has no field {name}"
                        + did_you_mean(name, current.fields),
                    )
                    return
                current = current.fields[name].type
            elif isinstance(current, MapOf):
                current = current.value
            else:
                self.report(
                    "P205",
                    assign.pos,
                    f"{where} is {_describe(current)}; it has no field {name}",
                )
                return
            where = f"{where}.{name}" if where else name
        if not _value_fits(assign.value, current):
            self.report(
                "P201",
                assign.pos,
                f"{where} is {_describe(current)}, but the test gives {assign.text}",
            )

    # ---- expressions --------------------------------------------------------------

    def condition(self, expr: n.Expr, scope: Scope, where: str) -> None:
        found = self.expr(expr, scope)
        if found not in (BOOL, UNKNOWN):
            self.report(
                "P203",
                expr.pos,
                f"`{where}` needs a condition that is true or false; found "
                f"{_describe(found)}",
            )
        self.known_values(expr)

    def iteration(self, source: n.Expr, names: int, scope: Scope) -> list[FactType]:
        found = self.expr(source, scope)
        if isinstance(found, ListOf):
            return [found.item] if names == 1 else [NUMBER, found.item]
        if isinstance(found, MapOf):
            return [found.value] if names == 1 else [STRING, found.value]
        if found != UNKNOWN:
            self.report(
                "P205",
                source.pos,
                f"can only go through a list or a map; found {_describe(found)}",
            )
        return [UNKNOWN] * names

    def expr(self, expr: n.Expr, scope: Scope) -> FactType:
        if isinstance(expr, n.Literal):
            if isinstance(expr.value, bool):
                return BOOL
            return NUMBER if isinstance(expr.value, float) else STRING
        if isinstance(expr, n.ListLit):
            return self.list_literal(expr, scope)
        if isinstance(expr, n.Name):
            return self.name(expr, scope)
        if isinstance(expr, n.Path):
            return self.path(expr, scope)
        if isinstance(expr, n.Call):
            return self.call(expr, scope)
        if isinstance(expr, n.Comprehension):
            return self.comprehension(expr, scope)
        if isinstance(expr, n.Unary):
            operand = self.expr(expr.operand, scope)
            wanted = BOOL if expr.op == "not" else NUMBER
            if operand not in (wanted, UNKNOWN):
                self.report(
                    "P202",
                    expr.operand.pos,
                    f"`{expr.op}` needs {_describe(wanted)}; "
                    f"found {_describe(operand)}",
                )
                return UNKNOWN
            return wanted
        if isinstance(expr, n.Chain):
            return self.chain(expr, scope)
        if isinstance(expr, n.Binary):
            return self.binary(expr, scope)
        raise AssertionError(f"unknown expression {expr!r}")

    def list_literal(self, expr: n.ListLit, scope: Scope) -> FactType:
        item: FactType = UNKNOWN
        for element in expr.items:
            found = self.expr(element, scope)
            if found == UNKNOWN:
                continue
            if item == UNKNOWN:
                item = found
            elif found != item:
                self.report(
                    "P201",
                    element.pos,
                    f"a list holds one kind of value: this item is "
                    f"{_describe(found)}, the first is {_describe(item)}",
                )
        return ListOf(item)

    def name(self, expr: n.Name, scope: Scope) -> FactType:
        symbol = scope.lookup(expr.name)
        if symbol is None:
            if expr.name in FUNCTIONS:
                self.report(
                    "P101",
                    expr.pos,
                    f"{expr.name} is a function, not a value; call it: "
                    f"{FUNCTIONS[expr.name]}",
                )
                return UNKNOWN
            hint = did_you_mean(expr.name, scope.all_names() | set(FUNCTIONS))
            self.report("P101", expr.pos, f"unknown name {expr.name}{hint}")
            return UNKNOWN
        return symbol.type

    def path(self, expr: n.Path, scope: Scope) -> FactType:
        current = self.name(expr.root, scope)
        where = expr.root.name
        for segment in expr.segments:
            if isinstance(segment, n.Index):
                key = self.expr(segment.expr, scope)
                if current == UNKNOWN:
                    continue
                if isinstance(current, MapOf):
                    if key not in (STRING, UNKNOWN):
                        self.report(
                            "P201",
                            segment.expr.pos,
                            f"{where} is keyed by {current.key} names (strings); "
                            f"found {_describe(key)}",
                        )
                    current = current.value
                elif isinstance(current, ListOf):
                    if key not in (NUMBER, UNKNOWN):
                        self.report(
                            "P201",
                            segment.expr.pos,
                            f"{where} is a list, indexed by number; found "
                            f"{_describe(key)}",
                        )
                    current = current.item
                elif isinstance(current, Record):
                    current = UNKNOWN  # a computed field name: checked at run time
                else:
                    self.report(
                        "P205",
                        segment.pos,
                        f"{where} is {_describe(current)}; it cannot be indexed",
                    )
                    current = UNKNOWN
                where = f"{where}[...]"
                continue

            if current == UNKNOWN:
                pass
            elif isinstance(current, Record):
                if segment.name in current.fields:
                    current = current.fields[segment.name].type
                else:
                    self.report(
                        "P102",
                        segment.pos,
                        f"{where} has no field {segment.name}"
                        + did_you_mean(segment.name, current.fields),
                    )
                    current = UNKNOWN
            elif isinstance(current, MapOf):
                current = current.value  # `fairness.gender`: a key written as a name
            else:
                self.report(
                    "P205",
                    segment.pos,
                    f"{where} is {_describe(current)}; it has no field {segment.name}",
                )
                current = UNKNOWN
            where = f"{where}.{segment.name}"
        return current

    def call(self, expr: n.Call, scope: Scope) -> FactType:
        func = expr.func
        if func not in FUNCTIONS:
            self.report(
                "P103",
                expr.pos,
                f"unknown function {func}"
                + (
                    did_you_mean(func, FUNCTIONS)
                    or f"; the functions are {', '.join(sorted(FUNCTIONS))}"
                ),
            )
            for arg in expr.args:
                self.expr(arg, scope)
            return UNKNOWN

        if func == "has":
            if len(expr.args) != 1 or not isinstance(expr.args[0], n.Path | n.Name):
                self.report(
                    "P204",
                    expr.pos,
                    "has(...) takes one fact path, like has(drift.alerts)",
                )
                return BOOL
            self.expr(expr.args[0], scope)
            return BOOL

        types = [self.expr(arg, scope) for arg in expr.args]
        if func in ("min", "max") and len(types) >= 2:
            for arg, found in zip(expr.args, types, strict=True):
                if found not in (NUMBER, UNKNOWN):
                    self.report(
                        "P204",
                        arg.pos,
                        f"{func}(...) compares numbers; found {_describe(found)}",
                    )
            return NUMBER
        if len(types) != 1:
            self.report(
                "P204", expr.pos, f"{func} takes one argument: {FUNCTIONS[func]}"
            )
            return UNKNOWN

        (found,) = types
        if func == "abs":
            if found not in (NUMBER, UNKNOWN):
                self.report(
                    "P204",
                    expr.args[0].pos,
                    f"abs(...) needs a number; found {_describe(found)}",
                )
            return NUMBER
        if found == UNKNOWN:
            return BOOL if func in ("any", "all") else NUMBER
        if not isinstance(found, ListOf | MapOf):
            self.report(
                "P204",
                expr.args[0].pos,
                f"{func}(...) needs a list or a map; found {_describe(found)}",
            )
            return BOOL if func in ("any", "all") else NUMBER
        item = found.item if isinstance(found, ListOf) else found.value
        if func == "count":
            return NUMBER
        wanted = BOOL if func in ("any", "all") else NUMBER
        if item not in (wanted, UNKNOWN):
            self.report(
                "P204",
                expr.args[0].pos,
                f"{func}(...) needs a list of {_describe(wanted)}; found {found}",
            )
        return wanted

    def comprehension(self, expr: n.Comprehension, scope: Scope) -> FactType:
        func = expr.func
        if func not in FUNCTIONS or func in ("abs", "has"):
            self.report(
                "P103",
                expr.pos,
                f"{func}(... in ... where ...) is not a function over items; use "
                "count, any, all, sum, min or max",
            )
            return UNKNOWN

        inner = Scope(scope)
        item_types = self.iteration(expr.source, len(expr.names), inner)
        for name, item_type in zip(expr.names, item_types, strict=True):
            inner.names[name] = Symbol("var", item_type)
        if expr.where is not None:
            where = self.expr(expr.where, inner)
            if where not in (BOOL, UNKNOWN):
                self.report(
                    "P203",
                    expr.where.pos,
                    "`where` needs a condition that is true or false; "
                    f"found {_describe(where)}",
                )

        if func == "count":
            if expr.value is not None:
                self.report(
                    "P204",
                    expr.value.pos,
                    "count(...) counts items: write count(x in C where P)",
                )
            return NUMBER
        if func in ("any", "all"):
            if expr.value is not None:
                found = self.expr(expr.value, inner)
                if found not in (BOOL, UNKNOWN):
                    self.report(
                        "P204",
                        expr.value.pos,
                        f"{func}(...) needs conditions; found {_describe(found)}",
                    )
            return BOOL
        if expr.value is None:
            self.report(
                "P204",
                expr.pos,
                f"{func}(...) needs a value to add up or compare: write "
                f"{func}(x.psi for x in C where P)",
            )
            return NUMBER
        found = self.expr(expr.value, inner)
        if found not in (NUMBER, UNKNOWN):
            self.report(
                "P204",
                expr.value.pos,
                f"{func}(...) needs numbers; found {_describe(found)}",
            )
        return NUMBER

    def chain(self, expr: n.Chain, scope: Scope) -> FactType:
        logical = expr.ops[0] in ("and", "or")
        wanted = BOOL if logical else NUMBER
        bad = False
        for op, operand in zip(["", *expr.ops], expr.operands, strict=True):
            found = self.expr(operand, scope)
            if found not in (wanted, UNKNOWN):
                shown = op or expr.ops[0]
                self.report(
                    "P202",
                    operand.pos,
                    f"`{shown}` needs {_describe(wanted)} on both sides; "
                    f"found {_describe(found)}",
                )
                bad = True
        return UNKNOWN if bad and not logical else wanted

    def binary(self, expr: n.Binary, scope: Scope) -> FactType:
        left = self.expr(expr.left, scope)
        right = self.expr(expr.right, scope)
        if UNKNOWN in (left, right):
            return BOOL

        if expr.op in ("in", "not in"):
            if isinstance(right, ListOf):
                if right.item != UNKNOWN and left != right.item:
                    self.report(
                        "P201",
                        expr.pos,
                        f"`{expr.op}` looks for {_describe(left)} "
                        f"in a list of {right.item}",
                    )
            elif isinstance(right, MapOf) or right == STRING:
                if left != STRING:
                    self.report(
                        "P201",
                        expr.left.pos,
                        f"`{expr.op}` looks up a string key; found {_describe(left)}",
                    )
            else:
                self.report(
                    "P205",
                    expr.right.pos,
                    f"`{expr.op}` needs a list, a map or a string on the right; "
                    f"found {_describe(right)}",
                )
            return BOOL

        if expr.op in ("==", "!="):
            if left != right:
                self.report(
                    "P201",
                    expr.pos,
                    f"cannot compare {_describe(left)} with {_describe(right)} "
                    f"using {expr.op}",
                )
            return BOOL
        for side, found in ((expr.left, left), (expr.right, right)):
            if found != NUMBER:
                self.report(
                    "P201",
                    side.pos,
                    f"`{expr.op}` compares numbers; found {_describe(found)}",
                )
                break
        return BOOL

    # ---- rules that can never fire ---------------------------------------------------

    def never_fires(self, condition: n.Expr, scope: Scope) -> None:
        value = const_value(condition, self.lets)
        if value is False:
            self.report(
                "P301",
                condition.pos,
                "this rule never fires: its condition is always false",
            )
            return
        for node in walk(condition):
            if isinstance(node, n.Chain) and node.ops and node.ops[0] == "and":
                self.contradictory_bounds(node)

    def contradictory_bounds(self, chain: n.Chain) -> None:
        bounds: dict[str, list[tuple[str, float, n.Binary]]] = {}
        for operand in chain.operands:
            if not isinstance(operand, n.Binary) or operand.op not in (
                "<",
                "<=",
                ">",
                ">=",
            ):
                continue
            subject, op, limit = (
                operand.left,
                operand.op,
                const_value(operand.right, self.lets),
            )
            if not isinstance(limit, float):
                flipped = {"<": ">", "<=": ">=", ">": "<", ">=": "<="}
                subject, op, limit = (
                    operand.right,
                    flipped[op],
                    const_value(operand.left, self.lets),
                )
            text = path_text(subject)
            if text is None or not isinstance(limit, float):
                continue
            bounds.setdefault(text, []).append((op, limit, operand))

        for text, items in bounds.items():
            lows = [(lim, op, node) for op, lim, node in items if op in (">", ">=")]
            highs = [(lim, op, node) for op, lim, node in items if op in ("<", "<=")]
            for low, low_op, low_node in lows:
                for high, high_op, high_node in highs:
                    empty = low > high or (
                        low == high and (low_op == ">" or high_op == "<")
                    )
                    if empty:
                        later = max(
                            low_node,
                            high_node,
                            key=lambda b: (b.pos.line, b.pos.column),
                        )
                        self.report(
                            "P301",
                            later.pos,
                            f"this rule never fires: {text} {low_op} {_num(low)} and "
                            f"{text} {high_op} {_num(high)} cannot both hold",
                        )
                        return

    def known_values(self, expr: n.Expr) -> None:
        """Flag `stage == "prod"`: stage is one of staging, canary, production."""
        for node in walk(expr):
            if not isinstance(node, n.Binary) or node.op not in (
                "==",
                "!=",
                "in",
                "not in",
            ):
                continue
            text = path_text(node.left)
            if text in _STAGE_PATHS:
                allowed: tuple[str, ...] = _STAGE_PATHS[text]
            elif text in _TIER_PATHS:
                allowed = self.tiers
            else:
                continue
            literals: list[n.Literal] = []
            if isinstance(node.right, n.Literal):
                literals = [node.right]
            elif isinstance(node.right, n.ListLit):
                literals = [i for i in node.right.items if isinstance(i, n.Literal)]
            for literal in literals:
                if isinstance(literal.value, str) and literal.value not in allowed:
                    self.report(
                        "P302",
                        literal.pos,
                        f'{text} is never "{literal.value}": it is one of '
                        f"{', '.join(allowed)}" + did_you_mean(literal.value, allowed),
                    )


def _num(value: float) -> str:
    return str(int(value)) if value.is_integer() else repr(value)


def _single_key(item: n.Item) -> str | None:
    if isinstance(item, n.LowerAfter):
        return "lower after"
    if isinstance(item, n.MinGroup):
        return "minimum group size"
    if isinstance(item, n.ScoreMetric):
        return f"score metric {item.metric}"
    if isinstance(item, n.ScoreAttribute):
        return f"score attribute {item.attribute}"
    if isinstance(item, n.ScoreOther):
        return "score other attributes"
    if isinstance(item, n.Exposure):
        return f"exposure {item.component}"
    return None


def _value_fits(value: Any, expected: FactType) -> bool:
    if expected == NUMBER:
        return isinstance(value, float | int) and not isinstance(value, bool)
    if expected == STRING:
        return isinstance(value, str)
    if expected == BOOL:
        return isinstance(value, bool)
    if isinstance(expected, ListOf):
        return isinstance(value, list) and all(
            _value_fits(v, expected.item) for v in value
        )
    if isinstance(expected, MapOf):
        return isinstance(value, dict) and all(
            _value_fits(v, expected.value) for v in value.values()
        )
    if isinstance(expected, Record):
        return isinstance(value, dict) and all(
            k in expected.fields and _value_fits(v, expected.fields[k].type)
            for k, v in value.items()
        )
    return True


def check_files(files: list[n.File]) -> list[Diagnostic]:
    return Checker().check(files)
