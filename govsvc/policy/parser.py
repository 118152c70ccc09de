"""Text to syntax tree: the Lark LALR parser and the tree builder.

Any text gets either a `nodes.File` or a `PolicySyntaxError` with positions; never
another exception. Guards come before and after Lark: a size limit; a nesting limit
and a limit on operands in one chain (the tree builder and later passes recurse, and
Python's compiler nests chains, so a deep tree must be a diagnostic, not a
`RecursionError`); string escapes checked one by one. `parse_lenient` recovers from
a syntax error by skipping the block (`policy` or `test`) that holds it, so a file
reports one syntax error per broken block.
"""

from __future__ import annotations

import logging
import re
import threading
from functools import cache
from importlib import resources
from typing import Any

from lark import Lark, Token, Tree
from lark.exceptions import (
    LarkError,
    UnexpectedCharacters,
    UnexpectedEOF,
    UnexpectedInput,
    UnexpectedToken,
)

from govsvc.policy import nodes as n
from govsvc.policy.errors import Diagnostic, PolicySyntaxError

log = logging.getLogger(__name__)

MAX_SOURCE_BYTES = 1024 * 1024  # 1 MiB: fifty times the shipped bundle
MAX_NESTING = 48  # expression levels; well under Python's recursion limit in every pass
MAX_OPERANDS = 100  # in one chain such as a + b + c: Python nests those when compiling
MAX_RECOVERIES = 50  # syntax errors reported per file
MAX_PLACEHOLDER = 200  # characters in one {...} of a message
_BLOCK_START = re.compile(r"(policy|test)\b")

_ESCAPES = {'"': '"', "\\": "\\", "n": "\n", "t": "\t"}

# Friendly names for the terminals Lark reports as expected.
_TERMINAL_NAMES = {
    "NAME": "a name",
    "POLICY_NAME": "a policy name",
    "RULE_NAME": "a rule name",
    "STRING": "a string",
    "NUMBER": "a number",
    "PERCENT": "a percentage",
    "EFFECT": "deny, review or warn",
    "ALLOW": "allow",
    "COMP_OP": "a comparison",
    "ADD_OP": "+ or -",
    "MUL_OP": "* or /",
    "$END": "end of file",
}

_comments = threading.local()


def _collect_comment(token: Token) -> Token:
    _comments.tokens.append(token)
    return token


def _build(**options: Any) -> Lark:
    grammar = resources.files("govsvc.policy").joinpath("grammar.lark").read_text()
    return Lark(
        grammar,
        parser="lalr",
        lexer="contextual",
        propagate_positions=True,
        maybe_placeholders=True,
        **options,
    )


@cache
def _lark() -> Lark:
    return _build(lexer_callbacks={"COMMENT": _collect_comment})


def parse_expression(text: str, filename: str = "<message>") -> n.Expr | None:
    """A stand-alone expression (a message placeholder), or None when it is not one."""
    if len(text) > MAX_PLACEHOLDER:
        return None
    try:
        tree = _expr_lark().parse(text)
        _check_nesting(tree, filename, text)
        builder = _Builder(filename, text)
        expr = builder.expr(tree)
    except (LarkError, PolicySyntaxError):
        return None
    return None if builder.diagnostics else expr


@cache
def _expr_lark() -> Lark:
    return _build(start="expr")


def parse_source(text: str, filename: str) -> n.File:
    """Parse one file's text; raises PolicySyntaxError with every syntax error."""
    file, diagnostics = parse_lenient(text, filename)
    if diagnostics or file is None:
        raise PolicySyntaxError(diagnostics, {filename: text})
    return file


def parse_lenient(text: str, filename: str) -> tuple[n.File | None, list[Diagnostic]]:
    """Parse what parses: the file without its broken blocks, and every diagnostic.

    LALR stops at the first error. To report the errors of every block (a `policy`
    or a `test`), the block holding an error is blanked out (its characters become
    spaces, so positions stay) and the text is parsed again.
    """
    if len(text.encode("utf-8", "surrogatepass")) > MAX_SOURCE_BYTES:
        message = (
            f"file is {len(text)} characters, above the limit of {MAX_SOURCE_BYTES} "
            "bytes; split it into several policy files"
        )
        return None, [Diagnostic("P006", filename, 1, 1, message)]

    diagnostics: list[Diagnostic] = []
    current = text
    for _ in range(MAX_RECOVERIES):
        try:
            file, found = _parse_once(current, filename, text)
        except PolicySyntaxError as exc:
            diagnostics.extend(exc.diagnostics)
            first = exc.diagnostics[0]
            blanked = _blank_block(current, first.line, first.column)
            if blanked == current:
                return None, diagnostics
            current = blanked
            continue
        return file, diagnostics + found
    return None, diagnostics


def _blank_block(text: str, line: int, column: int) -> str:
    """The text with the top-level block around `line` turned into spaces."""
    lines = text.split("\n")
    starts = [i for i, row in enumerate(lines) if _BLOCK_START.match(row)]
    index = min(line, len(lines)) - 1
    if column == 1 and index in starts and index > 0:
        index -= (
            1  # a block's first word was unexpected: the block before is unfinished
        )
    start = max((i for i in starts if i <= index), default=0)
    end = min((i for i in starts if i > index), default=len(lines))
    for i in range(start, end):
        lines[i] = " " * len(lines[i])
    return "\n".join(lines)


def _parse_once(
    text: str, filename: str, original: str
) -> tuple[n.File, list[Diagnostic]]:
    """Parse; raise PolicySyntaxError for the first syntax error, return the rest."""
    _comments.tokens = []
    try:
        tree = _lark().parse(text)
        comment_tokens = list(_comments.tokens)
    except UnexpectedInput as exc:
        raise _syntax_error(exc, filename, text) from None
    except LarkError as exc:  # anything else Lark may raise on odd input
        raise _error("P001", filename, 1, 1, f"cannot parse: {exc}", text) from None
    finally:
        _comments.tokens = []

    _check_nesting(tree, filename, text)
    builder = _Builder(filename, original)
    return builder.file(tree, comment_tokens), builder.diagnostics


def _error(
    code: str,
    filename: str,
    line: int,
    column: int,
    message: str,
    text: str,
    end_column: int = 0,
) -> PolicySyntaxError:
    diagnostic = Diagnostic(
        code, filename, line, column, message, end_column=end_column
    )
    return PolicySyntaxError([diagnostic], {filename: text})


def _describe_expected(expected: Any) -> str:
    names: set[str] = set()
    for terminal in expected:
        if terminal in _TERMINAL_NAMES:
            names.add(_TERMINAL_NAMES[terminal])
            continue
        try:
            pattern = _lark().get_terminal(terminal).pattern
            names.add(
                f'"{pattern.value}"' if pattern.type == "str" else terminal.lower()
            )
        except KeyError:
            names.add(terminal.lower())
    ordered = sorted(names)
    if len(ordered) > 8:
        ordered = [*ordered[:8], "..."]
    return ", ".join(ordered)


def _token_text(token: Token) -> str:
    if token.type == "$END":
        return "end of file"
    value = str(token)
    if token.type in ("NAME", "POLICY_NAME", "RULE_NAME"):
        # Which of the three the lexer chose means nothing to an author.
        return f"word {value!r}"
    name = _TERMINAL_NAMES.get(token.type, "")
    if name.startswith("a "):
        return f"{name[2:]} {value!r}"
    return repr(value)


def _syntax_error(exc: UnexpectedInput, filename: str, text: str) -> PolicySyntaxError:
    line = max(1, getattr(exc, "line", 1) or 1)
    column = max(1, getattr(exc, "column", 1) or 1)

    if isinstance(exc, UnexpectedCharacters):
        where = exc.pos_in_stream or 0
        char = text[where] if where < len(text) else ""
        if char == '"':
            return _error(
                "P003",
                filename,
                line,
                column,
                'unterminated string: a string must close with " on the same line',
                text,
            )
        shown = (
            repr(char) if char.isprintable() else f"U+{ord(char):04X}" if char else "?"
        )
        return _error(
            "P002",
            filename,
            line,
            column,
            f"unexpected character {shown}; expected "
            f"{_describe_expected(exc.allowed or set())}",
            text,
        )

    if isinstance(exc, UnexpectedEOF):
        lines = text.splitlines() or [""]
        return _error(
            "P001",
            filename,
            len(lines),
            len(lines[-1]) + 1,
            "unexpected end of file; expected "
            f"{_describe_expected({str(t) for t in exc.expected})}",
            text,
        )

    assert isinstance(exc, UnexpectedToken)
    token = exc.token
    if token.type == "$END":
        lines = text.splitlines() or [""]
        line, column = len(lines), len(lines[-1]) + 1
        found = "end of file"
    else:
        found = _token_text(token)
        if str(token) in ("policy", "test"):
            found += " (a new block starts here, but the one before it is unfinished)"
    end = column + len(str(token)) if token.type != "$END" else 0
    return _error(
        "P001",
        filename,
        line,
        column,
        f"unexpected {found}; expected {_describe_expected(exc.expected)}",
        text,
        end,
    )


_CHAINS = frozenset({"or_expr", "and_expr", "sum", "product"})
_EXPR_NODES = frozenset(
    {
        "sum",
        "product",
        "or_expr",
        "and_expr",
        "not_",
        "compare",
        "in_",
        "not_in",
        "neg",
        "list_lit",
        "path",
        "call",
        "quantifier",
        "aggregate",
        "index",
        "vlist",
        "vobject",
    }
)


def _check_nesting(tree: Tree, filename: str, text: str) -> None:
    """Refuse trees deeper than MAX_NESTING expression levels, without recursing."""
    stack: list[tuple[Any, int]] = [(tree, 0)]
    while stack:
        node, depth = stack.pop()
        if not isinstance(node, Tree):
            continue
        if node.data in _EXPR_NODES:
            depth += 1
            if depth > MAX_NESTING:
                meta = node.meta
                line = getattr(meta, "line", 1)
                column = getattr(meta, "column", 1)
                raise _error(
                    "P005",
                    filename,
                    line,
                    column,
                    f"expression nested more than {MAX_NESTING} levels deep; "
                    "name a part of it with `let`",
                    text,
                )
        if node.data in _CHAINS and len(node.children) > 2 * MAX_OPERANDS:
            meta = node.meta
            raise _error(
                "P005",
                filename,
                getattr(meta, "line", 1),
                getattr(meta, "column", 1),
                f"more than {MAX_OPERANDS} operands in one chain; name parts of it "
                "with `let`",
                text,
            )
        stack.extend((child, depth) for child in node.children)


def _pos(node: Tree | Token) -> n.Pos:
    if isinstance(node, Token):
        line = node.line or 1
        column = node.column or 1
        end = column + len(str(node)) if "\n" not in str(node) else 0
        return n.Pos(line, column, end)
    meta = node.meta
    if getattr(meta, "empty", True):
        return n.Pos(1, 1)
    end = meta.end_column if meta.end_line == meta.line else 0
    return n.Pos(meta.line, meta.column, end)


class _Builder:
    """Lark tree to `nodes`; collects escape errors instead of stopping at the first."""

    def __init__(self, filename: str, text: str) -> None:
        self.filename = filename
        self.lines = text.splitlines()
        self.diagnostics: list[Diagnostic] = []

    def file(self, tree: Any, comment_tokens: list[Token]) -> n.File:
        policies: list[n.Policy] = []
        tests: list[n.Test] = []
        order: list[n.Policy | n.Test] = []
        for child in tree.children:
            if child.data == "policy":
                policies.append(self.policy(child))
                order.append(policies[-1])
            else:
                tests.append(self.test(child))
                order.append(tests[-1])

        comments = []
        for token in comment_tokens:
            line = token.line or 1
            before = (
                self.lines[line - 1][: (token.column or 1) - 1]
                if line <= len(self.lines)
                else ""
            )
            comments.append(n.Comment(str(token).rstrip(), line, not before.strip()))
        return n.File(self.filename, policies, tests, comments, order)

    # ---- helpers --------------------------------------------------------------

    def string(self, token: Any) -> str:
        raw = str(token)[1:-1]
        out: list[str] = []
        i = 0
        while i < len(raw):
            char = raw[i]
            if char == "\\":
                escaped = raw[i + 1] if i + 1 < len(raw) else ""
                if escaped not in _ESCAPES:
                    self.diagnostics.append(
                        Diagnostic(
                            "P004",
                            self.filename,
                            token.line or 1,
                            (token.column or 1) + i + 1,
                            f"unknown escape \\{escaped} in a string; "
                            'write \\\\, \\", \\n or \\t',
                        )
                    )
                out.append(_ESCAPES.get(escaped, escaped))
                i += 2
                continue
            out.append(char)
            i += 1
        return "".join(out)

    def number(self, token: Any) -> n.Literal:
        text = str(token)
        value = float(text[:-1]) / 100 if text.endswith("%") else float(text)
        return n.Literal(_pos(token), value, text)

    def whole(self, token: Any, what: str) -> int:
        text = str(token)
        if not text.isdigit():
            self.diagnostics.append(
                Diagnostic(
                    "P007",
                    self.filename,
                    token.line or 1,
                    token.column or 1,
                    f"{what} must be a whole number, found {text}",
                )
            )
            return 0
        return int(text)

    # ---- policies -------------------------------------------------------------

    def policy(self, tree: Any) -> n.Policy:
        name, description, *items = tree.children
        policy = n.Policy(
            str(name),
            _pos(name),
            self.string(description) if description is not None else None,
            str(description) if description is not None else None,
        )
        policy.items = [self.item(item) for item in items]
        return policy

    def item(self, tree: Any) -> n.Item:
        pos = _pos(tree)
        kids = tree.children
        kind = tree.data
        if kind == "applies":
            return n.Applies(pos, self.expr(kids[0]))
        if kind == "on_missing":
            return n.OnMissing(pos, str(kids[0]))
        if kind == "let":
            return n.Let(pos, str(kids[0]), self.expr(kids[1]))
        if kind == "rule":
            effect, name, message, condition, *loops = kids
            return n.Rule(
                pos,
                str(effect),
                str(name) if name is not None else None,
                self.string(message),
                str(message),
                _pos(message),
                self.expr(condition),
                [self.for_each(loop) for loop in loops],
            )
        if kind == "tiers":
            return n.Tiers(pos, [(str(k), _pos(k)) for k in kids])
        if kind == "tier_rule":
            return n.TierRule(pos, str(kids[0]), _pos(kids[0]), self.expr(kids[1]))
        if kind == "escalate":
            return n.Escalate(
                pos,
                self.whole(kids[0], "escalation steps"),
                str(kids[0]),
                self.expr(kids[1]),
            )
        if kind == "lower_after":
            return n.LowerAfter(
                pos, self.whole(kids[0], "clean evaluations"), str(kids[0])
            )
        if kind == "min_group":
            return n.MinGroup(
                pos, self.whole(kids[0], "minimum group size"), str(kids[0])
            )
        if kind == "score_metric":
            return n.ScoreMetric(
                pos,
                str(kids[0]),
                _pos(kids[0]),
                self.number(kids[1].children[0]),
                self.number(kids[2].children[0]),
            )
        if kind == "score_attribute":
            return n.ScoreAttribute(pos, str(kids[0]), self.number(kids[1].children[0]))
        if kind == "score_other":
            return n.ScoreOther(pos, self.number(kids[0].children[0]))
        if kind == "exposure":
            return n.Exposure(
                pos, str(kids[0]), _pos(kids[0]), self.number(kids[1].children[0])
            )
        raise AssertionError(f"unknown policy item {kind}")

    def for_each(self, tree: Any) -> n.ForEach:
        first, second, source = tree.children
        names = [str(first)] + ([str(second)] if second is not None else [])
        return n.ForEach(names, self.expr(source), _pos(tree))

    # ---- tests ----------------------------------------------------------------

    def test(self, tree: Any) -> n.Test:
        name, given, *expects = tree.children
        assigns = [self.assign(a) for a in given.children] if given is not None else []
        return n.Test(
            self.string(name),
            str(name),
            _pos(tree),
            assigns,
            [self.expect(e) for e in expects],
        )

    def assign(self, tree: Any) -> n.Assign:
        path_tree, value_tree = tree.children
        value, text = self.value(value_tree)
        return n.Assign([str(t) for t in path_tree.children], value, text, _pos(tree))

    def value(self, node: Any) -> tuple[Any, str]:
        kind = node.data
        kids = node.children
        if kind == "vstring":
            return self.string(kids[0]), str(kids[0])
        if kind == "vnumber":
            return self.number(kids[0]).value, str(kids[0])
        if kind == "vneg":
            return -self.number(kids[0]).value, f"-{kids[0]}"
        if kind == "vtrue":
            return True, "true"
        if kind == "vfalse":
            return False, "false"
        if kind == "vlist":
            if kids == [None]:
                return [], "[]"
            items = [self.value(k) for k in kids]
            return [v for v, _ in items], "[" + ", ".join(t for _, t in items) + "]"
        if kind == "vobject":
            if kids == [None]:
                return {}, "{}"
            obj: dict[str, Any] = {}
            parts = []
            for pair in kids:
                key_token, value_node = pair.children
                key = (
                    self.string(key_token)
                    if key_token.type == "STRING"
                    else str(key_token)
                )
                obj[key], text = self.value(value_node)
                parts.append(f"{key_token}: {text}")
            return obj, "{" + ", ".join(parts) + "}"
        raise AssertionError(f"unknown value {kind}")

    def expect(self, tree: Any) -> n.Expect:
        token = tree.children[0]
        kind = {"expect_verdict": "verdict", "expect_tier": "tier"}.get(
            tree.data, "reason"
        )
        value = self.string(token) if kind == "reason" else str(token)
        return n.Expect(kind, value, str(token), _pos(tree))

    # ---- expressions ----------------------------------------------------------

    def expr(self, node: Any) -> n.Expr:
        pos = _pos(node)
        kind = node.data
        kids = node.children

        if kind == "number_lit":
            literal = self.number(kids[0])
            literal.pos = pos
            return literal
        if kind == "string_lit":
            return n.Literal(pos, self.string(kids[0]), str(kids[0]))
        if kind == "true_lit":
            return n.Literal(pos, True, "true")
        if kind == "false_lit":
            return n.Literal(pos, False, "false")
        if kind == "list_lit":
            items = [] if kids == [None] else [self.expr(k) for k in kids]
            return n.ListLit(pos, items)
        if kind == "name":
            return n.Name(pos, str(kids[0]))
        if kind == "path":
            root = n.Name(_pos(kids[0]), str(kids[0]))
            segments: list[n.Segment] = []
            for seg in kids[1:]:
                if seg.data == "field":
                    segments.append(
                        n.Field(str(seg.children[0]), _pos(seg.children[0]))
                    )
                else:
                    segments.append(n.Index(self.expr(seg.children[0]), _pos(seg)))
            return n.Path(pos, root, segments)
        if kind == "call":
            args = [] if kids[1:] == [None] else [self.expr(k) for k in kids[1:]]
            return n.Call(pos, str(kids[0]), args)
        if kind == "quantifier":
            func, head, where = kids
            head_expr = self.expr(head)
            if not (
                isinstance(head_expr, n.Binary)
                and head_expr.op == "in"
                and isinstance(head_expr.left, n.Name)
            ):
                self.diagnostics.append(
                    Diagnostic(
                        "P001",
                        self.filename,
                        head_expr.pos.line,
                        head_expr.pos.column,
                        "expected `NAME in COLLECTION where CONDITION` inside "
                        f"{func}(...)",
                    )
                )
                return n.Comprehension(pos, str(func), None, ["_"], head_expr, None)
            return n.Comprehension(
                pos,
                str(func),
                None,
                [head_expr.left.name],
                head_expr.right,
                self.expr(where),
            )
        if kind == "aggregate":
            func, value, first, second, source, where = kids
            names = [str(first)] + ([str(second)] if second is not None else [])
            return n.Comprehension(
                pos,
                str(func),
                self.expr(value),
                names,
                self.expr(source),
                self.expr(where) if where is not None else None,
            )
        if kind in ("or_expr", "and_expr"):
            op = "or" if kind == "or_expr" else "and"
            return n.Chain(pos, [op] * (len(kids) - 1), [self.expr(k) for k in kids])
        if kind in ("sum", "product"):
            operands = [self.expr(k) for k in kids[0::2]]
            return n.Chain(pos, [str(k) for k in kids[1::2]], operands)
        if kind == "not_":
            return n.Unary(pos, "not", self.expr(kids[0]))
        if kind == "neg":
            return n.Unary(pos, "-", self.expr(kids[0]))
        if kind == "compare":
            return n.Binary(pos, str(kids[1]), self.expr(kids[0]), self.expr(kids[2]))
        if kind == "in_":
            return n.Binary(pos, "in", self.expr(kids[0]), self.expr(kids[1]))
        if kind == "not_in":
            return n.Binary(pos, "not in", self.expr(kids[0]), self.expr(kids[1]))
        raise AssertionError(f"unknown expression {kind}")
