"""Receipts: one self-contained JSON document proving that an entry is in the ledger.

    {"entry": {...}, "index": 41, "leaf_hash": "<base64>",
     "inclusion_proof": ["<base64>", ...], "checkpoint": "<signed note text>",
     "verifier_key": "<name+keyid+base64>"}

`verify_receipt` needs no database and no network. Its plan, each step a named check:

1. format      the document has every field, each of the right type and encoding;
2. entry       the leaf hash is SHA-256(0x00 || RFC 8785 bytes of "entry");
3. signature   the checkpoint is a C2SP signed note with a valid signature by a key
               the caller trusts (the receipt's own "verifier_key" is only a hint);
4. inclusion   the inclusion proof leads from the leaf at "index" to the
               checkpoint's root (RFC 9162 2.1.3.2);
5. checkpoint  (optional) a second checkpoint, e.g. an anchored one, is signed by a
               trusted key and is for the same log;
6. consistency (optional) a consistency proof shows that the smaller of the two trees
               is a prefix of the larger (RFC 9162 2.1.4.2).

Any failure raises: a MalformedError for input that cannot be read, a
VerificationError naming the check (with expected and found) for one that fails.
Fields beyond the six are ignored, so that other tools may add their own.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from govsvc.ledger import merkle
from govsvc.ledger.canonical import (
    decode_base64,
    encode_base64,
    entry_leaf_hash,
    parse_json,
)
from govsvc.ledger.errors import (
    EntryError,
    KeyFormatError,
    NoteFormatError,
    ProofError,
    ProofFormatError,
    ReceiptError,
    ReceiptFormatError,
    SignatureError,
)
from govsvc.ledger.keys import KeyRing, Verifier, parse_verifier_key
from govsvc.ledger.note import (
    Checkpoint,
    open_checkpoint,
    parse_checkpoint_body,
    parse_note,
)

FIELDS = (
    "entry",
    "index",
    "leaf_hash",
    "inclusion_proof",
    "checkpoint",
    "verifier_key",
)
MAX_PROOF_HASHES = 64  # a proof of a tree of 2**64 leaves has at most 64 hashes

ConsistencySource = Sequence[bytes] | Callable[[int, int], Sequence[bytes]]


@dataclass(frozen=True)
class Receipt:
    """A parsed receipt: every field decoded and checked for form, none trusted."""

    entry: dict[str, Any]
    index: int
    leaf_hash: bytes
    inclusion_proof: tuple[bytes, ...]
    checkpoint: str
    verifier_key: Verifier


@dataclass(frozen=True)
class Check:
    """One check that held, and what it established."""

    name: str
    detail: str


@dataclass(frozen=True)
class ReceiptVerification:
    """Everything a successful verification established."""

    checks: tuple[Check, ...]
    index: int
    leaf_hash: bytes
    checkpoint: Checkpoint
    signed_by: tuple[Verifier, ...]
    other_checkpoint: Checkpoint | None = None


# -- building ------------------------------------------------------------------------


def build_receipt(
    entry: Mapping[str, Any],
    index: int,
    proof: Sequence[bytes],
    checkpoint_text: str,
    verifier_key: str,
) -> dict[str, Any]:
    """A receipt as a JSON-ready dict; the leaf hash is computed from the entry.

    Checks the form of what it is given (so a server never hands out a receipt that
    cannot be read), not its truth: that is `verify_receipt`'s job.
    """
    parse_checkpoint_body(parse_note(checkpoint_text).text)
    parse_verifier_key(verifier_key)
    if index < 0:
        raise ValueError(f"expected an index >= 0, found {index}")
    return {
        "entry": dict(entry),
        "index": index,
        "leaf_hash": encode_base64(entry_leaf_hash(entry)),
        "inclusion_proof": [encode_base64(h) for h in proof],
        "checkpoint": checkpoint_text,
        "verifier_key": verifier_key,
    }


def dumps_receipt(receipt: Mapping[str, Any]) -> str:
    """The receipt as UTF-8 JSON text, indented for people, newline-terminated."""
    return json.dumps(receipt, indent=2, ensure_ascii=False) + "\n"


# -- parsing ---------------------------------------------------------------------------


def _field(doc: Mapping[str, Any], name: str, kind: type | tuple[type, ...]) -> Any:
    if name not in doc:
        raise ReceiptFormatError(f'the receipt has no "{name}" field')
    value = doc[name]
    # bool is an int in Python but not a JSON number.
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        names = (
            kind.__name__
            if isinstance(kind, type)
            else "/".join(k.__name__ for k in kind)
        )
        raise ReceiptFormatError(
            f'receipt field "{name}" must be a JSON {_JSON_NAMES.get(names, names)}, '
            f"found {_json_type(value)}"
        )
    return value


_JSON_NAMES = {
    "dict": "object",
    "int": "integer",
    "float": "number",
    "str": "string",
    "list": "array",
}


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    return _JSON_NAMES.get(type(value).__name__, type(value).__name__)


def _hash_field(text: Any, what: str) -> bytes:
    if not isinstance(text, str):
        raise ReceiptFormatError(
            f"{what} must be a base64 string, found {_json_type(text)}"
        )
    value = decode_base64(text, what, ReceiptFormatError)
    if len(value) != merkle.HASH_SIZE:
        raise ReceiptFormatError(
            f"{what} has {len(value)} bytes, expected {merkle.HASH_SIZE} (SHA-256)"
        )
    return value


def parse_receipt(data: str | bytes | Mapping[str, Any]) -> Receipt:
    """Read a receipt's JSON text (or parsed JSON); ReceiptFormatError if malformed."""
    doc = (
        data
        if isinstance(data, Mapping)
        else parse_json(data, "the receipt", ReceiptFormatError)
    )
    if not isinstance(doc, Mapping):
        raise ReceiptFormatError(f"a receipt is a JSON object, found {_json_type(doc)}")

    entry = _field(doc, "entry", dict)
    index = _field(doc, "index", int)
    if index < 0:
        raise ReceiptFormatError(f'receipt field "index" must be >= 0, found {index}')
    leaf = _hash_field(_field(doc, "leaf_hash", str), '"leaf_hash"')
    proof_texts = _field(doc, "inclusion_proof", list)
    if len(proof_texts) > MAX_PROOF_HASHES:
        raise ReceiptFormatError(
            f'"inclusion_proof" has {len(proof_texts)} hashes; no tree needs more than '
            f"{MAX_PROOF_HASHES}"
        )
    proof = tuple(
        _hash_field(h, f'"inclusion_proof"[{i}]') for i, h in enumerate(proof_texts)
    )
    checkpoint = _field(doc, "checkpoint", str)
    try:
        verifier = parse_verifier_key(_field(doc, "verifier_key", str))
    except KeyFormatError as exc:
        raise ReceiptFormatError(f'receipt field "verifier_key": {exc}') from exc
    return Receipt(dict(entry), index, leaf, proof, checkpoint, verifier)


def parse_consistency_proof(
    data: str | bytes | Mapping[str, Any],
) -> tuple[int, int, list[bytes]]:
    """`{"from": M, "to": N, "hashes": [base64, ...]}` as (M, N, hashes)."""
    doc = (
        data
        if isinstance(data, Mapping)
        else parse_json(data, "the consistency proof", ProofFormatError)
    )
    if not isinstance(doc, Mapping):
        raise ProofFormatError(
            f"a consistency proof is a JSON object, found {_json_type(doc)}"
        )
    sizes = []
    for name in ("from", "to"):
        value = doc.get(name)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ProofFormatError(
                f'consistency proof field "{name}" must be an integer >= 0, '
                f"found {value!r}"
            )
        sizes.append(value)
    hashes = doc.get("hashes")
    if not isinstance(hashes, list) or len(hashes) > MAX_PROOF_HASHES:
        raise ProofFormatError(
            'consistency proof field "hashes" must be an array of at most '
            f"{MAX_PROOF_HASHES} base64 hashes"
        )
    decoded = []
    for i, text in enumerate(hashes):
        if not isinstance(text, str):
            raise ProofFormatError(f'"hashes"[{i}] must be a base64 string')
        value = decode_base64(
            text, f'consistency proof "hashes"[{i}]', ProofFormatError
        )
        if len(value) != merkle.HASH_SIZE:
            raise ProofFormatError(
                f'consistency proof "hashes"[{i}] has {len(value)} bytes, '
                f"expected {merkle.HASH_SIZE}"
            )
        decoded.append(value)
    return sizes[0], sizes[1], decoded


# -- verifying -------------------------------------------------------------------------


def _trusted_ring(trusted_keys: KeyRing | Iterable[Verifier | str]) -> KeyRing:
    if isinstance(trusted_keys, KeyRing):
        return trusted_keys
    if isinstance(trusted_keys, str):
        trusted_keys = [trusted_keys]  # one key string, not its characters
    ring = KeyRing()
    for key in trusted_keys:
        ring.add(key)
    return ring


def verify_receipt(
    receipt: Receipt | str | bytes | Mapping[str, Any],
    trusted_keys: KeyRing | Iterable[Verifier | str],
    *,
    checkpoint: str | bytes | None = None,
    consistency_proof: ConsistencySource | None = None,
    on_check: Callable[[Check], None] | None = None,
) -> ReceiptVerification:
    """Verify a receipt offline; see the module docstring for the checks, in order.

    `consistency_proof` is the proof between the receipt's checkpoint and
    `checkpoint` (smaller size first, as RFC 9162 defines it), or a callable
    `(old_size, new_size) -> hashes` that fetches it once the sizes are known.
    `on_check` is called as each check holds, so a caller can show progress.
    """
    checks: list[Check] = []

    def passed(name: str, detail: str) -> None:
        check = Check(name, detail)
        checks.append(check)
        if on_check is not None:
            on_check(check)

    # 1. format
    parsed = receipt if isinstance(receipt, Receipt) else parse_receipt(receipt)
    ring = _trusted_ring(trusted_keys)
    if not len(ring):
        # Fail closed: with no trusted key, nothing below could mean anything.
        raise SignatureError(
            "signature",
            "no trusted verifier key was given; the receipt names "
            f"{parsed.verifier_key.key_string}: confirm that key with the log's "
            "operator, then pass it as a trusted key",
        )
    passed(
        "format", f"entry {parsed.index}, {len(parsed.inclusion_proof)} proof hashes"
    )

    # 2. entry
    try:
        computed = entry_leaf_hash(parsed.entry)
    except EntryError as exc:
        raise ReceiptFormatError(f'receipt field "entry": {exc}') from exc
    if computed != parsed.leaf_hash:
        raise ReceiptError(
            "entry",
            'the leaf hash of "entry" (RFC 8785) is not the receipt\'s "leaf_hash"',
            expected=encode_base64(parsed.leaf_hash),
            found=encode_base64(computed),
        )
    passed("entry", f"leaf hash {encode_base64(computed)}")

    # 3. signature
    try:
        verified = open_checkpoint(parsed.checkpoint, ring)
    except NoteFormatError as exc:
        raise ReceiptFormatError(f'receipt field "checkpoint": {exc}') from exc
    cp = verified.checkpoint
    signers = ", ".join(v.key_string for v in verified.note.verified)
    passed("signature", f"checkpoint {cp.origin} size {cp.size} signed by {signers}")

    # 4. inclusion
    merkle.verify_inclusion(
        parsed.leaf_hash, parsed.index, cp.size, parsed.inclusion_proof, cp.root
    )
    passed(
        "inclusion",
        f"entry {parsed.index} is in the tree of size {cp.size}, "
        f"root {encode_base64(cp.root)}",
    )

    other: Checkpoint | None = None
    if checkpoint is not None:
        # 5. checkpoint
        try:
            other_verified = open_checkpoint(checkpoint, ring, origin=cp.origin)
        except NoteFormatError as exc:
            raise NoteFormatError(f"the other checkpoint: {exc}") from exc
        except SignatureError as exc:
            raise SignatureError(
                "checkpoint",
                f"the other checkpoint: {exc}",
                expected=exc.expected,
                found=exc.found,
            ) from exc
        other = other_verified.checkpoint
        passed("checkpoint", f"checkpoint size {other.size} signed by a trusted key")

        # 6. consistency
        _verify_consistency(cp, other, consistency_proof)
        passed(
            "consistency",
            f"the tree of size {min(cp.size, other.size)} is a prefix of the tree "
            f"of size {max(cp.size, other.size)}",
        )

    return ReceiptVerification(
        tuple(checks), parsed.index, parsed.leaf_hash, cp, verified.note.verified, other
    )


def _verify_consistency(
    first: Checkpoint, second: Checkpoint, source: ConsistencySource | None
) -> None:
    old, new = sorted((first, second), key=lambda c: c.size)
    if old.size == new.size:
        merkle.verify_consistency(old.size, new.size, old.root, new.root, [])
        return
    if source is None:
        raise ProofError(
            "consistency",
            f"the checkpoints have sizes {old.size} and {new.size}; a consistency "
            "proof between them is needed (a proof file, or a server to fetch it from)",
        )
    proof = source(old.size, new.size) if callable(source) else source
    merkle.verify_consistency(old.size, new.size, old.root, new.root, list(proof))
