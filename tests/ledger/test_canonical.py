"""RFC 8785 entry encoding, leaf hashes, strict JSON and canonical base64."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from govsvc.ledger import canonical
from govsvc.ledger.errors import EntryError, MalformedError, ReceiptFormatError

# RFC 8785 section 3.2.2 (the sample input and its canonical form) and 3.2.3 (the
# sorting example: keys ordered by their UTF-16 code units).
RFC8785_SAMPLE_IN = {
    "numbers": [333333333.33333329, 1e30, 4.50, 2e-3, 0.000000000000000000000000001],
    "string": "\u20ac$\u000f\u000aA'\u0042\u0022\u005c\\\"/",
    "literals": [None, True, False],
}
RFC8785_SAMPLE_OUT = (
    '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,'
    '1e-27],"string":"\u20ac$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}'
)
RFC8785_SORTING_IN = {
    "\u20ac": "Euro Sign",
    "\r": "Carriage Return",
    "\ufb33": "Hebrew Letter Dalet With Dagesh",
    "1": "One",
    "\U0001f600": "Emoji: Grinning Face",
    "\u0080": "Control",
    "\u00f6": "Latin Small Letter O With Diaeresis",
}
RFC8785_SORTING_ORDER = [
    "\r",
    "1",
    "\u0080",
    "\u00f6",
    "\u20ac",
    "\U0001f600",
    "\ufb33",
]


def test_encode_rfc8785_sample() -> None:
    assert canonical.encode(RFC8785_SAMPLE_IN).decode("utf-8") == RFC8785_SAMPLE_OUT


def test_encode_rfc8785_sorting_by_utf16_code_units() -> None:
    encoded = canonical.encode(RFC8785_SORTING_IN).decode("utf-8")
    # Find each member by its value: "\r" is escaped in the output.
    positions = [
        encoded.index(f'"{RFC8785_SORTING_IN[key]}"') for key in RFC8785_SORTING_ORDER
    ]

    assert positions == sorted(positions)


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ({}, b"{}"),
        ({"b": 1, "a": 2}, b'{"a":2,"b":1}'),
        ({"x": 1.0, "y": -0.0, "z": 1e21}, b'{"x":1,"y":0,"z":1e+21}'),
        (
            {"nested": {"z": [3, {"b": None, "a": True}]}},
            b'{"nested":{"z":[3,{"a":true,"b":null}]}}',
        ),
        (
            {"text": "caf\u00e9 \u2014 \U0001f600"},
            '{"text":"caf\u00e9 \u2014 \U0001f600"}'.encode(),
        ),
    ],
)
def test_encode_known_answers(entry: dict[str, Any], expected: bytes) -> None:
    assert canonical.encode(entry) == expected


def test_entry_leaf_hash_is_prefixed_sha256_of_encoding() -> None:
    entry = {"kind": "decision", "verdict": "allow", "index": 41}

    assert (
        canonical.entry_leaf_hash(entry)
        == hashlib.sha256(
            b'\x00{"index":41,"kind":"decision","verdict":"allow"}'
        ).digest()
    )


def test_entry_leaf_hash_independent_of_key_order() -> None:
    assert canonical.entry_leaf_hash(
        {"a": 1, "b": [1, 2]}
    ) == canonical.entry_leaf_hash({"b": [1, 2], "a": 1})


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"n": 2**53}, r"integer outside \+-\(2\*\*53 - 1\)"),
        ({"n": float("nan")}, "NaN and infinities have no JSON form"),
        ({"n": float("inf")}, "NaN and infinities have no JSON form"),
        ({1: "x"}, "object keys must be strings"),
        ({"s": {1, 2}}, "unsupported type"),
        ([1, 2], "must be a JSON object, found list"),
    ],
)
def test_encode_unencodable_entry_raises(entry: Any, message: str) -> None:
    with pytest.raises(EntryError, match=message):
        canonical.encode(entry)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"a": 1, "a": 2}', "duplicate member name 'a'"),
        ('{"a": NaN}', "NaN is not JSON"),
        ('{"a": Infinity}', "Infinity is not JSON"),
        ('{"a": 1} {}', "Extra data at line 1 column 10"),
        ('{"a": ', "Expecting value at line 1 column 7"),
        (b'{"a": "\xff"}', "not UTF-8: byte 7 is 0xff"),
        ("[" * 100_000, "not valid JSON"),
    ],
)
def test_parse_json_rejects(text: str | bytes, message: str) -> None:
    with pytest.raises(ReceiptFormatError, match=message):
        canonical.parse_json(text, "the receipt", ReceiptFormatError)


def test_parse_json_accepts_nested_duplicates_only_once() -> None:
    assert canonical.parse_json('{"a": {"b": 1}, "c": {"b": 2}}', "x") == {
        "a": {"b": 1},
        "c": {"b": 2},
    }


@pytest.mark.parametrize(
    ("text", "expected"),
    [("", b""), ("AA==", b"\x00"), ("AAE=", b"\x00\x01"), ("AAEC", b"\x00\x01\x02")],
)
def test_decode_base64_canonical(text: str, expected: bytes) -> None:
    assert canonical.decode_base64(text, "x") == expected
    assert canonical.encode_base64(expected) == text


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("AAF=", "not canonical base64"),  # non-zero unused bits
        ("AB==", "not canonical base64"),
        ("AAE", "Incorrect padding"),
        ("AAE==", "Excess data after padding"),
        ("AA E=", "Only base64 data is allowed"),
        ("AA-_", "Only base64 data is allowed"),  # the URL-safe alphabet
        ("\u00e9AAA", "only ASCII characters"),
    ],
)
def test_decode_base64_rejects(text: str, message: str) -> None:
    with pytest.raises(MalformedError, match=message):
        canonical.decode_base64(text, "the hash")
