"""The few calls the storage layer makes into the ledger's pure formats.

Kept in one place so that the durable ledger depends on a narrow surface of
`canonical`, `note` and `keys`.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

import rfc8785


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
