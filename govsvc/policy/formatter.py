"""The canonical layout of a policy file.

The layout depends on the syntax tree alone, never on the author's whitespace, so a
whitespace-only edit keeps the bundle digest. Two-space indentation; one blank line
between top-level blocks, between rules, and between groups of items (the header,
lets, rules, risk declarations); a long top-level `and`/`or` breaks before each
operator. Comments are kept: one on a line of its own stays before the line that
followed it, one at the end of a line stays at the end of the line it followed.
"""

from __future__ import annotations

from dataclasses import dataclass

from govsvc.policy import nodes as n
from govsvc.policy.printer import expr_text, split_top

WIDTH = 88


@dataclass
class Line:
    origin: int  # the source line it came from, to place comments
    text: str
    blank_before: bool = False
    comment: str = ""


def _group(item: n.Item) -> str:
    if isinstance(item, n.Applies | n.OnMissing):
        return "header"
    if isinstance(item, n.Let):
        return "let"
    if isinstance(item, n.Rule):
        return "rule"
    return "risk"


def _broken(head: str, expr: n.Expr, indent: str, origin: int) -> list[Line]:
    """`head expr` on one line, or broken before each top-level and/or."""
    text = f"{indent}{head}{expr_text(expr)}"
    parts = split_top(expr)
    if len(text) <= WIDTH or parts is None:
        return [Line(origin, text)]
    op, operands = parts
    lines = [Line(origin, f"{indent}{head}{operands[0]}")]
    lines.extend(Line(origin, f"{indent}  {op} {operand}") for operand in operands[1:])
    return lines


def _item_lines(item: n.Item) -> list[Line]:
    line = item.pos.line
    pad = "  "
    if isinstance(item, n.Applies):
        return _broken("applies when ", item.condition, pad, line)
    if isinstance(item, n.OnMissing):
        return [Line(line, f"{pad}on missing {item.effect}")]
    if isinstance(item, n.Let):
        text = f"{pad}let {item.name} = {expr_text(item.value)}"
        if len(text) <= WIDTH or not isinstance(item.value, n.ListLit):
            return [Line(line, text)]
        # A long list: one item a line, so that a diff shows the item that changed.
        items = item.value.items
        lines = [Line(line, f"{pad}let {item.name} = [")]
        lines += [
            Line(line, f"{pad * 2}{expr_text(e)}{',' if i < len(items) - 1 else ''}")
            for i, e in enumerate(items)
        ]
        return [*lines, Line(line, f"{pad}]")]
    if isinstance(item, n.Rule):
        name = f"{item.name} " if item.name else ""
        lines = [Line(line, f"{pad}{item.effect} {name}{item.message_text}")]
        lines += _broken("when ", item.condition, pad * 2, item.condition.pos.line)
        for loop in item.loops:
            lines.append(
                Line(
                    loop.pos.line,
                    f"{pad * 2}for each {', '.join(loop.names)} in "
                    f"{expr_text(loop.source)}",
                )
            )
        return lines
    if isinstance(item, n.Tiers):
        return [Line(line, f"{pad}tiers {', '.join(name for name, _ in item.names)}")]
    if isinstance(item, n.TierRule):
        return _broken(f"tier {item.tier} when ", item.condition, pad, line)
    if isinstance(item, n.Escalate):
        return _broken(
            f"escalate by {item.steps_text} when ", item.condition, pad, line
        )
    if isinstance(item, n.LowerAfter):
        return [Line(line, f"{pad}lower after {item.text} clean evaluations")]
    if isinstance(item, n.MinGroup):
        return [Line(line, f"{pad}minimum group size {item.text}")]
    if isinstance(item, n.ScoreMetric):
        return [
            Line(
                line,
                f"{pad}score metric {item.metric} weight {item.weight.text} "
                f"tolerance {item.tolerance.text}",
            )
        ]
    if isinstance(item, n.ScoreAttribute):
        return [
            Line(
                line, f"{pad}score attribute {item.attribute} weight {item.weight.text}"
            )
        ]
    if isinstance(item, n.ScoreOther):
        return [Line(line, f"{pad}score other attributes weight {item.weight.text}")]
    if isinstance(item, n.Exposure):
        return [Line(line, f"{pad}exposure {item.component} weight {item.weight.text}")]
    raise AssertionError(f"unknown item {item!r}")


def _policy_lines(policy: n.Policy) -> list[Line]:
    lines = [Line(policy.pos.line, f"policy {policy.name}")]
    if policy.description_text is not None:
        # The description has no node of its own; it sits on the name's line or after.
        lines.append(Line(policy.pos.line, f"  {policy.description_text}"))
    previous = "header"
    for item in policy.items:
        group = _group(item)
        item_lines = _item_lines(item)
        item_lines[0].blank_before = group != previous or group == "rule"
        lines.extend(item_lines)
        previous = group
    return lines


def _test_lines(test: n.Test) -> list[Line]:
    lines = [Line(test.pos.line, f"test {test.name_text}")]
    if test.given:
        texts = [f"{'.'.join(a.path)} = {a.text}" for a in test.given]
        one = "  given " + ", ".join(texts)
        if len(one) <= WIDTH:
            lines.append(Line(test.given[0].pos.line, one))
        else:
            for i, (assign, text) in enumerate(zip(test.given, texts, strict=True)):
                head = "  given " if i == 0 else "    "
                comma = "," if i < len(texts) - 1 else ""
                lines.append(Line(assign.pos.line, f"{head}{text}{comma}"))
    for expect in test.expects:
        kind = {"verdict": "", "tier": "tier ", "reason": "reason "}[expect.kind]
        lines.append(Line(expect.pos.line, f"  expect {kind}{expect.text}"))
    return lines


def format_file(file: n.File) -> str:
    """The canonical text of a parsed file."""
    lines: list[Line] = []
    for block in file.order:
        block_lines = (
            _policy_lines(block) if isinstance(block, n.Policy) else _test_lines(block)
        )
        block_lines[0].blank_before = bool(lines)
        lines.extend(block_lines)

    trailing_file_comments = _place_comments(lines, file.comments)

    out: list[str] = []
    for line in lines:
        if line.blank_before and out:
            out.append("")
        out.append(f"{line.text}  {line.comment}" if line.comment else line.text)
    if trailing_file_comments:
        if out:
            out.append("")
        out.extend(trailing_file_comments)
    return "\n".join(out) + "\n" if out else ""


def _place_comments(lines: list[Line], comments: list[n.Comment]) -> list[str]:
    """Put each comment next to the printed line it belonged to; return the rest."""
    before: dict[int, list[str]] = {}
    at_end: list[str] = []
    for comment in comments:
        if comment.own_line:
            index = next(
                (i for i, line in enumerate(lines) if line.origin > comment.line), None
            )
            if index is None:
                at_end.append(comment.text)
            else:
                before.setdefault(index, []).append(comment.text)
            continue
        index = max(
            (i for i, line in enumerate(lines) if line.origin <= comment.line),
            default=None,
        )
        if index is None:
            before.setdefault(0, []).append(comment.text)
        else:
            existing = lines[index].comment
            lines[index].comment = (
                f"{existing} {comment.text}" if existing else comment.text
            )

    # Insert from the bottom so indices stay valid; a comment keeps its line's indent.
    for index in sorted(before, reverse=True):
        target = lines[index]
        indent = target.text[: len(target.text) - len(target.text.lstrip())]
        if target.text.startswith("    ") and not target.text.lstrip().startswith(
            ("when", "for")
        ):
            indent = "  "
        inserted = [Line(target.origin, f"{indent}{text}") for text in before[index]]
        inserted[0].blank_before = target.blank_before
        target.blank_before = False
        lines[index:index] = inserted
    return at_end
