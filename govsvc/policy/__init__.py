"""The policy language: parse, check, format, compile and evaluate policy files.

    bundle = load_bundle("policies/")
    evaluation = bundle.evaluate(facts)   # verdict "allow" | "warn" | "review" | "deny"

The grammar is `grammar.lark`; docs/policy.md is the language reference.
"""

from govsvc.policy.bundle import Bundle, Evaluation, Reason, strip_nulls
from govsvc.policy.compiler import (
    check_sources,
    compile_sources,
    format_source,
    load_bundle,
    read_sources,
)
from govsvc.policy.errors import (
    Diagnostic,
    PolicyCheckError,
    PolicyError,
    PolicySyntaxError,
    PolicyTestError,
)

__all__ = [
    "Bundle",
    "Diagnostic",
    "Evaluation",
    "PolicyCheckError",
    "PolicyError",
    "PolicySyntaxError",
    "PolicyTestError",
    "Reason",
    "check_sources",
    "compile_sources",
    "format_source",
    "load_bundle",
    "read_sources",
    "strip_nulls",
]
