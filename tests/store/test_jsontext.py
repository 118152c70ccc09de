"""govsvc.store.jsontext: orjson's text, the standard library's where orjson refuses."""

from __future__ import annotations

import json

import pytest

from govsvc.store.jsontext import dumps, dumps_utf8, with_member


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ({"a": 1, "b": [True, None]}, '{"a":1,"b":[true,null]}'),
        ({"p": 0.1, "small": 1e-05}, '{"p":0.1,"small":0.00001}'),
        ({"c": 1.5e-07, "big": 1e22}, '{"c":1.5e-7,"big":1e+22}'),
        ({"name": "grüße"}, '{"name":"grüße"}'),
        ({}, "{}"),
    ],
)
def test_dumps_known_answers(value: object, text: str) -> None:
    assert dumps(value) == text


def test_dumps_integer_beyond_64_bits_falls_back() -> None:
    value = {"records": 10**30}

    assert json.loads(dumps(value)) == value


def test_dumps_reads_back_floats_exactly() -> None:
    values = [0.1 + 0.2, 1 / 3, 2.5e-300, 123456789.123456789]

    assert json.loads(dumps(values)) == values


@pytest.mark.parametrize(
    ("object_json", "name", "value_json", "text"),
    [
        ('{"a":1}', "b", "[2]", '{"a":1, "b": [2]}'),
        ("{}", "risk", '{"tier":"high"}', '{"risk": {"tier":"high"}}'),
        ('{"a":{"b":{}}}', 'say "hi"', "null", '{"a":{"b":{}}, "say \\"hi\\"": null}'),
    ],
)
def test_with_member_known_answers(
    object_json: str, name: str, value_json: str, text: str
) -> None:
    assert with_member(object_json, name, value_json) == text
    assert json.loads(text) == {**json.loads(object_json), name: json.loads(value_json)}


def test_dumps_utf8_is_dumps_encoded() -> None:
    value = {"note": "origin\n\u2014 origin AbC=\n", "records": 10**30}

    assert dumps_utf8(value) == dumps(value).encode()
    assert json.loads(dumps_utf8(value)) == value
