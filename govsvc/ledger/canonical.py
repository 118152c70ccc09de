"""Ledger entries as bytes: RFC 8785 (JSON Canonicalization Scheme) and the leaf hash.

An entry is a JSON object. Its canonical bytes are its RFC 8785 serialisation (sorted
keys by UTF-16 code units, no whitespace, ECMAScript number formatting), the bytes the
maintained `rfc8785` package produces; its leaf hash is SHA-256(0x00 || bytes), RFC
9162 2.1.1. Anyone holding the entry can recompute both with any RFC 8785 library.

`rfc8785` is pure Python and cost ~250 us for a decision entry, so `encode` lets orjson
write the JSON (sorted keys, RFC 8785's string escaping) after replacing every float
by its ECMAScript text, and hands anything else to `rfc8785`: types other than plain
dict, list, tuple, str, int, float, bool and None, integers beyond +-(2**53 - 1),
NaN and infinities, lone surrogates, keys that orjson refuses, and objects whose keys
hold characters above U+FFFF (there code point order, which orjson sorts by, is not
UTF-16 order). That way every error, and its message, still comes from `rfc8785`.

`parse_json` reads JSON documents that carry entries (receipts, proofs) strictly:
I-JSON (RFC 7493) forbids duplicate member names, and a parser that silently keeps
the last of two `"entry"` members would let a document show one entry to a person
and another to the verifier.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from collections.abc import Mapping
from typing import Any

import orjson
import rfc8785

from govsvc.ledger import merkle
from govsvc.ledger.errors import EntryError, MalformedError


def encode(entry: Mapping[str, Any]) -> bytes:
    """The RFC 8785 bytes of an entry; raises EntryError for what JCS cannot encode."""
    if not isinstance(entry, Mapping):
        raise EntryError(
            f"a ledger entry must be a JSON object, found {type(entry).__name__}"
        )
    obj = entry if type(entry) is dict else dict(entry)

    encoded = _encode_fast(obj)
    if encoded is not None:
        return encoded

    return _encode_reference(obj)


def _encode_reference(entry: dict[str, Any]) -> bytes:
    """RFC 8785 bytes from the `rfc8785` package, its errors as EntryError."""
    try:
        return rfc8785.dumps(entry)
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


class _NotFast(Exception):
    """A value the fast encoder leaves to `rfc8785` (which may well refuse it)."""


# OPT_STRICT_INTEGER refuses integers beyond +-(2**53 - 1), exactly RFC 8785's range,
# so that they reach `rfc8785` and its IntegerDomainError.
_ORJSON_OPTIONS = orjson.OPT_SORT_KEYS | orjson.OPT_STRICT_INTEGER

# The lead byte of every 4-byte UTF-8 sequence: a character above U+FFFF.
_ASTRAL_UTF8 = re.compile(b"[\xf0-\xf4]")

# Raw JSON text that orjson copies into its output: how floats reach it.
_Fragment = orjson.Fragment


def _encode_fast(entry: dict[str, Any]) -> bytes | None:
    """RFC 8785 bytes through orjson, or None for an entry left to `rfc8785`.

    orjson already writes strings as RFC 8785 3.2.2.2 asks (only the quotation mark,
    the backslash and characters below U+0020 escaped, in their two-character forms
    or as lower-case \\u00xx; U+007F, U+2028 and all else as UTF-8) and refuses lone
    surrogates and keys that are not str.
    Floats are written from Python's shortest repr, never by orjson, whose float
    format has changed between releases. tests/ledger/test_canonical.py compares this
    with `rfc8785` byte for byte, which is what catches a future orjson that escapes
    or sorts differently.
    """
    try:
        encoded = orjson.dumps(_prepare_object(entry), option=_ORJSON_OPTIONS)
    except (_NotFast, orjson.JSONEncodeError, RecursionError):
        return None

    # orjson sorts keys by code point; RFC 8785 by UTF-16 code unit, which differs
    # only between a character above U+FFFF and one in U+E000..U+FFFF.
    if (
        not encoded.isascii()
        and _ASTRAL_UTF8.search(encoded)
        and _has_astral_key(entry)
    ):
        return None

    return encoded


def _prepare_object(obj: dict[str, Any]) -> dict[str, Any]:
    """A copy of a JSON object with floats as ECMAScript text; _NotFast otherwise.

    Runs over every member of every entry, hence one loop with the common types
    first; strings, literals and integers are left as they are for orjson to write.
    """
    out = obj.copy()
    for key, value in obj.items():
        kind = type(value)
        if kind is str:
            continue
        if kind is float:
            out[key] = _float_fragment(value)
        elif value is None or kind is bool or kind is int:
            continue
        elif kind is dict:
            out[key] = _prepare_object(value)
        elif kind is list or kind is tuple:
            out[key] = _prepare_array(value)
        else:
            raise _NotFast
    return out


def _prepare_array(items: list[Any] | tuple[Any, ...]) -> list[Any]:
    """_prepare_object for a JSON array."""
    out = list(items)
    for index, value in enumerate(items):
        kind = type(value)
        if kind is str:
            continue
        if kind is dict:
            out[index] = _prepare_object(value)
        elif kind is float:
            out[index] = _float_fragment(value)
        elif value is None or kind is bool or kind is int:
            continue
        elif kind is list or kind is tuple:
            out[index] = _prepare_array(value)
        else:
            raise _NotFast
    return out


def _float_fragment(value: float) -> Any:
    """A float as its RFC 8785 text, for orjson to write as it is.

    Most floats in entries are like 0.12, whose repr is already the ECMAScript text.
    Reprs with an exponent, of integral floats ("12.0"), "nan" and "inf" are not:
    they have an "e" or end in "0", "f" or "n" (positional reprs of non-integral
    floats never end in "0").
    """
    text = repr(value)
    if "e" in text or text[-1] in "0fn":
        text = _unusual_float_text(value, text)
    return _Fragment(text)


def _unusual_float_text(value: float, text: str) -> str:
    """The RFC 8785 text of a float whose repr is not it; _NotFast for NaN and inf."""
    if not math.isfinite(value):
        raise _NotFast
    return ecmascript_number(text)


def ecmascript_number(text: str) -> str:
    """ECMAScript's Number::toString from Python's repr of the same finite float.

    Both print the shortest digits that read back as the float; they differ only in
    layout. Python writes positional notation for 1e-4 <= |x| < 1e16 and an exponent
    otherwise ("1e-05", "1.5e+16"); ECMAScript is positional for 1e-6 <= |x| < 1e21,
    writes no ".0" for integers, no "-0", and no leading zero in exponents ("1e-7").
    """
    mantissa, _, exponent_text = text.partition("e")
    if not exponent_text:
        if text in ("0.0", "-0.0"):
            return "0"
        return text[:-2] if text.endswith(".0") else text

    exponent = int(exponent_text)
    if not -7 < exponent < 21:
        return f"{mantissa}e{exponent:+d}"

    # Positional in ECMAScript, not in Python: 1e16 <= |x| < 1e21 or
    # 1e-6 <= |x| < 1e-4. The mantissa has at most 17 digits, so for exponents of
    # 16 and up all of them lie before the point.
    sign = "-" if mantissa[0] == "-" else ""
    digits = mantissa.lstrip("-").replace(".", "")
    if exponent > 0:
        return sign + digits + "0" * (exponent + 1 - len(digits))
    return sign + "0." + "0" * (-exponent - 1) + digits


def _has_astral_key(value: Any) -> bool:
    """Whether any object in a JSON value has a key above U+FFFF."""
    if type(value) is dict:
        for key, member in value.items():
            if not key.isascii() and max(key) > "\uffff":
                return True
            if _has_astral_key(member):
                return True
    elif type(value) is list or type(value) is tuple:
        return any(_has_astral_key(item) for item in value)
    return False


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
