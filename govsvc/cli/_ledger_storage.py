"""`govsvc ledger audit` and `govsvc ledger proof`: the commands that read the database.

Registered by `govsvc.cli.ledger` next to `verify` (the leading underscore keeps
this module out of the command-group discovery).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from govsvc.cli._common import add_trusted_key_options

if TYPE_CHECKING:
    import sqlalchemy as sa

PROGRESS_INTERVAL_S = 1.0  # at most one progress line per second on stderr

AUDIT_EPILOG = """\
checks, in order, stopping at the first failure:
  entries       indices are dense; each leaf hash is SHA-256(0x00 || entry bytes)
  tree          every stored subtree hash equals the one recomputed from the entries
  leftovers     nothing is stored beyond the tree's size
  checkpoints   each stored checkpoint is signed by a trusted key, commits to the
                recomputed root at its size, and is consistent with the one before

Trusted keys: --key and --key-file when given; else the key ring next to the
signing key (GOVSVC_SIGNING_KEY + ".pub"); else, with a warning, the verifier keys
stored in the database itself (which proves the tree matches its checkpoints, but
not who signed them). Memory use is constant; progress goes to stderr.

exit status: 0 when every check holds, 1 at the first failure (printed with the
entry index, the tree node's entries, or the checkpoint's size).

examples:
  govsvc ledger audit
  govsvc ledger audit --database postgresql+psycopg://govsvc@db/govsvc \\
      --key-file ledger.pub
"""

PROOF_EPILOG = """\
output (JSON on stdout, hashes in base64):
  inclusion    {"index": I, "size": N, "leaf_hash": "...", "hashes": [...]}
  consistency  {"from": M, "to": N, "hashes": [...]}
The consistency form is what `govsvc ledger verify --consistency-proof` reads.
Without --size, the inclusion proof is against the newest stored checkpoint, and the
checkpoint's text is added as "checkpoint".

examples:
  govsvc ledger proof --index 41
  govsvc ledger proof --index 41 --size 1000
  govsvc ledger proof --from 1000 --to 2000 > proof.json
"""


def _add_database(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--database",
        metavar="URL",
        help="SQLAlchemy database URL (default: GOVSVC_DATABASE_URL, else SQLite in "
        "GOVSVC_DATA_DIR)",
    )


def register_audit(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
) -> None:
    parser = commands.add_parser(
        "audit",
        help="recompute the stored ledger and check every checkpoint",
        description="Recompute every leaf and tree hash from the stored entries,\n"
        "and check every stored checkpoint's signature and consistency.",
        epilog=AUDIT_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_database(parser)
    add_trusted_key_options(parser)
    parser.set_defaults(func=_audit)


def register_proof(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
) -> None:
    parser = commands.add_parser(
        "proof",
        help="print an inclusion or consistency proof as JSON",
        description="Print an RFC 9162 inclusion proof (--index) or consistency\n"
        "proof (--from, --to) built from the stored tree.",
        epilog=PROOF_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_database(parser)
    parser.add_argument("--index", type=int, metavar="I", help="the entry to prove")
    parser.add_argument(
        "--size", type=int, metavar="N", help="the tree size of the inclusion proof"
    )
    parser.add_argument("--from", dest="old", type=int, metavar="M", help="old size")
    parser.add_argument("--to", dest="new", type=int, metavar="N", help="new size")
    parser.set_defaults(func=_proof, parser=parser)


def _engine(args: argparse.Namespace) -> sa.Engine:
    import sqlalchemy as sa

    from govsvc.ledger.errors import LedgerError
    from govsvc.settings import load_settings

    url = sa.make_url(args.database or load_settings().resolved_database_url)
    if url.get_backend_name() == "sqlite" and url.database not in (
        None,
        "",
        ":memory:",
    ):
        # SQLite would quietly create an empty database and report it empty.
        path = Path(url.database)
        if not path.is_file():
            raise LedgerError(
                f"no SQLite database at {path}: expected the service's database; "
                "pass --database or set GOVSVC_DATABASE_URL / GOVSVC_DATA_DIR"
            )
    return sa.create_engine(url, poolclass=sa.pool.NullPool)


@contextlib.contextmanager
def _database_errors(engine: sa.Engine) -> Iterator[None]:
    """Turn a database failure into a message: which database, what it said."""
    import sqlalchemy as sa

    from govsvc.ledger.errors import LedgerError

    try:
        yield
    except sa.exc.SQLAlchemyError as exc:
        where = engine.url.render_as_string(hide_password=True)
        detail = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        raise LedgerError(
            f"cannot read the ledger at {where}: {detail}; check the URL, that the "
            "database is up, and that `govsvc db upgrade` has created its tables"
        ) from exc


def _trusted_keys(args: argparse.Namespace) -> list[str] | None:
    from govsvc.ledger.keys import load_keyring, parse_verifier_key, ring_path
    from govsvc.settings import load_settings

    keys = [parse_verifier_key(k).key_string for k in args.key]
    for path in args.key_file:
        keys.extend(v.key_string for v in load_keyring(Path(path)))
    if keys:
        return keys

    ring = ring_path(load_settings().signing_key_path)
    if ring.is_file():
        return [v.key_string for v in load_keyring(ring)]
    print(
        f"govsvc: warning: no trusted keys given and no key ring at {ring}; "
        "trusting the verifier keys stored in the database",
        file=sys.stderr,
    )
    return None


def _audit(args: argparse.Namespace) -> int:
    from govsvc.ledger.audit import audit

    keys = _trusted_keys(args)
    last = [time.monotonic()]

    def progress(done: int, total: int) -> None:
        now = time.monotonic()
        if now - last[0] >= PROGRESS_INTERVAL_S or (done == total and total > 0):
            last[0] = now
            print(
                f"audit: {done}/{total} entries ({100 * done // max(total, 1)}%)",
                file=sys.stderr,
            )

    engine = _engine(args)
    try:
        with _database_errors(engine):
            report = audit(engine, keys, progress=progress)
    finally:
        engine.dispose()

    if report.failure is not None:
        print(f"ledger audit FAILED: {report.failure}", file=sys.stderr)
        return 1
    print(
        f"ledger OK: {report.entries} entries, {report.nodes} tree nodes, "
        f"{report.checkpoints} checkpoints signed by "
        f"{len(report.trusted_keys)} trusted key(s)"
    )
    return 0


def _proof(args: argparse.Namespace) -> int:
    from govsvc.ledger import merkle, storage
    from govsvc.ledger.canonical import encode_base64
    from govsvc.ledger.errors import LedgerError

    inclusion = args.index is not None
    consistency = args.old is not None or args.new is not None
    if inclusion == consistency or (
        consistency and (args.old is None or args.new is None)
    ):
        args.parser.error("give either --index I [--size N], or --from M --to N")

    engine = _engine(args)
    out: dict[str, Any]
    try:
        with _database_errors(engine), engine.connect() as conn:

            def fetch(pieces: list[merkle.Piece]) -> dict[merkle.Piece, bytes]:
                return storage.fetch_pieces(conn, pieces)

            stored = storage.read_size(conn)
            if inclusion:
                size = args.size
                checkpoint = storage.checkpoint_row(conn, size)
                if size is None:
                    size = int(checkpoint["size"]) if checkpoint else stored
                _check_sizes(
                    stored, size, f"entry {args.index}", 0 <= args.index < size
                )
                found = storage.read_entry(conn, args.index)
                assert found is not None  # index < size <= stored
                out = {
                    "index": args.index,
                    "size": size,
                    "leaf_hash": encode_base64(found[1]),
                    "hashes": [
                        encode_base64(h)
                        for h in merkle.inclusion_proof(args.index, size, fetch)
                    ],
                }
                if checkpoint is not None:
                    out["checkpoint"] = str(checkpoint["note"])
            else:
                _check_sizes(
                    stored, args.new, f"size {args.old}", 0 <= args.old <= args.new
                )
                hashes = merkle.consistency_proof(args.old, args.new, fetch)
                out = {
                    "from": args.old,
                    "to": args.new,
                    "hashes": [encode_base64(h) for h in hashes],
                }
    except LookupError as exc:
        raise LedgerError(
            f"the stored tree is missing a subtree ({exc}); run `govsvc ledger audit`"
        ) from exc
    finally:
        engine.dispose()

    print(json.dumps(out, indent=2))
    return 0


def _check_sizes(stored: int, size: int, what: str, ordered: bool) -> None:
    from govsvc.ledger.errors import LedgerError

    if not 0 <= size <= stored:
        raise LedgerError(
            f"no tree of size {size}: expected 0 <= size <= {stored}, the ledger's size"
        )
    if not ordered:
        raise LedgerError(
            f"no proof for {what} in the tree of size {size}: expected an index below "
            "the size, or an old size not above the new one"
        )
