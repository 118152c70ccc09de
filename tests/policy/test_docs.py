"""docs/policy.md stays true: its example runs, its tables cover the code."""

from __future__ import annotations

import re
from pathlib import Path

from govsvc.facts import SCHEMA, Record
from govsvc.policy import compile_sources
from govsvc.policy.testing import run_tests

DOC = Path("docs/policy.md").read_text()


def test_docs_first_example_compiles_and_its_test_passes() -> None:
    example = DOC.split("```\n", 2)[1]

    results = run_tests(compile_sources({"example.policy": example}))

    assert [r.failures for r in results] == [[]]


def test_docs_list_every_error_code() -> None:
    source = "".join(p.read_text() for p in Path("govsvc/policy").glob("*.py"))
    used = set(re.findall(r'"(P\d{3})"', source))

    documented = set(re.findall(r"^\| (P\d{3}) \|", DOC, re.MULTILINE))

    assert used == documented


def test_docs_list_every_top_level_fact() -> None:
    for name, field in SCHEMA.fields.items():
        assert f"| `{name}` |" in DOC
        if isinstance(field.type, Record):
            for child in field.type.fields:
                assert f"| `{name}.{child}` |" in DOC
