"""Uncertainty facts."""

from __future__ import annotations

import pytest

from govsvc.assess.request import Uncertainty
from govsvc.assess.uncertainty import uncertainty_facts


@pytest.mark.parametrize(
    ("fields", "exceeded"),
    [
        ({"mean_std": 0.04, "threshold": 0.1}, False),
        ({"mean_std": 0.1, "threshold": 0.1}, False),  # at the threshold is not above
        ({"mean_std": 0.11, "threshold": 0.1}, True),
        ({"variance": 0.0121, "threshold": 0.1}, True),  # sqrt(variance) = 0.11
        ({"mean_std": 0.05, "variance": 0.0121, "threshold": 0.1}, False),
    ],
)
def test_uncertainty_facts_exceeded(fields: dict[str, float], exceeded: bool) -> None:
    facts = uncertainty_facts(Uncertainty.model_validate(fields))

    assert facts["exceeded"] is exceeded


def test_uncertainty_facts_without_threshold_has_no_verdict() -> None:
    facts = uncertainty_facts(Uncertainty(mean_std=0.3, ece=0.02))

    assert facts == {"mean_std": 0.3, "ece": 0.02}
