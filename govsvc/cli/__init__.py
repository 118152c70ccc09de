"""The `govsvc` command.

Each module of this package holds one command group and exposes
`register(subparsers)`, which adds its parser and sets `func` to a callable taking
the parsed arguments and returning the exit status. Modules import their heavy
dependencies inside the command, so `govsvc --help` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import pkgutil
import sys
from collections.abc import Sequence

from govsvc import __version__, logs
from govsvc.errors import GovsvcError

log = logging.getLogger(__name__)

DESCRIPTION = """\
Governance for machine-learning models, written as policy as code.

Start here:
  govsvc serve                         run the service (SQLite in ./.govsvc/)
  govsvc policy check policies/        lint policy files
  govsvc policy test policies/         run the tests written next to policies
  govsvc gate --url URL --request R    ask the service whether a model may ship
  govsvc ledger verify RECEIPT.json    check a decision's receipt offline
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="govsvc",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"govsvc {__version__}")
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="log at DEBUG level to stderr"
    )
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND")

    for module_info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if module_info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{module_info.name}")
        module.register(subparsers)

    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "func"):
        parser.print_help()
        return 2

    logs.configure(bool(args.verbose))

    try:
        status: int = args.func(args)
    except GovsvcError as exc:
        print(f"govsvc: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (`govsvc ... | head`); say nothing more, as cat does.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
    return status
