"""Consent facts: coverage per purpose, and never "consented" by absence."""

from __future__ import annotations

from typing import Any

import pytest

from govsvc.assess.consent import dataset_facts
from govsvc.assess.request import Dataset


def _facts(**fields: Any) -> dict[str, Any]:
    return dataset_facts(Dataset.model_validate(fields))


def test_dataset_facts_full_consent_is_covered() -> None:
    facts = _facts(records=1000, records_without_consent={"training": 0, "ads": 5})

    assert facts["purposes"] == {
        "training": {"records_without_consent": 0, "coverage": 1.0},
        "ads": {"records_without_consent": 5, "coverage": 0.995},
    }
    assert facts["consent_covered"] is True
    assert facts["records_without_consent"] == 0
    assert facts["failing_purposes"] == ["ads"]


def test_dataset_facts_required_purpose_lacking_consent_fails() -> None:
    facts = _facts(
        records=1000,
        records_without_consent={"training": 3, "profiling": 40},
        required_purposes=["training", "profiling"],
    )

    assert facts["consent_covered"] is False
    assert facts["records_without_consent"] == 40
    assert facts["failing_purposes"] == ["training", "profiling"]


def test_dataset_facts_unreported_required_purpose_is_not_consent() -> None:
    facts = _facts(records=1000, records_without_consent={"profiling": 0})

    assert facts["consent_covered"] is False
    assert facts["failing_purposes"] == ["training"]
    assert "records_without_consent" not in facts


def test_dataset_facts_no_consent_counts_leaves_consent_absent() -> None:
    facts = _facts(snapshot_digest="sha256:00", records=10)

    assert facts == {
        "snapshot_digest": "sha256:00",
        "records": 10,
        "required_purposes": ["training"],
    }


@pytest.mark.parametrize("records", [None, 0])
def test_dataset_facts_unknown_records_leaves_coverage_absent(records: Any) -> None:
    facts = _facts(records=records, records_without_consent={"training": 0})

    assert facts["purposes"] == {"training": {"records_without_consent": 0}}
    assert facts["consent_covered"] is True
