"""The few calls the storage layer makes into the ledger's pure formats.

Kept in one place so that the durable ledger depends on a narrow surface of
`canonical`, `note` and `keys`.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from typing import Any

import rfc8785
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from govsvc.ledger.errors import NoteFormatError, SignatureError


def encode_entry(entry: Mapping[str, Any]) -> bytes:
    """The RFC 8785 bytes of an entry: the leaf data of the tree."""
    return rfc8785.dumps(dict(entry))


def checkpoint_body(origin: str, size: int, root: bytes) -> str:
    """C2SP tlog-checkpoint: origin, decimal size, base64 root, each ending in LF."""
    return f"{origin}\n{size}\n{base64.b64encode(root).decode()}\n"


def sign_checkpoint(signer: Any, origin: str, size: int, root: bytes) -> str:
    """The checkpoint of `size` and `root`, signed as a C2SP signed note."""
    body = checkpoint_body(origin, size, root)
    sig = signer.key_id + signer.sign(body.encode())
    return f"{body}\n\u2014 {signer.name} {base64.b64encode(sig).decode()}\n"


def open_checkpoint(
    text: str, trusted_keys: Sequence[str]
) -> tuple[str, int, bytes, str]:
    """Verify a signed checkpoint; return its origin, size, root and signing key.

    Raises SignatureError when no trusted key signed it, NoteFormatError when it is
    not a checkpoint.
    """
    body, sep, sigs = text.partition("\n\n")
    lines = body.split("\n")
    if not sep or len(lines) < 3:
        raise NoteFormatError("checkpoint: expected origin, size and root lines")
    origin, size_text, root_text = lines[0], lines[1], lines[2]
    try:
        size = int(size_text)
        root = base64.b64decode(root_text, validate=True)
    except ValueError as exc:
        raise NoteFormatError(f"checkpoint: bad size or root ({exc})") from exc
    message = (body + "\n").encode()
    for line in sigs.split("\n"):
        if not line.startswith("\u2014 "):
            continue
        name, _, sig_b64 = line[2:].rpartition(" ")
        sig = base64.b64decode(sig_b64)
        for key in trusted_keys:
            key_name, key_hash, key_b64 = key.split("+")
            public = base64.b64decode(key_b64)[1:]
            if key_name != name or bytes.fromhex(key_hash) != sig[:4]:
                continue
            try:
                Ed25519PublicKey.from_public_bytes(public).verify(sig[4:], message)
            except InvalidSignature:
                continue
            return origin, size, root, key
    raise SignatureError("checkpoint signature", "no trusted key's signature verifies")
