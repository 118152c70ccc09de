"""RFC 8785 entry encoding, leaf hashes, strict JSON and canonical base64."""

from __future__ import annotations

import collections
import copy
import datetime
import decimal
import enum
import functools
import hashlib
import re
import reprlib
import struct
import types
import uuid
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import orjson
import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

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


# --- The fast encoder against the `rfc8785` package -------------------------------
#
# `encode` writes most entries through orjson and leaves the rest to `rfc8785`; these
# tests hold it to the bytes, and the errors, of the encoder it replaced.


def reference_encode(entry: Any) -> bytes:
    """`canonical.encode` as it was before the fast path: `rfc8785` alone."""
    if not isinstance(entry, Mapping):
        raise EntryError(
            f"a ledger entry must be a JSON object, found {type(entry).__name__}"
        )
    try:
        return rfc8785.dumps(dict(entry))
    except rfc8785.IntegerDomainError as exc:
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


def outcome(encoder: Callable[[Any], bytes], entry: Any) -> tuple[Any, ...]:
    """What an encoder makes of an entry: its bytes, or its error and message."""
    try:
        return ("bytes", encoder(entry))
    # Any exception: the old encoder let some through as they were (the
    # UnicodeEncodeError of a lone surrogate in a key, RecursionError).
    except Exception as exc:
        return ("error", type(exc), str(exc))


def assert_same_as_reference(entry: Any) -> None:
    assert outcome(canonical.encode, entry) == outcome(reference_encode, entry)


# Floats where the two number notations meet, or that are extreme.
EDGE_FLOATS = [
    0.0,
    -0.0,
    1.0,
    -1.0,
    0.1,
    1e-4,
    9.999999999999999e-5,
    1e-5,
    1e-6,
    9.999999999999997e-7,
    1e-7,
    1.5e-7,
    1e15,
    1e16,
    1.5e16,
    9.999999999999998e15,
    1e20,
    123456789012345680000.0,
    1e21,
    1.5e21,
    1e22,
    1e23,
    2.0**52 + 0.5,
    2.0**53 - 1,
    2.0**53,
    2.0**53 + 2,
    2.0**68,
    -(2.0**53),
    5e-324,
    -5e-324,
    2.2250738585072014e-308,
    2.225073858507201e-308,
    1.7976931348623157e308,
    -1.7976931348623157e308,
    333333333.3333333,
    0.30000000000000004,
]
LONE_SURROGATES = ["\ud800", "\udfff", "a\udc00b"]

# Characters that matter to RFC 8785: controls, the quotation mark and backslash it
# escapes, the ones an encoder might escape and must not (U+007F, U+2028, U+2029),
# the private use range that sorts differently in UTF-16, and characters above U+FFFF.
special_chars = st.sampled_from(
    [chr(c) for c in range(0x20)]
    + ['"', "\\", "/", "\x7f", "\x80", "\u2028", "\u2029", "\ue000", "\uffff"]
    + ["\ufb33", "\U00010000", "\U0001f600", "\U0010ffff", "\u00f6", "\u20ac"]
)
# Any character but a lone surrogate, which `rfc8785` refuses (tested below).
any_char = st.characters(exclude_categories=["Cs"])
texts = st.text(any_char | special_chars, max_size=12)
keys = st.text(st.sampled_from("abcAB1_") | special_chars | any_char, max_size=6)
numbers = (
    st.integers(-(2**53) + 1, 2**53 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.floats(-1e-300, 1e-300)  # subnormals among them
    | st.sampled_from(EDGE_FLOATS)
)
json_values = st.recursive(
    st.none() | st.booleans() | numbers | texts,
    lambda children: (
        st.lists(children, max_size=5)
        | st.lists(children, max_size=3).map(tuple)
        | st.dictionaries(keys, children, max_size=5)
    ),
    max_leaves=30,
)
entries = st.dictionaries(keys, json_values, max_size=8)


@settings(max_examples=400, deadline=None)
@given(entries)
def test_encode_equals_rfc8785(entry: dict[str, Any]) -> None:
    assert canonical.encode(entry) == rfc8785.dumps(entry)


class Colour(enum.Enum):
    RED = 1


class Level(enum.IntEnum):
    HIGH = 3


class Name(enum.StrEnum):
    TIER = "tier"


class Pair(NamedTuple):
    left: int
    right: float


class Ratio(float):
    pass


# Values `rfc8785` refuses (or that break it), mixed into otherwise valid entries.
unencodable = st.sampled_from(
    [
        float("nan"),
        float("inf"),
        float("-inf"),
        2**53,
        -(2**53),
        2**64,
        -(2**70),
        *LONE_SURROGATES,
        {1: "x"},
        {b"k": 1},
        {None: 1},
        {"a\ud800": 1},
        {1, 2},
        b"bytes",
        uuid.UUID(int=7),
        decimal.Decimal("1.5"),
        datetime.date(2024, 5, 1),
        Colour.RED,
        orjson.Fragment(b"1"),
        object(),
    ]
)


@settings(max_examples=300, deadline=None)
@given(
    st.recursive(
        json_values | unencodable,
        lambda children: (
            st.lists(children, max_size=3) | st.dictionaries(keys, children, max_size=3)
        ),
        max_leaves=8,
    ),
    st.dictionaries(keys, json_values, max_size=3),
)
def test_encode_errors_match_rfc8785(value: Any, rest: dict[str, Any]) -> None:
    assert_same_as_reference({**rest, "value": value})


@pytest.mark.parametrize(
    "entry",
    [
        # Types `rfc8785` writes by their value, which the fast path leaves to it.
        {"level": Level.HIGH},
        {"name": Name.TIER, Name.TIER: 1},
        {"pair": Pair(1, 2.5)},
        {"ratio": Ratio(0.5)},
        {"ordered": collections.OrderedDict(b=1, a=2)},
        {"flag": True, "count": 0, "nested": {"flag": False}},
        # Types it refuses.
        {"colour": Colour.RED},
        {"id": uuid.UUID(int=1)},
        {"when": datetime.datetime(2024, 5, 1, 12, 0)},
        {"raw": orjson.Fragment(b"[1,2]")},
        {"amount": decimal.Decimal("0.1")},
        {"items": {1, 2}},
        {"deque": collections.deque([1])},
        {"bytes": b"x"},
        # Keys.
        {1: "x", "a": 1},
        {"\ud800": 1},
        {"\U0001f600": 1, "\ue000": 2, "z": {"\U0001f600": [1.5]}},
        # Integers and floats at the edges of their domains.
        {"n": 2**53 - 1, "m": -(2**53) + 1},
        {"n": [1, {"m": 2**53}]},
        {"n": float("nan")},
        {"n": [0.5, float("-inf")]},
        # Two errors: `rfc8785` reports the first in its (sorted) order.
        {"b": float("nan"), "a": 2**60},
        {"a": float("nan"), "b": 2**60},
        # Deeper than orjson's 255 levels, and deeper than the interpreter's limit.
        {"deep": functools.reduce(lambda inner, _: [inner], range(300), [])},
        {"deep": functools.reduce(lambda inner, _: {"k": inner}, range(5000), {})},
    ],
    # Ids without object addresses, which differ between pytest-xdist workers.
    ids=lambda entry: re.sub(
        r" at 0x[0-9a-f]+|x[0-9a-f]{6,}>", ">", reprlib.repr(entry)
    ),
)
def test_encode_unusual_entries_as_rfc8785(entry: dict[Any, Any]) -> None:
    assert_same_as_reference(entry)


def test_encode_accepts_mappings_as_before() -> None:
    entry = types.MappingProxyType({"b": 1.5, "a": [1e21]})

    assert canonical.encode(entry) == b'{"a":[1e+21],"b":1.5}'
    assert_same_as_reference(entry)


def test_encode_does_not_change_the_entry() -> None:
    entry = {"r": [{"x": 1.0, "y": (2.5, 1e-7)}], "s": "\u2028"}
    before = copy.deepcopy(entry)

    canonical.encode(entry)

    assert entry == before
    assert type(entry["r"][0]["y"]) is tuple


# RFC 8785 Appendix B: IEEE 754 doubles (as hex) and their serialisation.
RFC8785_APPENDIX_B = [
    ("0000000000000000", "0"),
    ("8000000000000000", "0"),
    ("0000000000000001", "5e-324"),
    ("8000000000000001", "-5e-324"),
    ("7fefffffffffffff", "1.7976931348623157e+308"),
    ("ffefffffffffffff", "-1.7976931348623157e+308"),
    ("4340000000000000", "9007199254740992"),
    ("c340000000000000", "-9007199254740992"),
    ("4430000000000000", "295147905179352830000"),
    ("44b52d02c7e14af5", "9.999999999999997e+22"),
    ("44b52d02c7e14af6", "1e+23"),
    ("44b52d02c7e14af7", "1.0000000000000001e+23"),
    ("444b1ae4d6e2ef4e", "999999999999999700000"),
    ("444b1ae4d6e2ef4f", "999999999999999900000"),
    ("444b1ae4d6e2ef50", "1e+21"),
    ("3eb0c6f7a0b5ed8c", "9.999999999999997e-7"),
    ("3eb0c6f7a0b5ed8d", "0.000001"),
    ("41b3de4355555553", "333333333.3333332"),
    ("41b3de4355555554", "333333333.33333325"),
    ("41b3de4355555555", "333333333.3333333"),
    ("41b3de4355555556", "333333333.3333334"),
    ("41b3de4355555557", "333333333.33333343"),
    ("becbf647612f3696", "-0.0000033333333333333333"),
    ("43143ff3c1cb0959", "1424953923781206.2"),
]


@pytest.mark.parametrize(("ieee", "expected"), RFC8785_APPENDIX_B)
def test_encode_rfc8785_appendix_b_numbers(ieee: str, expected: str) -> None:
    (number,) = struct.unpack(">d", bytes.fromhex(ieee))

    assert canonical.encode({"n": number}) == b'{"n":' + expected.encode() + b"}"
    assert canonical.encode({"n": [number]}) == b'{"n":[' + expected.encode() + b"]}"


@pytest.mark.parametrize("ieee", ["7fffffffffffffff", "7ff0000000000000"])
def test_encode_rfc8785_appendix_b_nan_and_infinity(ieee: str) -> None:
    (number,) = struct.unpack(">d", bytes.fromhex(ieee))

    with pytest.raises(EntryError, match="NaN and infinities have no JSON form"):
        canonical.encode({"n": number})


# RFC 8785 3.2.4: the UTF-8 bytes of the canonical form of the 3.2.2 sample.
RFC8785_SAMPLE_UTF8_HEX = """
7b 22 6c 69 74 65 72 61 6c 73 22 3a 5b 6e 75 6c 6c 2c 74 72
75 65 2c 66 61 6c 73 65 5d 2c 22 6e 75 6d 62 65 72 73 22 3a
5b 33 33 33 33 33 33 33 33 33 2e 33 33 33 33 33 33 33 2c 31
65 2b 33 30 2c 34 2e 35 2c 30 2e 30 30 32 2c 31 65 2d 32 37
5d 2c 22 73 74 72 69 6e 67 22 3a 22 e2 82 ac 24 5c 75 30 30
30 66 5c 6e 41 27 42 5c 22 5c 5c 5c 5c 5c 22 2f 22 7d
"""


def test_encode_rfc8785_sample_utf8_bytes() -> None:
    assert canonical.encode(RFC8785_SAMPLE_IN) == bytes.fromhex(RFC8785_SAMPLE_UTF8_HEX)


def test_encode_rfc8785_sorting_sample_exactly() -> None:
    # RFC 8785 3.2.3: U+1F600 (UTF-16 D83D DE00) sorts before U+FB33.
    assert (
        canonical.encode(RFC8785_SORTING_IN)
        == (
            '{"\\r":"Carriage Return","1":"One","\u0080":"Control",'
            '"\u00f6":"Latin Small Letter O With Diaeresis","\u20ac":"Euro Sign",'
            '"\U0001f600":"Emoji: Grinning Face",'
            '"\ufb33":"Hebrew Letter Dalet With Dagesh"}'
        ).encode()
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("\u2028\u2029\x7f\x80\ufeff", '"\u2028\u2029\x7f\x80\ufeff"'),
        ("\x00\x01\x1f", '"\\u0000\\u0001\\u001f"'),
        ("\b\t\n\x0b\f\r", '"\\b\\t\\n\\u000b\\f\\r"'),
        ('"\\/', '"\\"\\\\/"'),
        ("</script>\U0001f602", '"</script>\U0001f602"'),
    ],
)
def test_encode_string_escaping(text: str, expected: str) -> None:
    assert canonical.encode({"s": text}) == ('{"s":' + expected + "}").encode()


@pytest.mark.parametrize(
    ("number", "expected"),
    [
        (1e16, "10000000000000000"),
        (1.5e16, "15000000000000000"),
        (1e20, "100000000000000000000"),
        (-1.2345e20, "-123450000000000000000"),
        (1e21, "1e+21"),
        (1.5e-5, "0.000015"),
        (-1e-6, "-0.000001"),
        (1e-7, "1e-7"),
        (-2.5e-7, "-2.5e-7"),
        (1e-100, "1e-100"),
        (1e100, "1e+100"),
        (12.0, "12"),
        (-0.0, "0"),
        (0.5, "0.5"),
    ],
)
def test_encode_number_layout(number: float, expected: str) -> None:
    assert canonical.encode({"n": number}) == b'{"n":' + expected.encode() + b"}"


def decision_entry() -> dict[str, Any]:
    """A decision entry as the service records it: 7 reasons with floats."""
    reasons = [
        {
            "effect": ("deny", "review", "allow")[i % 3],
            "message": f"demographic parity gap {0.12 + i / 37} exceeds {0.1 * i}",
            "policy": "fairness",
            "file": "policies/fairness.gov",
            "line": 10 + 3 * i,
            "rule": f"fairness.rule_{i}",
            "observed": 0.12 + i / 37,
            "threshold": 0.1 * (i + 1),
            "missing_fact": None,
        }
        for i in range(7)
    ]
    return {
        "type": "decision",
        "id": "8d2c6a8e-1f0b-4a55-9a43-3b1f6c1f7e21",
        "model": {"name": "credit-scoring", "version": "1.4.2"},
        "verdict": "review",
        "bias_impact": 0.4375,
        "exposure": 1.0,
        "reasons": reasons,
    }


def test_encode_takes_the_fast_path_for_a_decision_entry(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    entry = decision_entry()
    expected = rfc8785.dumps(entry)
    # If the entry reached `rfc8785`, the speed-up would be gone without a trace.
    monkeypatch.setattr(canonical.rfc8785, "dumps", _must_not_be_called)

    assert canonical.encode(entry) == expected


def test_encode_astral_values_stay_on_the_fast_path(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    entry = {"\ue000": "\U0001f600", "b": ["\U0001f600"], "a": {"c": "\U00010000"}}
    expected = rfc8785.dumps(entry)
    monkeypatch.setattr(canonical.rfc8785, "dumps", _must_not_be_called)

    assert canonical.encode(entry) == expected


def _must_not_be_called(value: Any) -> bytes:
    raise AssertionError(f"rfc8785.dumps was called for {value!r}")


@pytest.mark.parametrize(
    "text",
    ["0.0", "-0.0", "12.0", "0.12", "1e-05", "1.5e-06", "1e-07", "-1.5e+16", "1e+21"],
)
def test_ecmascript_number_matches_rfc8785(text: str) -> None:
    assert canonical.ecmascript_number(text).encode() == rfc8785.dumps(float(text))


@settings(max_examples=5000, deadline=None)
@given(st.floats(allow_nan=False, allow_infinity=False))
def test_ecmascript_number_equals_rfc8785_for_any_float(number: float) -> None:
    assert canonical.ecmascript_number(repr(number)).encode() == rfc8785.dumps(number)
