"""Validation of the evaluation request: every problem, named by its field."""

from __future__ import annotations

import re
from typing import Any

import pytest

from govsvc.assess import AssessError, EvaluationRequest, parse_request

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
