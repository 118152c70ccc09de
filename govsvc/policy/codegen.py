"""Checked syntax trees to Python source, compiled once per bundle.

Plan: every expression is written twice.

1. The fast version reads facts with plain subscripts (`facts["drift"]["max_psi"]`)
   and uses Python's own operators, comprehensions and builtins. All rules of the
   bundle sit in one generated function, so an evaluation is one call and a request
   never walks a tree.
2. The safe version reads facts through `runtime.walk`, which names the first absent
   key as a `MissingFact`, and tracks the path of loop variables so the message says
   `missing fact fairness.gender.tpr`. A rule whose fast version raises (a missing
   key, a wrong type) is run again in its safe version, which decides the reason.

`let` constants are substituted where used (a let is an expression, so lets over
facts work too); loop variables become Python locals `v_<name>` with their fact path
in `p_<name>`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from govsvc.facts import SCHEMA
from govsvc.policy import nodes as n

_LOGICAL = ("and", "or")


@dataclass
class Let:
    expr: n.Expr
    env: dict[str, Any]
    constant: Any = None  # the value when the let reads no fact, else None


# Lets are substituted where used; lets built from lets could multiply the code
# without end, so the substitutions of one bundle are counted.
MAX_SUBSTITUTIONS = 20_000


class TooLarge(Exception):
    """The generated code would be too large (lets substituted into lets)."""


VAR = "var"


@dataclass
class Source:
    """Python source being built, with indentation."""

    lines: list[str] = field(default_factory=list)
    depth: int = 0

    def add(self, line: str) -> None:
        self.lines.append("    " * self.depth + line)

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


def _lookup(name: str, env: dict[str, Any]) -> Any:
    if name in env:
        return env[name]
    if name in SCHEMA.fields:
        return "root"
    raise KeyError(name)  # the checker has reported it; compile never sees one


class ExprGen:
    """Writes the fast and the safe Python for one expression."""

    def __init__(self) -> None:
        self.substitutions = 0

    def let(self, let: Let, safe: bool) -> str:
        if let.constant is not None:
            value = let.constant
            return repr(tuple(value) if isinstance(value, list) else value)
        self.substitutions += 1
        if self.substitutions > MAX_SUBSTITUTIONS:
            raise TooLarge
        return f"({(self.safe if safe else self.fast)(let.expr, let.env)})"

    # ---- fast ----------------------------------------------------------------

    def fast(self, expr: n.Expr, env: dict[str, Any]) -> str:
        if isinstance(expr, n.Literal):
            return repr(expr.value)
        if isinstance(expr, n.ListLit):
            return "(" + "".join(f"{self.fast(i, env)}, " for i in expr.items) + ")"
        if isinstance(expr, n.Name):
            kind = _lookup(expr.name, env)
            if kind == VAR:
                return f"v_{expr.name}"
            if isinstance(kind, Let):
                return self.let(kind, safe=False)
            return f"facts[{expr.name!r}]"
        if isinstance(expr, n.Path):
            code = self.fast(expr.root, env)
            for segment in expr.segments:
                if isinstance(segment, n.Field):
                    code += f"[{segment.name!r}]"
                else:
                    code += f"[{self.fast(segment.expr, env)}]"
            return code
        if isinstance(expr, n.Call):
            return self.call(expr, env, self.fast)
        if isinstance(expr, n.Comprehension):
            return self.comprehension(expr, env, safe=False)
        if isinstance(expr, n.Unary):
            if expr.op == "not":
                return f"(not {self.fast_value(expr.operand, env)})"
            return f"(-{self.fast(expr.operand, env)})"
        if isinstance(expr, n.Binary):
            if expr.op in ("==", "!=", "in", "not in"):
                left = self.fast_value(expr.left, env)
                right = self.fast_value(expr.right, env)
            else:  # None in an ordering or arithmetic raises TypeError by itself
                left, right = self.fast(expr.left, env), self.fast(expr.right, env)
            return f"({left} {expr.op} {right})"
        if isinstance(expr, n.Chain):
            gen = self.fast_value if expr.ops[0] in _LOGICAL else self.fast
            parts = [gen(expr.operands[0], env)]
            for op, operand in zip(expr.ops, expr.operands[1:], strict=True):
                parts.append(f"{op} {gen(operand, env)}")
            return "(" + " ".join(parts) + ")"
        raise AssertionError(f"unknown expression {expr!r}")

    def fast_value(self, expr: n.Expr, env: dict[str, Any]) -> str:
        """A fact read where a JSON null would pass silently (==, in, and, not).

        `_nn` raises on None, which sends the rule to its safe version, where null
        is a missing fact like an absent key.
        """
        code = self.fast(expr, env)
        # Loop variables are not wrapped: a null item of a list compares as null.
        if isinstance(expr, n.Path) or (
            isinstance(expr, n.Name) and _lookup(expr.name, env) == "root"
        ):
            return f"_nn({code})"
        return code

    # ---- safe ----------------------------------------------------------------

    def safe(self, expr: n.Expr, env: dict[str, Any]) -> str:
        if isinstance(expr, n.Name | n.Path):
            kind = _lookup(
                expr.name if isinstance(expr, n.Name) else expr.root.name, env
            )
            if isinstance(expr, n.Name) and kind == VAR:
                return f"v_{expr.name}"
            if isinstance(expr, n.Name) and isinstance(kind, Let):
                return self.let(kind, safe=True)
            base, prefix, keys = self.path_parts(expr, env)
            return f"_walk({base}, {prefix}, ({''.join(k + ', ' for k in keys)}))"
        if isinstance(expr, n.Literal):
            return repr(expr.value)
        if isinstance(expr, n.ListLit):
            return "(" + "".join(f"{self.safe(i, env)}, " for i in expr.items) + ")"
        if isinstance(expr, n.Call):
            return self.call(expr, env, self.safe)
        if isinstance(expr, n.Comprehension):
            return self.comprehension(expr, env, safe=True)
        if isinstance(expr, n.Unary):
            if expr.op == "not":
                return f"(not _truth({self.safe(expr.operand, env)}))"
            return f"(-_number({self.safe(expr.operand, env)}))"
        if isinstance(expr, n.Binary):
            left, right = self.safe(expr.left, env), self.safe(expr.right, env)
            if expr.op in ("==", "!=", "in", "not in"):
                return f"({left} {expr.op} {right})"
            return f"(_number({left}) {expr.op} _number({right}))"
        if isinstance(expr, n.Chain):
            wrap = "_truth" if expr.ops[0] in _LOGICAL else "_number"
            parts = [f"{wrap}({self.safe(expr.operands[0], env)})"]
            for op, operand in zip(expr.ops, expr.operands[1:], strict=True):
                parts.append(f"{op} {wrap}({self.safe(operand, env)})")
            return "(" + " ".join(parts) + ")"
        raise AssertionError(f"unknown expression {expr!r}")

    def path_parts(
        self, expr: n.Name | n.Path, env: dict[str, Any]
    ) -> tuple[str, str, list[str]]:
        """(base value, its fact path or None, keys to follow) for a safe path read."""
        root = expr if isinstance(expr, n.Name) else expr.root
        segments = [] if isinstance(expr, n.Name) else expr.segments
        keys = []
        for segment in segments:
            if isinstance(segment, n.Field):
                keys.append(repr(segment.name))
            else:
                keys.append(self.safe(segment.expr, env))

        kind = _lookup(root.name, env)
        if kind == VAR:
            return f"v_{root.name}", f"p_{root.name}", keys
        if isinstance(kind, Let):
            if (
                isinstance(kind.expr, n.Name | n.Path)
                and _lookup(
                    kind.expr.name
                    if isinstance(kind.expr, n.Name)
                    else kind.expr.root.name,
                    kind.env,
                )
                != VAR
            ):
                base, prefix, inner = self.path_parts(kind.expr, kind.env)
                return base, prefix, inner + keys
            return self.let(kind, safe=True), "None", keys
        return "facts", "()", [repr(root.name), *keys]

    def pair(self, expr: n.Expr, env: dict[str, Any]) -> str:
        """Safe code for (value, fact path or None): the source of an iteration."""
        if isinstance(expr, n.Path) or (
            isinstance(expr, n.Name)
            and _lookup(expr.name, env) != VAR
            and not isinstance(_lookup(expr.name, env), Let)
        ):
            base, prefix, keys = self.path_parts(expr, env)
            return f"_walk2({base}, {prefix}, ({''.join(k + ', ' for k in keys)}))"
        if isinstance(expr, n.Name) and _lookup(expr.name, env) == VAR:
            return f"(v_{expr.name}, p_{expr.name})"
        return f"({self.safe(expr, env)}, None)"

    # ---- shared ----------------------------------------------------------------

    def call(self, expr: n.Call, env: dict[str, Any], gen: Any) -> str:
        func = expr.func
        if func == "has":
            target = expr.args[0]
            assert isinstance(target, n.Name | n.Path)
            kind = _lookup(
                target.name if isinstance(target, n.Name) else target.root.name, env
            )
            if isinstance(target, n.Name) and kind == VAR:
                return "True"
            base, _prefix, keys = self.path_parts(target, env)
            return f"_has({base}, ({''.join(k + ', ' for k in keys)}))"
        args = [gen(a, env) for a in expr.args]
        if func == "abs":
            return f"abs({args[0]})"
        if func in ("min", "max"):
            if len(args) == 1:
                return f"{func}(_values({args[0]}))"
            return f"{func}({', '.join(args)})"
        # A fact of the wrong type is not caught everywhere on this path: count() of a
        # string gives its length. The checker rules that out for policies; facts
        # are the assessment's to get right.
        if func == "count":
            return f"len(_values({args[0]}))"
        return f"{func}(_values({args[0]}))"  # sum, any, all

    def comprehension(
        self, expr: n.Comprehension, env: dict[str, Any], safe: bool
    ) -> str:
        gen = self.safe if safe else self.fast
        inner = dict(env)
        for name in expr.names:
            inner[name] = VAR

        if safe:
            if len(expr.names) == 1:
                (name,) = expr.names
                loop = (
                    f"for p_{name}, v_{name} in _items1(*{self.pair(expr.source, env)})"
                )
            else:
                key, value = expr.names
                loop = (
                    f"for p_{value}, v_{key}, v_{value}, p_{key} in "
                    f"_items2(*{self.pair(expr.source, env)})"
                )
        elif len(expr.names) == 1:
            loop = f"for v_{expr.names[0]} in _values({self.fast(expr.source, env)})"
        else:
            key, value = expr.names
            loop = f"for v_{key}, v_{value} in _pairs({self.fast(expr.source, env)})"

        where = ""
        if not safe:
            gen = self.fast_value
        if expr.where is not None:
            cond = gen(expr.where, inner)
            where = f" if _truth({cond})" if safe else f" if {cond}"
        if expr.func == "count":
            return f"len([1 {loop}{where}])"  # a list is faster than a generator
        if expr.value is None:  # any/all over the where condition
            cond = gen(expr.where, inner) if expr.where is not None else "True"
            return f"{expr.func}({cond} {loop})"
        return f"{expr.func}({gen(expr.value, inner)} {loop}{where})"

    def observe(self, expr: n.Expr, env: dict[str, Any], safe: bool = True) -> str:
        """Code for (observed value, threshold) of a condition that held.

        A heuristic, not a proof: the two sides of the comparison that decided, as
        far as the shape of the condition tells (the last comparison of an `and`, the
        first branch of an `or` that held). A condition without a comparison observes
        its own value and has no threshold.
        """
        gen = self.safe if safe else self.fast
        if isinstance(expr, n.Binary):
            return f"({gen(expr.left, env)}, {gen(expr.right, env)})"
        if isinstance(expr, n.Unary) and expr.op == "not":
            return self.observe(expr.operand, env, safe)
        if isinstance(expr, n.Chain) and expr.ops[0] == "and":
            for operand in reversed(expr.operands):
                if _has_comparison(operand):
                    return self.observe(operand, env, safe)
        if isinstance(expr, n.Chain) and expr.ops[0] == "or":
            code = "(None, None)"
            for operand in reversed(expr.operands):
                held = f"_truth({gen(operand, env)})" if safe else gen(operand, env)
                code = f"({self.observe(operand, env, safe)} if {held} else {code})"
            return code
        return f"({gen(expr, env)}, None)"

    def threshold(self, expr: n.Expr, env: dict[str, Any]) -> tuple[bool, Any]:
        """(known, value): the threshold `observe` gives, when the condition's shape
        makes it the same constant on every evaluation that could compute it.

        It follows `observe` branch for branch. Unknown when the threshold reads a
        fact or a loop variable, or depends on which branch of an `or` held.
        """
        if isinstance(expr, n.Binary):
            return self.constant(expr.right, env)
        if isinstance(expr, n.Unary) and expr.op == "not":
            return self.threshold(expr.operand, env)
        if isinstance(expr, n.Chain) and expr.ops[0] == "and":
            for operand in reversed(expr.operands):
                if _has_comparison(operand):
                    return self.threshold(operand, env)
        if isinstance(expr, n.Chain) and expr.ops[0] == "or":
            return False, None
        return True, None

    def constant(self, expr: n.Expr, env: dict[str, Any]) -> tuple[bool, Any]:
        """(known, value) of an expression that is a literal or a constant let: the
        value its generated code gives."""
        if isinstance(expr, n.Literal):
            return True, expr.value
        if isinstance(expr, n.Name) and expr.name in env:
            kind = env[expr.name]
            if isinstance(kind, Let) and kind.constant is not None:
                value = kind.constant
                return True, tuple(value) if isinstance(value, list) else value
        return False, None


def _has_comparison(expr: n.Expr) -> bool:
    if isinstance(expr, n.Binary):
        return True
    if isinstance(expr, n.Unary) and expr.op == "not":
        return _has_comparison(expr.operand)
    if isinstance(expr, n.Chain) and expr.ops[0] in _LOGICAL:
        return any(_has_comparison(o) for o in expr.operands)
    return False
