"""Expressions back to text, with exactly the parentheses precedence needs.

Used by the formatter and for the condition text that risk explanations quote.
"""

from __future__ import annotations

from govsvc.policy import nodes as n

# Binding strength, loosest first; a child printed below its required level gets
# parentheses.
OR, AND, NOT, COMPARE, SUM, PRODUCT, UNARY, PRIMARY = range(1, 9)
_CHAIN_LEVEL = {"or": OR, "and": AND, "+": SUM, "-": SUM, "*": PRODUCT, "/": PRODUCT}


def level(expr: n.Expr) -> int:
    if isinstance(expr, n.Chain):
        return _CHAIN_LEVEL[expr.ops[0]]
    if isinstance(expr, n.Binary):
        return COMPARE
    if isinstance(expr, n.Unary):
        return NOT if expr.op == "not" else UNARY
    return PRIMARY


def expr_text(expr: n.Expr) -> str:
    if isinstance(expr, n.Literal):
        return expr.text
    if isinstance(expr, n.Name):
        return expr.name
    if isinstance(expr, n.ListLit):
        return "[" + ", ".join(expr_text(i) for i in expr.items) + "]"
    if isinstance(expr, n.Path):
        parts = [expr.root.name]
        for segment in expr.segments:
            if isinstance(segment, n.Field):
                parts.append(f".{segment.name}")
            else:
                parts.append(f"[{expr_text(segment.expr)}]")
        return "".join(parts)
    if isinstance(expr, n.Call):
        return f"{expr.func}(" + ", ".join(expr_text(a) for a in expr.args) + ")"
    if isinstance(expr, n.Comprehension):
        names = ", ".join(expr.names)
        source = _wrap(expr.source, SUM)
        where = f" where {expr_text(expr.where)}" if expr.where is not None else ""
        if expr.value is None:
            return f"{expr.func}({names} in {source}{where})"
        return f"{expr.func}({expr_text(expr.value)} for {names} in {source}{where})"
    if isinstance(expr, n.Unary):
        if expr.op == "not":
            return f"not {_wrap(expr.operand, NOT)}"
        return f"-{_wrap(expr.operand, UNARY)}"
    if isinstance(expr, n.Binary):
        return f"{_wrap(expr.left, SUM)} {expr.op} {_wrap(expr.right, SUM)}"
    if isinstance(expr, n.Chain):
        own = _CHAIN_LEVEL[expr.ops[0]]
        # Left-associative: later operands of - and / must bind tighter.
        parts = [_wrap(expr.operands[0], own)]
        for op, operand in zip(expr.ops, expr.operands[1:], strict=True):
            parts.append(f"{op} {_wrap(operand, own if own in (OR, AND) else own + 1)}")
        return " ".join(parts)
    raise AssertionError(f"unknown expression {expr!r}")


def _wrap(expr: n.Expr, required: int) -> str:
    text = expr_text(expr)
    return f"({text})" if level(expr) < required else text


def split_top(expr: n.Expr) -> tuple[str, list[str]] | None:
    """For line breaking: a top-level `and`/`or` chain as (operator, operand texts)."""
    if (
        isinstance(expr, n.Chain)
        and expr.ops[0] in ("and", "or")
        and len(set(expr.ops)) == 1
    ):
        own = _CHAIN_LEVEL[expr.ops[0]]
        return expr.ops[0], [_wrap(o, own) for o in expr.operands]
    return None
