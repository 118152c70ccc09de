"""Pieces the command groups share (the leading underscore keeps this module out of
the command-group discovery)."""

from __future__ import annotations

import argparse
from typing import Any

SubParsers = argparse._SubParsersAction


def command_group(
    subparsers: Any, name: str, *, help: str, description: str, epilog: str | None
) -> SubParsers:
    """Add `govsvc NAME`, which prints its help (exit 2) when no command follows."""
    parser = subparsers.add_parser(
        name,
        help=help,
        description=description,
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )

    def usage(_args: argparse.Namespace) -> int:
        parser.print_help()
        return 2

    parser.set_defaults(func=usage)
    commands: SubParsers = parser.add_subparsers(title="commands", metavar="COMMAND")
    return commands


def add_trusted_key_options(parser: argparse.ArgumentParser) -> None:
    """--key and --key-file: the verifier keys a check may trust."""
    parser.add_argument(
        "--key",
        action="append",
        default=[],
        metavar="VKEY",
        help="a trusted verifier key, name+keyid+base64 (repeatable)",
    )
    parser.add_argument(
        "--key-file",
        action="append",
        default=[],
        metavar="FILE",
        help="a file of trusted verifier keys, one a line (repeatable)",
    )
