"""What can be known about an expression without facts.

Its nodes (`walk`, iterative), its value when it reads no fact (`const_value`, for
rules that never fire and for `let` constants the compiler folds), and its text when
it is a plain fact path (`path_text`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from govsvc.policy import nodes as n

NOT_CONST = object()


def path_text(expr: n.Expr) -> str | None:
    """`a.b.c` for a path of plain fields rooted at a fact; None otherwise."""
    if isinstance(expr, n.Name):
        return expr.name
    if isinstance(expr, n.Path):
        names = [s.name for s in expr.segments if isinstance(s, n.Field)]
        if len(names) == len(expr.segments):
            return ".".join([expr.root.name, *names])
    return None


def walk(expr: n.Expr) -> Iterator[n.Expr]:
    """Every expression node under `expr`, itself first (iterative)."""
    stack = [expr]
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, n.ListLit):
            stack.extend(node.items)
        elif isinstance(node, n.Path):
            stack.append(node.root)
            stack.extend(s.expr for s in node.segments if isinstance(s, n.Index))
        elif isinstance(node, n.Call):
            stack.extend(node.args)
        elif isinstance(node, n.Comprehension):
            stack.extend(
                x for x in (node.value, node.source, node.where) if x is not None
            )
        elif isinstance(node, n.Unary):
            stack.append(node.operand)
        elif isinstance(node, n.Binary):
            stack.extend((node.left, node.right))
        elif isinstance(node, n.Chain):
            stack.extend(node.operands)


def const_value(expr: n.Expr, lets: dict[str, n.Expr], depth: int = 0) -> Any:
    """The value of an expression without facts, or NOT_CONST."""
    if depth > 64:
        return NOT_CONST
    if isinstance(expr, n.Literal):
        return expr.value
    if isinstance(expr, n.Name):
        if expr.name in lets:
            return const_value(lets[expr.name], {}, depth + 1)
        return NOT_CONST
    if isinstance(expr, n.ListLit):
        values = [const_value(i, lets, depth + 1) for i in expr.items]
        return NOT_CONST if any(v is NOT_CONST for v in values) else values
    if isinstance(expr, n.Unary):
        value = const_value(expr.operand, lets, depth + 1)
        if value is NOT_CONST:
            return value
        if expr.op == "not":
            return (not value) if isinstance(value, bool) else NOT_CONST
        return -value if isinstance(value, float) else NOT_CONST
    if isinstance(expr, n.Chain):
        values = [const_value(o, lets, depth + 1) for o in expr.operands]
        if expr.ops[0] == "and" and any(v is False for v in values):
            return False
        if expr.ops[0] == "or" and any(v is True for v in values):
            return True
        if any(v is NOT_CONST for v in values):
            return NOT_CONST
        try:
            result = values[0]
            for op, value in zip(expr.ops, values[1:], strict=True):
                if op == "and":
                    result = result and value
                elif op == "or":
                    result = result or value
                elif op == "+":
                    result = result + value
                elif op == "-":
                    result = result - value
                elif op == "*":
                    result = result * value
                else:
                    result = result / value
            return result
        except Exception:
            return NOT_CONST
    if isinstance(expr, n.Binary):
        left = const_value(expr.left, lets, depth + 1)
        right = const_value(expr.right, lets, depth + 1)
        if left is NOT_CONST or right is NOT_CONST:
            return NOT_CONST
        try:
            if expr.op == "in":
                return left in right
            if expr.op == "not in":
                return left not in right
            ops = {
                "==": lambda a, b: a == b,
                "!=": lambda a, b: a != b,
                "<": lambda a, b: a < b,
                "<=": lambda a, b: a <= b,
                ">": lambda a, b: a > b,
                ">=": lambda a, b: a >= b,
            }
            return ops[expr.op](left, right)
        except Exception:
            return NOT_CONST
    return NOT_CONST
