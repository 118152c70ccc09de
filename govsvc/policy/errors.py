"""Diagnostics and the policy exception tree.

- `PolicyError` (a `GovsvcError`): policy files that cannot be used; it carries every
  `Diagnostic` found, sorted by file and position.
  - `PolicySyntaxError`: a file that does not parse (codes P0xx).
  - `PolicyCheckError`: a file that parses but does not check against the fact
    schema or the language's rules (codes P1xx to P5xx).
- `PolicyEvaluationError` (a `GovsvcError`): a compiled risk condition met facts of
  the wrong type (a missing fact raises `govsvc.facts.MissingFact` instead).
- `PolicyTestError` (a `GovsvcError`): a `test` block that cannot be run at all
  (not a failing expectation; those are results).

Codes are stable; docs/policy.md lists them. A diagnostic renders as
`file:line:col: message`, then the source line and a caret under the fault.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from govsvc.errors import GovsvcError

ERROR = "error"
WARNING = "warning"


@dataclass(frozen=True)
class Diagnostic:
    """One finding in one policy file; line and column are 1-based."""

    code: str
    file: str
    line: int
    column: int
    message: str
    severity: str = ERROR
    end_column: int = 0  # exclusive; 0 means one caret

    def sort_key(self) -> tuple[str, int, int, str]:
        return (self.file, self.line, self.column, self.code)

    def header(self) -> str:
        where = f"{self.file}:{self.line}:{self.column}"
        return f"{where}: {self.severity}: {self.message} [{self.code}]"

    def render(self, source: str | None = None) -> str:
        """The header, then the source line and a caret (when the source is given)."""
        text = self.header()
        if source is None:
            return text

        lines = source.splitlines()
        if not 1 <= self.line <= len(lines):
            return text
        line = lines[self.line - 1].expandtabs(1)
        if len(line) > 200:  # a minified or binary line: show the part that matters
            start = max(0, self.column - 80)
            line = line[start : start + 160]
            column = self.column - start
        else:
            column = self.column
        width = max(1, min(self.end_column, len(line) + 1) - self.column)
        if self.end_column <= self.column:
            width = 1
        return f"{text}\n    {line}\n    {' ' * (column - 1)}{'^' * width}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "end_column": self.end_column or self.column + 1,
            "severity": self.severity,
            "message": self.message,
        }


class PolicyError(GovsvcError):
    """Policy files that cannot be used; `.diagnostics` holds every finding."""

    def __init__(
        self, diagnostics: list[Diagnostic], sources: dict[str, str] | None = None
    ):
        self.diagnostics = sorted(diagnostics, key=Diagnostic.sort_key)
        self.sources = sources or {}
        errors = [d for d in self.diagnostics if d.severity == ERROR]
        shown = errors or self.diagnostics
        head = (
            shown[0].render(self.sources.get(shown[0].file)) if shown else "no details"
        )
        more = len(shown) - 1
        suffix = (
            f"\n(and {more} more; run `govsvc policy check` for all)" if more else ""
        )
        super().__init__(f"{head}{suffix}")


class PolicySyntaxError(PolicyError):
    """A policy file does not parse."""


class PolicyCheckError(PolicyError):
    """A policy file parses but does not check against the schema and the rules."""


class PolicyTestError(GovsvcError):
    """A policy test block cannot be run."""


class PolicyEvaluationError(GovsvcError):
    """A compiled condition met facts it cannot work with (a wrong type)."""
