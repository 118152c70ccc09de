"""`govsvc ledger`: check receipts offline, audit the ledger, print proofs.

Each subcommand has a `_register_<name>(commands)` that adds its parser and a
`_<name>(args)` that runs it and returns the exit status.
"""

from __future__ import annotations

import argparse

from govsvc.cli._common import add_trusted_key_options, command_group
from govsvc.cli._ledger_anchor import register_anchor

# audit and proof read the database; they live in their own module
from govsvc.cli._ledger_storage import register_audit, register_proof

MAX_INPUT_BYTES = 16 * 1024 * 1024  # a receipt or a note is a few kB; refuse giants
FETCH_TIMEOUT_S = 10.0

DESCRIPTION = """\
The audit ledger: an append-only RFC 9162 Merkle tree of decisions, with checkpoints
signed as C2SP signed notes. An auditor needs no trust in the server: a receipt proves
that an entry is in the tree a signed checkpoint commits to.
"""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    commands = command_group(
        subparsers,
        "ledger",
        help="verify receipts, audit the ledger, print proofs, anchor checkpoints",
        description=DESCRIPTION,
        epilog=None,
    )
    _register_verify(commands)
    register_audit(commands)
    register_proof(commands)
    _register_key(commands)
    register_anchor(commands)


# -- verify ------------------------------------------------------------------------

VERIFY_EPILOG = """\
checks, in order:
  entry         the leaf hash is SHA-256(0x00 || RFC 8785 encoding of "entry")
  signature     the checkpoint carries a valid signature by a trusted key
  inclusion     the inclusion proof leads from the leaf to the checkpoint's root
  consistency   (with --checkpoint) the receipt's tree is a prefix of the other one

The receipt's own "verifier_key" is trusted only when you pass the same key with
--key or --key-file: a receipt cannot vouch for itself.

examples:
  govsvc ledger verify receipt.json --key "govsvc.example/ledger+1a2b3c4d+AQ..."
  govsvc ledger verify receipt.json --key-file ledger.pub
  govsvc ledger verify receipt.json --key-file ledger.pub \\
      --checkpoint anchored.note --consistency-proof proof.json
  govsvc ledger verify receipt.json --key-file ledger.pub \\
      --checkpoint anchored.note --url https://govsvc.example
"""


def _register_verify(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
) -> None:
    parser = commands.add_parser(
        "verify",
        help="check a decision's receipt offline",
        description="Check a receipt offline: no database, and no network unless "
        "--url is given. Prints each check; exits 0 when all hold, 1 otherwise.",
        epilog=VERIFY_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("receipt", metavar="RECEIPT.json", help="the receipt to check")
    add_trusted_key_options(parser)
    parser.add_argument(
        "--checkpoint",
        metavar="NOTE",
        help="a later (for instance, anchored) signed checkpoint the receipt's tree "
        "must be consistent with",
    )
    source = parser.add_mutually_exclusive_group()
    source.add_argument(
        "--consistency-proof",
        metavar="FILE",
        help='the consistency proof, JSON {"from": M, "to": N, "hashes": [base64...]}',
    )
    source.add_argument(
        "--url",
        help="fetch the consistency proof from this govsvc server "
        "(GET URL/v1/ledger/proofs/consistency)",
    )
    parser.add_argument(
        "--token",
        help="a token with the role auditor, for --url (default: $GOVSVC_TOKEN; "
        "not needed when the server's ledger is public)",
    )
    parser.set_defaults(func=_verify)


def _read_text(path: str, what: str) -> str:
    from govsvc.ledger.errors import MalformedError

    try:
        with open(path, "rb") as f:
            data = f.read(MAX_INPUT_BYTES + 1)
    except OSError as exc:
        raise MalformedError(f"cannot read the {what} {path}: {exc.strerror}") from exc
    if len(data) > MAX_INPUT_BYTES:
        raise MalformedError(
            f"the {what} {path} is larger than {MAX_INPUT_BYTES} bytes; it is not one"
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedError(
            f"the {what} {path} is not UTF-8 text (byte {exc.start})"
        ) from exc


def _fetch_consistency(url: str, token: str | None, old: int, new: int) -> list[bytes]:
    import httpx

    from govsvc.ledger.errors import LedgerError
    from govsvc.ledger.receipt import parse_consistency_proof

    endpoint = url.rstrip("/") + "/v1/ledger/proofs/consistency"
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        response = httpx.get(
            endpoint,
            params={"from": old, "to": new},
            headers=headers,
            timeout=FETCH_TIMEOUT_S,
        )
    except httpx.HTTPError as exc:
        raise LedgerError(
            f"cannot fetch the consistency proof from {endpoint}: {exc}"
        ) from exc
    if response.status_code != 200:
        raise LedgerError(
            f"{endpoint} answered {response.status_code} for from={old}&to={new}: "
            f"{response.text[:300]}"
        )
    got_old, got_new, hashes = parse_consistency_proof(response.content)
    _check_proof_sizes(got_old, got_new, old, new, endpoint)
    return hashes


def _check_proof_sizes(
    got_old: int, got_new: int, old: int, new: int, src: str
) -> None:
    from govsvc.ledger.errors import ProofError

    if (got_old, got_new) != (old, new):
        raise ProofError(
            "consistency",
            f"the proof in {src} is for other tree sizes",
            expected=f"from {old} to {new}",
            found=f"from {got_old} to {got_new}",
        )


def _verify(args: argparse.Namespace) -> int:
    import os
    from pathlib import Path

    from govsvc.ledger.errors import KeyFormatError, MalformedError, VerificationError
    from govsvc.ledger.keys import KeyRing, load_keyring, parse_verifier_key
    from govsvc.ledger.receipt import (
        Check,
        ConsistencySource,
        parse_consistency_proof,
        verify_receipt,
    )

    # 1. Read every input; anything unreadable stops here with its name.
    receipt_text = _read_text(args.receipt, "receipt")
    ring = KeyRing()
    for key in args.key:
        try:
            ring.add(parse_verifier_key(key))
        except KeyFormatError as exc:
            raise KeyFormatError(f"--key {key!r}: {exc}") from exc
    for path in args.key_file:
        for verifier in load_keyring(Path(path)):
            ring.add(verifier)
    checkpoint = _read_text(args.checkpoint, "checkpoint") if args.checkpoint else None

    source: ConsistencySource | None = None
    if (args.consistency_proof or args.url) and checkpoint is None:
        raise MalformedError(
            "--consistency-proof and --url prove consistency with a second checkpoint: "
            "pass it with --checkpoint NOTE"
        )
    if args.consistency_proof:
        proof_path = args.consistency_proof
        got_old, got_new, hashes = parse_consistency_proof(
            _read_text(proof_path, "consistency proof")
        )

        def from_file(old: int, new: int) -> list[bytes]:
            _check_proof_sizes(got_old, got_new, old, new, proof_path)
            return hashes

        source = from_file
    elif args.url:
        token = args.token or os.environ.get("GOVSVC_TOKEN")

        def from_server(old: int, new: int) -> list[bytes]:
            return _fetch_consistency(args.url, token, old, new)

        source = from_server

    # 2. Verify, printing each check as it holds.
    def show(check: Check) -> None:
        print(f"{check.name:<12} OK      {check.detail}")

    try:
        verify_receipt(
            receipt_text,
            ring,
            checkpoint=checkpoint,
            consistency_proof=source,
            on_check=show,
        )
    except VerificationError as exc:
        print(f"{exc.check.split()[0]:<12} FAILED  {exc}")
        return 1
    except MalformedError as exc:
        raise MalformedError(f"{args.receipt}: {exc}") from exc

    print(f"{args.receipt}: verified")
    return 0


# -- key -----------------------------------------------------------------------------

KEY_EPILOG = """\
The signing key file holds a signed-note signer key (PRIVATE+KEY+...), mode 0600;
next to it, FILE.pub is the key ring: every verifier key the service has signed
with, oldest first. Give auditors that file (or its lines): `govsvc ledger verify
--key-file signing.key.pub` checks receipts signed before and after a rotation.

After --rotate, restart the service: a running process keeps signing with the key
it loaded at start-up.

examples:
  govsvc ledger key                  print the verifier keys (makes a key if none)
  govsvc ledger key --rotate         sign with a new key from now on, keep the old
  GOVSVC_SIGNING_KEY=/secrets/ledger.key govsvc ledger key
"""


def _register_key(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
) -> None:
    parser = commands.add_parser(
        "key",
        help="print the verifier keys to publish; rotate the signing key",
        description="Print the ledger's verifier keys (the key ring), the current one "
        "last. The signing key is made on first use if it does not exist.",
        epilog=KEY_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--signing-key",
        metavar="FILE",
        help="the signing key file (default: GOVSVC_SIGNING_KEY, else "
        "GOVSVC_DATA_DIR/signing.key)",
    )
    parser.add_argument(
        "--name",
        help="the key name (default: GOVSVC_KEY_NAME, else GOVSVC_LOG_ORIGIN)",
    )
    parser.add_argument(
        "--rotate", action="store_true", help="replace the signing key, keep the old"
    )
    parser.set_defaults(func=_key)


def _key(args: argparse.Namespace) -> int:
    from pathlib import Path

    from govsvc.ledger.keys import (
        load_keyring,
        load_or_create_signer,
        ring_path,
        rotate_signer,
    )
    from govsvc.settings import load_settings

    settings = load_settings()
    path = Path(args.signing_key) if args.signing_key else settings.signing_key_path
    name = args.name or settings.signer_name

    if args.rotate:
        signer = rotate_signer(path, name)
        print(f"# rotated {path}: restart the service to sign with the new key")
    else:
        signer = load_or_create_signer(path, name)

    # The ring, current key last; never the private key.
    print(f"# verifier keys of {path} (current last)")
    for verifier in load_keyring(ring_path(path)):
        if verifier != signer.verifier:
            print(verifier.key_string)
    print(signer.verifier_key)
    return 0
