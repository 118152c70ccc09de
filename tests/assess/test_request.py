"""Validation of the evaluation request: every problem, named by its field."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from govsvc.assess import (
    AssessError,
    EvaluationRequest,
    assess,
    parse_request,
    parse_request_json,
)

from .sample import sample


def _problems(data: Any) -> list[str]:
    with pytest.raises(AssessError) as info:
        parse_request(data)
    return info.value.problems


def test_parse_request_accepts_the_sample() -> None:
    request = parse_request(sample())

    assert isinstance(request, EvaluationRequest)
    assert request.groups is not None
    assert request.groups["gender"]["female"].tp == 410
    assert request.dataset is not None
    assert request.dataset.required_purposes == ["training"]


def test_parse_request_minimal_needs_only_model_and_stage() -> None:
    request = parse_request({"model": {"name": "m", "version": "1"}, "stage": "canary"})

    assert request.groups is None and request.drift is None


# Each row: a change to the sample, and the problem it must produce.
BAD: list[tuple[str, Any, str]] = [
    ("groups.gender.female.tp", -1, r"^groups\.gender\.female\.tp: .*greater than or"),
    ("groups.gender.female.fp", 1.5, r"^groups\.gender\.female\.fp: .*integer"),
    ("groups.gender.female.fp", True, r"^groups\.gender\.female\.fp: .*integer"),
    (
        "groups.gender.female",
        {"tp": 0, "fp": 0, "tn": 0, "fn": 0},
        r"^groups\.gender\.female: a group needs at least one record",
    ),
    (
        "groups.gender",
        {"female": {"tp": 1, "fp": 0, "tn": 0, "fn": 0}},
        r"^groups\.gender: an attribute needs at least two groups.*found 1 \(female\)",
    ),
    (
        "drift.features.income.current",
        [1, 2],
        r"^drift\.features\.income: reference and current must have the same bins; "
        r"found 3 and 2",
    ),
    (
        "drift.features.income.current",
        [1, float("nan"), 2],
        r"^drift\.features\.income\.current\.1: .*finite",
    ),
    ("groups.gender.female.tp", 10**16, r"^groups\.gender\.female\.tp: .*less than"),
    (
        "drift.features.income.current",
        [1, 1e308, 2],
        r"^drift\.features\.income\.current\.1: .*less than or equal to 1000000",
    ),
    ("metrics.auc", float("inf"), r"^metrics\.auc: .*finite"),
    ("metrics.auc", "0.9", r"^metrics\.auc: Input should be a valid number"),
    ("metrics.auc", True, r"^metrics\.auc: Input should be a valid number"),
    ("uncertainty.share_above_threshold", 1.5, r"^uncertainty\.share_above_threshold"),
    ("uncertainty.threshold", 0, r"^uncertainty\.threshold: .*greater than 0"),
    ("dataset.recrods", 5, r"^dataset\.recrods: unknown field"),
    (
        "dataset.records_without_consent",
        {"training": 200000},
        r"^dataset: records_without_consent cannot exceed records \(120000\)",
    ),
    ("dataset.required_purposes", [], r"^dataset\.required_purposes: "),
    ("stage", "prod", r"^stage: Input should be 'staging', 'canary' or 'production'"),
    ("drift.alerts", [{"feature": "x", "severity": "bad"}], r"^drift\.alerts\.0\.sev"),
    (
        "drift.features.income",
        {"reference": [0, 0], "current": [1, 1]},
        r"^drift\.features\.income: reference bins are all zero",
    ),
    (
        "drift.features.income",
        {"reference_values": [1.0], "current_values": [2.0], "edges": [0, 1, 1]},
        r"^drift\.features\.income: edges must be strictly increasing",
    ),
    (
        "drift.features.income",
        {"reference": [1, 2], "current": [1, 2], "edges": [0, 1, 2]},
        r"^drift\.features\.income: give either .* found both",
    ),
]


@pytest.mark.parametrize(("path", "value", "match"), BAD)
def test_parse_request_names_the_field(path: str, value: Any, match: str) -> None:
    data = sample()
    *parents, leaf = path.split(".")
    node = data
    for key in parents:
        node = node[key]
    node[leaf] = value

    problems = _problems(data)

    assert len(problems) == 1, problems
    assert re.search(match, problems[0]), problems[0]


def test_parse_request_lists_every_problem() -> None:
    data = sample()
    data["stage"] = "prod"
    data["groups"]["gender"]["male"]["tn"] = -3
    data["metrics"]["auc"] = "high"

    with pytest.raises(AssessError, match=r"has 3 problems") as info:
        parse_request(data)

    assert [p.split(":")[0] for p in info.value.problems] == [
        "stage",
        "metrics.auc",
        "groups.gender.male.tn",
    ]


def test_parse_request_not_an_object() -> None:
    with pytest.raises(AssessError, match=r"expected a JSON object, found list"):
        parse_request([1, 2])  # type: ignore[arg-type]


def test_parse_request_missing_model() -> None:
    problems = _problems({"stage": "staging"})

    assert problems == ["model: Field required"]


def test_parse_request_keeps_odd_keys_in_the_path() -> None:
    data = sample()
    data["groups"] = {"int": {"a[1]": {"tp": -1, "fp": 0, "tn": 1, "fn": 0}, "b": {}}}

    problems = _problems(data)

    assert problems[0].startswith("groups.int.a[1].tp: ")
    assert problems[1] == "groups.int.b.tp: Field required"


# The shape of a feature's bins: the fast path and the one that names the fault.
SHAPES: list[tuple[dict[str, Any], str]] = [
    ({"reference": [1], "current": [2]}, "expected at least 2 bins, found 1"),
    ({"reference": [], "current": []}, "expected at least 2 bins, found 0"),
    ({"reference": [1, 2]}, "expected reference and current bin counts"),
    ({"current": [1, 2]}, "expected reference and current bin counts"),
    ({}, "expected reference and current bin counts"),
    ({"reference": [0, 0], "current": [0, 0]}, "reference bins are all zero"),
    ({"reference": [1, 0], "current": [0, 0.0]}, "current bins are all zero"),
    ({"reference": [1, 2, 3], "current": [1, 2]}, "found 3 and 2 bins"),
    ({"reference": [1, 2], "current": [1]}, "found 2 and 1 bins"),
    (
        {"reference_values": [1.0], "current_values": [2.0], "edges": [0, 1]},
        "expected at least 3 edges (2 bins), found 2",
    ),
    (
        {"reference_values": [], "current_values": [2.0], "edges": [0, 1, 2]},
        "reference_values and current_values must not be empty",
    ),
    (
        {"current_values": [2.0], "edges": [0, 1, 2]},
        "expected reference_values, current_values and edges",
    ),
    (
        {"current": [1, 2], "reference_values": [2.0]},
        "give either reference and current bin counts",
    ),
]


@pytest.mark.parametrize(("feature", "message"), SHAPES)
def test_parse_request_names_the_feature_shape(
    feature: dict[str, Any], message: str
) -> None:
    data = sample()
    data["drift"]["features"]["income"] = feature

    problems = _problems(data)

    assert len(problems) == 1, problems
    assert problems[0].startswith("drift.features.income: ")
    assert message in problems[0]


def test_parse_request_lists_faults_of_several_features_in_order() -> None:
    data = sample()
    features = data["drift"]["features"]
    features["a"] = {"reference": [1, 2], "current": [0, 0]}
    features["b"] = {"reference": [1, -2], "current": [1, 2]}
    features["c"] = {"reference": [1, 2], "current": [1]}

    problems = _problems(data)

    assert problems == [
        "drift.features.a: current bins are all zero; expected some counts",
        "drift.features.b.reference.1: Input should be greater than or equal to 0",
        "drift.features.c: reference and current must have the same bins; "
        "found 2 and 1 bins",
    ]


# parse_request_json: the same request and the same errors as json.loads followed by
# model_validate, which is what the service did before it.


def _errors(exc: ValidationError) -> list[dict[str, Any]]:
    # Everything pydantic says, the ValueError in ctx by its text (it compares by
    # identity).
    return [
        {**e, "ctx": {k: str(v) for k, v in e.get("ctx", {}).items()}}
        for e in exc.errors(include_url=False)
    ]


def _reference(raw: bytes) -> Any:
    """What `json.loads` then `model_validate` make of raw: a request, or an error."""
    try:
        return EvaluationRequest.model_validate(json.loads(raw))
    except ValidationError as exc:
        return ("invalid", _errors(exc))
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError
        return (type(exc).__name__, str(exc))


def _from_bytes(raw: bytes) -> Any:
    try:
        return parse_request_json(raw)
    except ValidationError as exc:
        return ("invalid", _errors(exc))
    except ValueError as exc:
        return (type(exc).__name__, str(exc))


def _same(raw: bytes) -> Any:
    expected = _reference(raw)
    found = _from_bytes(raw)
    if isinstance(expected, EvaluationRequest):
        assert isinstance(found, EvaluationRequest)
        # Pydantic compares fields; the drift blocks are compared through the facts.
        assert found == expected
        assert assess(found, min_group_size=30) == assess(expected, min_group_size=30)
    else:
        assert found == expected, raw
    return found


def test_parse_request_json_accepts_the_sample() -> None:
    request = _same(json.dumps(sample()).encode())

    assert isinstance(request, EvaluationRequest)
    assert request == parse_request(sample())


@pytest.mark.parametrize(("path", "value", "match"), BAD)
def test_parse_request_json_same_errors(path: str, value: Any, match: str) -> None:
    data = sample()
    *parents, leaf = path.split(".")
    node = data
    for key in parents:
        node = node[key]
    node[leaf] = value

    # json.dumps writes NaN and Infinity as json.loads reads them.
    found = _same(json.dumps(data).encode())

    assert found[0] == "invalid"


@pytest.mark.parametrize(("feature", "message"), SHAPES)
def test_parse_request_json_same_shape_errors(
    feature: dict[str, Any], message: str
) -> None:
    data = sample()
    data["drift"]["features"]["income"] = feature

    found = _same(json.dumps(data).encode())

    assert message in found[1][0]["msg"]


MINIMAL = b'{"model": {"name": "m", "version": "1"}, "stage": "canary"'

# Bodies where pydantic-core's JSON parser and json.loads disagree, or might.
ODD_BODIES = [
    b"",
    b'{"model": ',
    b"[1, 2]",
    b'"text"',
    b"null",
    b"{}",
    MINIMAL + b"}",
    MINIMAL + b"} trailing",
    MINIMAL + b"}\n\t ",
    b"\xef\xbb\xbf" + MINIMAL + b"}",  # a UTF-8 byte order mark
    (MINIMAL + b"}").decode().encode("utf-16"),
    (MINIMAL + b"}").decode().encode("utf-32-le"),
    MINIMAL + b', "metrics": {"auc": NaN}}',
    MINIMAL + b', "metrics": {"auc": Infinity}}',
    MINIMAL + b', "metrics": {"auc": -Infinity}}',
    MINIMAL + b', "metrics": {"auc": 1e400}}',
    MINIMAL + b', "metrics": {"auc": ' + b"9" * 400 + b"}}",
    MINIMAL + b', "metrics": {"auc": 9007199254740993}}',
    MINIMAL + b', "metrics": {"auc": 2.4703282292062328e-324}}',
    MINIMAL + b', "metrics": {"auc": -0.0}}',
    MINIMAL + b', "metrics": {"auc": 01}}',
    MINIMAL + b', "metrics": {"auc": 1.}}',
    MINIMAL + b', "metrics": {"auc": .5}}',
    MINIMAL + b', "metrics": {"auc": +1}}',
    MINIMAL + b', "metrics": {"auc": 1,}}',
    MINIMAL + b', "metrics": {"auc": true}}',
    MINIMAL + b', "metrics": {"auc": "0.9"}}',
    MINIMAL + b', "metrics": {"a": 1, "b": 2, "a": 3}}',
    MINIMAL + b', "stage": "production"}',
    MINIMAL + b', "dataset": {"records": 1.0}}',
    MINIMAL + b', "dataset": {"records": 1e3}}',
    MINIMAL + b', "dataset": {"records": -0}}',
    MINIMAL + b', "dataset": {"records": 1000000000000001}}',
    MINIMAL + b', "metrics": {"\\ud800": 1}}',  # a lone surrogate
    MINIMAL + b', "metrics": {"\\ud83d\\ude00": 1}}',
    MINIMAL + b', "metrics": {"a\tb": 1}}',  # a raw control character
    MINIMAL + b', "metrics": {"a\\u0000": 1}}',
    MINIMAL + b', "metrics": {"\xff": 1}}',  # not UTF-8
    MINIMAL + b', "metrics": {"a":\xc2\xa01}}',  # a no-break space
    MINIMAL + b', "metrics": {"a": 1}\x0c}',
    MINIMAL
    + b', "drift": {"features": {"x": {"reference": [1, 2], "current": [0, 0]}}}}',
    MINIMAL + b', "groups": {"g": {"a": {"tp": 1, "fp": 0, "tn": 0, "fn": 0}, '
    b'"b": {"tp": 1, "fp": 0, "tn": 0, "fn": 0}, '
    b'"a": {"tp": 0, "fp": 0, "tn": 0, "fn": 0}}}}',  # a key given twice
    b"[" * 300 + b"]" * 300,
]


@pytest.mark.parametrize("raw", ODD_BODIES)
def test_parse_request_json_odd_bodies_as_json_loads(raw: bytes) -> None:
    _same(raw)


def test_parse_request_json_bad_json_raises_json_decode_error() -> None:
    with pytest.raises(json.JSONDecodeError) as info:
        parse_request_json(b'{"model": ')

    assert (info.value.pos, info.value.msg) == (10, "Expecting value")


def test_parse_request_json_not_an_object() -> None:
    with pytest.raises(ValidationError) as info:
        parse_request_json(b"[1, 2]")

    assert [(e["type"], e["loc"]) for e in info.value.errors()] == [("model_type", ())]


json_numbers = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.integers(-(10**20), 10**20).map(str),
    st.from_regex(r"\A-?(0|[1-9][0-9]{0,25})(\.[0-9]{1,25})?([eE][-+]?[0-9]{1,3})?\Z"),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(json_numbers, min_size=1, max_size=12))
def test_parse_request_json_numbers_as_json_loads(numbers: list[str]) -> None:
    # Every number as a metric, as bins and as a count: the same value, or the same
    # refusal, as json.loads reads it.
    listed = ", ".join(numbers)
    metrics = ", ".join(f'"m{i}": {n}' for i, n in enumerate(numbers))
    body = (
        MINIMAL.decode()
        + f', "metrics": {{{metrics}}}'
        + f', "drift": {{"features": {{"x": {{"reference": [{listed}, 1],'
        + f' "current": [1, {listed}]}}}}}}'
        + f', "dataset": {{"records": {numbers[0]}}}}}'
    )

    _same(body.encode())
