"""Ledger entries as bytes: RFC 8785 (JSON Canonicalization Scheme) and the leaf hash.

An entry is a JSON object. Its canonical bytes are its RFC 8785 serialisation (sorted
keys by UTF-16 code units, no whitespace, ECMAScript number formatting), produced by
the maintained `rfc8785` package; its leaf hash is SHA-256(0x00 || bytes), RFC 9162
2.1.1. Anyone holding the entry can recompute both with any RFC 8785 library.

`parse_json` reads JSON documents that carry entries (receipts, proofs) strictly:
I-JSON (RFC 7493) forbids duplicate member names, and a parser that silently keeps
the last of two `"entry"` members would let a document show one entry to a person
and another to the verifier.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from typing import Any

import rfc8785

from govsvc.ledger import merkle
from govsvc.ledger.errors import EntryError, MalformedError


def encode(entry: Mapping[str, Any]) -> bytes:
    """The RFC 8785 bytes of an entry; raises EntryError for what JCS cannot encode."""
    if not isinstance(entry, Mapping):
        raise EntryError(
            f"a ledger entry must be a JSON object, found {type(entry).__name__}"
        )
    try:
        return rfc8785.dumps(dict(entry))
    except rfc8785.IntegerDomainError as exc:
        # RFC 8785 3.2.2.3 / I-JSON: integers beyond 2**53 - 1 lose precision.
        raise EntryError(
            f"an entry holds an integer outside +-(2**53 - 1) ({exc}); "
            "store large numbers as strings"
        ) from exc
    except rfc8785.FloatDomainError as exc:
        raise EntryError(
            f"an entry holds a number JSON cannot represent ({exc}); "
            "NaN and infinities have no JSON form"
        ) from exc
    except rfc8785.CanonicalizationError as exc:
        raise EntryError(f"an entry cannot be encoded as RFC 8785 JSON: {exc}") from exc


def entry_leaf_hash(entry: Mapping[str, Any]) -> bytes:
    """SHA-256(0x00 || RFC 8785 bytes of the entry): the entry's leaf hash."""
    return merkle.leaf_hash(encode(entry))


def _unique_members(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate member name {key!r}")
        out[key] = value
    return out


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse_json(
    text: str | bytes, what: str, error: type[MalformedError] = MalformedError
) -> Any:
    """Parse a JSON document strictly, raising `error` that names `what`.

    Rejects what RFC 8259 leaves open and I-JSON closes: duplicate member names,
    NaN and Infinity, bytes that are not UTF-8, and any data after the value.
    """
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise error(
                f"{what} is not UTF-8: byte {exc.start} is {text[exc.start]:#04x}"
            ) from exc
    try:
        return json.loads(
            text, object_pairs_hook=_unique_members, parse_constant=_no_constants
        )
    except json.JSONDecodeError as exc:
        raise error(
            f"{what} is not valid JSON: {exc.msg} at line {exc.lineno} "
            f"column {exc.colno}"
        ) from exc
    except (ValueError, RecursionError) as exc:
        raise error(f"{what} is not valid JSON: {exc}") from exc


def decode_base64(
    text: str, what: str, error: type[MalformedError] = MalformedError
) -> bytes:
    """Standard base64 (RFC 4648 section 4), accepting only the canonical encoding.

    Decoders differ on padding and on the unused low bits of the last character;
    accepting only text that re-encodes to itself means that one byte string has one
    spelling, so that changing any character of a signature, key or hash changes
    the bytes it stands for.
    """
    try:
        value = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise error(f"{what} is not valid base64: {exc}") from exc
    if base64.b64encode(value).decode("ascii") != text:
        raise error(f"{what} is not canonical base64 (padding or trailing bits)")
    return value


def encode_base64(value: bytes) -> str:
    """Standard, padded base64 (RFC 4648 section 4)."""
    return base64.b64encode(value).decode("ascii")
