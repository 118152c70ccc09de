"""The few calls the storage layer makes into the ledger's pure formats.

Kept in one place so that the durable ledger depends on a narrow surface of
`canonical`, `note` and `keys`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from govsvc.ledger import canonical, note
from govsvc.ledger.keys import Signer


def encode_entry(entry: Mapping[str, Any]) -> bytes:
    """The RFC 8785 bytes of an entry: the leaf data of the tree."""
    return canonical.encode(entry)


def sign_checkpoint(signer: Signer, origin: str, size: int, root: bytes) -> str:
    """The C2SP tlog-checkpoint of `size` and `root`, signed as a C2SP signed note."""
    return note.sign_checkpoint(note.Checkpoint(origin, size, root), signer)


def open_checkpoint(
    text: str, trusted_keys: Sequence[str]
) -> tuple[str, int, bytes, str]:
    """Verify a signed checkpoint; return its origin, size, root and signing key.

    Raises SignatureError when no trusted key signed it, NoteFormatError when it is
    not a checkpoint.
    """
    opened = note.open_checkpoint(text, trusted_keys)
    cp = opened.checkpoint
    return cp.origin, cp.size, cp.root, opened.note.verified[0].key_string
