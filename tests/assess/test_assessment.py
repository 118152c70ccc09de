"""`assess`: the whole fact tree, checked against the SCHEMA."""

from __future__ import annotations

import json
from typing import Any

from govsvc.assess import assess, parse_request
from govsvc.facts import SCHEMA, FactType, ListOf, MapOf, Record, Scalar

from .sample import sample


def _check(value: Any, t: FactType, path: str) -> None:
    """Every value has the SCHEMA's type; every record key is declared."""
    assert value is not None, path
    if isinstance(t, Scalar):
        expected = {"number": (int, float), "string": str, "bool": bool}[t.kind]
        assert isinstance(value, expected), path
        if t.kind == "number":
            assert not isinstance(value, bool), path
    elif isinstance(t, ListOf):
        assert isinstance(value, list), path
        for i, item in enumerate(value):
            _check(item, t.item, f"{path}[{i}]")
    elif isinstance(t, MapOf):
        assert isinstance(value, dict), path
        for key, item in value.items():
            _check(item, t.value, f"{path}.{key}")
    elif isinstance(t, Record):
        assert isinstance(value, dict), path
        for key, item in value.items():
            assert key in t.fields, f"{path}.{key} is not in the SCHEMA"
            _check(item, t.fields[key].type, f"{path}.{key}")


def test_assess_sample_fits_schema() -> None:
    facts = assess(parse_request(sample()), min_group_size=30)

    _check(facts, SCHEMA, "facts")
    assert set(facts) == set(SCHEMA.fields) - {"risk"}
    json.dumps(facts, allow_nan=False)  # plain JSON, no NaN or infinity


def test_assess_sample_known_values() -> None:
    facts = assess(parse_request(sample()), min_group_size=30)

    gender = facts["fairness"]["gender"]
    assert gender["demographic_parity_difference"] == 0.315 - 0.25
    assert gender["min_impact_ratio"] == 0.25 / 0.315
    assert gender["four_fifths_failing"] == ["female"]  # 0.794 < 0.8
    assert facts["protected_attributes"] == ["gender"]
    assert facts["drift"]["worst_feature"] == "income"
    assert facts["drift"]["critical_alerts"] == 1
    assert facts["uncertainty"]["exceeded"] is False
    assert facts["dataset"]["consent_covered"] is True
    assert facts["baseline"] == {"metrics": {"auc": 0.92}}


def test_assess_minimal_request_carries_no_absent_section() -> None:
    request = parse_request(
        {"model": {"name": "m", "version": "1"}, "stage": "staging"}
    )

    facts = assess(request, min_group_size=30)

    assert facts == {"model": {"name": "m", "version": "1"}, "stage": "staging"}


def test_assess_is_deterministic() -> None:
    request = parse_request(sample())

    first = json.dumps(assess(request, min_group_size=30))
    second = json.dumps(assess(request, min_group_size=30))

    assert first == second
