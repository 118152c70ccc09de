"""`govsvc policy`: check, format, test and evaluate policy files."""

from __future__ import annotations

import argparse
import json
import os
import stat
import sys
import tempfile
from pathlib import Path
from typing import Any

from govsvc.cli._common import command_group

EPILOG = """\
examples:
  govsvc policy check policies/                 type-check every *.policy file
  govsvc policy check --format json policies/   diagnostics as JSON, for editors and CI
  govsvc policy fmt policies/                   rewrite files in the canonical layout
  govsvc policy fmt --check policies/           exit 1 when a file would change
  govsvc policy test policies/                  run the test blocks
  govsvc policy eval --facts facts.json policies/

The language reference is docs/policy.md.
"""


def register(subparsers: Any) -> None:
    commands = command_group(
        subparsers,
        "policy",
        help="check, format, test and evaluate policy files",
        description="Work on policy files (*.policy): the rules a decision applies.",
        epilog=EPILOG,
    )

    check = commands.add_parser(
        "check",
        help="parse and type-check against the fact schema",
        description="Parse and type-check policy files; every error, with a caret.",
        epilog="examples:\n  govsvc policy check policies/\n"
        "  govsvc policy check --format json policies/fairness.policy\n\n"
        "Exit status: 0 when there is no error (warnings allowed), 1 otherwise.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    check.add_argument("paths", nargs="+", metavar="PATH", help="files or directories")
    check.add_argument("--format", choices=("text", "json"), default="text")
    check.set_defaults(func=cmd_check)

    fmt = commands.add_parser(
        "fmt",
        help="rewrite files in the canonical layout",
        description="Rewrite policy files in the one canonical layout (comments kept).",
        epilog="examples:\n  govsvc policy fmt policies/\n"
        "  govsvc policy fmt --check policies/   (CI: exit 1 if a file would change)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    fmt.add_argument("paths", nargs="+", metavar="PATH", help="files or directories")
    fmt.add_argument(
        "--check", action="store_true", help="change nothing; exit 1 if a file would"
    )
    fmt.set_defaults(func=cmd_fmt)

    test = commands.add_parser(
        "test",
        help="run the test blocks",
        description="Run the `test` blocks of the policy files (and *_test.policy).",
        epilog="examples:\n  govsvc policy test policies/\n"
        "  govsvc policy test --verbose policies/fairness.policy\n\n"
        "The last line is `N passed, M failed`; exit 1 on any failure.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    test.add_argument("paths", nargs="+", metavar="PATH", help="files or directories")
    test.add_argument("--verbose", action="store_true", help="also list passing tests")
    test.set_defaults(func=cmd_test)

    evaluate = commands.add_parser(
        "eval",
        help="evaluate the policies once on facts from a JSON file",
        description="Evaluate the policies on one set of facts and print the verdict.",
        epilog="examples:\n  govsvc policy eval --facts facts.json policies/\n"
        "  govsvc policy eval --format json --facts facts.json policies/\n\n"
        "The facts follow the fact namespace in docs/policy.md; a JSON null is an "
        "absent fact. Without risk.tier in the facts, the risk is computed first with "
        "the bundle's risk model, as the service does.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    evaluate.add_argument(
        "paths", nargs="+", metavar="PATH", help="files or directories"
    )
    evaluate.add_argument("--facts", required=True, metavar="FILE.json")
    evaluate.add_argument("--format", choices=("text", "json"), default="text")
    evaluate.set_defaults(func=cmd_eval)


def _print_diagnostics(diagnostics: list[Any], sources: dict[str, str]) -> None:
    for diagnostic in diagnostics:
        print(diagnostic.render(sources.get(diagnostic.file)))


def _load(paths: list[str]) -> Any:
    """Compile the bundle, printing every diagnostic when it does not compile."""
    from govsvc.policy import PolicyError, compile_sources, read_sources

    try:
        sources = read_sources(*paths)
        return compile_sources(sources)
    except PolicyError as exc:
        _print_diagnostics(exc.diagnostics, exc.sources)
        return None


def cmd_check(args: argparse.Namespace) -> int:
    from govsvc.policy import PolicyError, check_sources, read_sources
    from govsvc.policy.errors import ERROR

    sources: dict[str, str] = {}
    try:
        sources = read_sources(*args.paths)
        diagnostics = check_sources(sources)
    except PolicyError as exc:
        diagnostics = exc.diagnostics

    errors = sum(d.severity == ERROR for d in diagnostics)
    if args.format == "json":
        report = {
            "files": sorted(sources),
            "errors": errors,
            "warnings": len(diagnostics) - errors,
            "diagnostics": [d.to_dict() for d in diagnostics],
        }
        print(json.dumps(report, indent=2))
    else:
        _print_diagnostics(diagnostics, sources)
        print(
            f"checked {len(sources)} file(s): {errors} error(s), "
            f"{len(diagnostics) - errors} warning(s)",
            file=sys.stderr,
        )
    return 1 if errors else 0


def _write_atomically(path: Path, text: str) -> None:
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        os.chmod(temp, stat.S_IMODE(path.stat().st_mode))  # mkstemp made it 0600
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def cmd_fmt(args: argparse.Namespace) -> int:
    from govsvc.policy import PolicyError, format_source, read_sources

    try:
        sources = read_sources(*args.paths)
    except PolicyError as exc:
        _print_diagnostics(exc.diagnostics, exc.sources)
        return 1

    status = 0
    changed = 0
    for name, text in sorted(sources.items()):
        try:
            canonical = format_source(text, name)
        except PolicyError as exc:
            _print_diagnostics(exc.diagnostics, {name: text})
            status = 1
            continue
        if canonical == text:
            continue
        changed += 1
        if args.check:
            print(f"would reformat {name}")
            status = 1
        else:
            _write_atomically(Path(name), canonical)
            print(f"reformatted {name}")
    verb = "would reformat" if args.check else "reformatted"
    print(f"{verb} {changed} of {len(sources)} file(s)", file=sys.stderr)
    return status


def cmd_test(args: argparse.Namespace) -> int:
    from govsvc.policy.testing import run_tests, summary

    bundle = _load(args.paths)
    if bundle is None:
        print("0 passed, 0 failed (the policies do not compile)")
        return 1

    results = run_tests(bundle)
    for result in results:
        if not result.passed or args.verbose:
            print(result.render())
    print(summary(results))
    return 0 if all(r.passed for r in results) else 1


def cmd_eval(args: argparse.Namespace) -> int:
    from govsvc.errors import GovsvcError
    from govsvc.policy import strip_nulls
    from govsvc.policy.testing import with_risk

    try:
        facts = json.loads(Path(args.facts).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise GovsvcError(
            f"cannot read facts from {args.facts}: {exc}; give a JSON object of facts"
        ) from None
    if not isinstance(facts, dict):
        raise GovsvcError(
            f"{args.facts} holds a JSON {type(facts).__name__}; expected an object "
            'of facts such as {"stage": "production", ...}'
        )

    bundle = _load(args.paths)
    if bundle is None:
        return 1
    facts = strip_nulls(facts)
    # As the service does: without a tier in the facts, compute the risk first.
    risk_problem = with_risk(bundle, facts)
    evaluation = bundle.evaluate(facts)

    risk = facts.get("risk", {})
    if args.format == "json":
        report = {"digest": bundle.digest, "risk": risk, **evaluation.to_dict()}
        print(json.dumps(report, indent=2, default=str))
        return 0
    print(f"verdict: {evaluation.verdict}")
    if risk_problem:
        print(f"tier: unknown ({risk_problem})")
    elif "tier" in risk:
        print(f"tier: {risk['tier']}")
    for reason in evaluation.reasons:
        figures = ""
        if reason.observed is not None or reason.threshold is not None:
            figures = f" [observed {reason.observed}, threshold {reason.threshold}]"
        print(
            f"  {reason.effect}: {reason.message}{figures} "
            f"({reason.policy}/{reason.rule}, {reason.file}:{reason.line})"
        )
    print(f"bundle {bundle.digest}")
    return 0
