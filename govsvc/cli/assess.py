"""`govsvc assess`: the facts and the risk a request yields, offline, as JSON."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from govsvc.errors import GovsvcError

EPILOG = """\
examples:
  govsvc assess request.json                     facts and risk with the default model
  govsvc assess request.json --policies policies/
                                                 the risk model of a policy bundle
  govsvc assess request.json --previous state.json
                                                 escalation against a stored tier state
  cat request.json | govsvc assess -             read the request from stdin

The output is one JSON object:
  facts        every fact the request yields, risk included (the paths policies read)
  tier_state   the state the service would store for the model (before the verdict)
  explanation  what placed, raised, held or lowered the tier, and the exposure's parts

A bad request prints every problem as `field.path: message` and exits 1.
Definitions: docs/assess.md (facts) and docs/risk.md (score, exposure, tiers).
"""


class InputError(GovsvcError):
    """A file `govsvc assess` was given cannot be read as JSON."""


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "assess",
        help="print the facts and risk an evaluation request yields",
        description="Turn an evaluation request into facts and risk, offline, so a "
        "team can debug its pipeline's output without a server.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "request", metavar="REQUEST.json", help="the request, or - for stdin"
    )
    parser.add_argument(
        "--policies",
        metavar="DIR",
        type=Path,
        help="take the risk model from this policy bundle (default: built-in defaults)",
    )
    parser.add_argument(
        "--previous",
        metavar="STATE.json",
        help="the model's stored tier state, as the service keeps it",
    )
    parser.add_argument(
        "--compact", action="store_true", help="one line of JSON instead of indented"
    )
    parser.set_defaults(func=cmd_assess)


def _read_json(name: str) -> Any:
    try:
        text = (
            sys.stdin.read() if name == "-" else Path(name).read_text(encoding="utf-8")
        )
    except OSError as exc:
        raise InputError(f"cannot read {name}: {exc.strerror}") from exc
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(
            f"{name}:{exc.lineno}:{exc.colno}: not valid JSON: {exc.msg}"
        ) from exc


def cmd_assess(args: argparse.Namespace) -> int:
    from govsvc.assess import assess, parse_request
    from govsvc.risk import TierState, evaluate_risk
    from govsvc.risk.model import RiskModel

    request = parse_request(_read_json(args.request))
    if args.policies is not None:
        from govsvc.policy import load_bundle

        model = load_bundle(args.policies).risk_model
    else:
        model = RiskModel()
    previous = None
    if args.previous is not None:
        previous = TierState.from_dict(_read_json(args.previous))

    facts = assess(request, min_group_size=model.min_group_size)
    result = evaluate_risk(facts, model, previous)
    facts["risk"] = result.facts

    output = {
        "facts": facts,
        "tier_state": result.state.to_dict(),
        "tier_changed": result.tier_changed,
        "explanation": result.explanation,
    }
    indent = None if args.compact else 2
    try:
        print(json.dumps(output, indent=indent, allow_nan=False), flush=True)
    except BrokenPipeError:
        # `govsvc assess r.json | head`: the reader left; that is not an error.
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - replaces the closed pipe
    return 0
