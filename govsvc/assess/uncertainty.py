"""Uncertainty facts: the predictive spread the pipeline measured, and its threshold.

The spread is the mean predictive standard deviation across an ensemble or
MC-dropout passes. When only the mean variance is given, its square root stands in;
by Jensen's inequality sqrt(mean variance) >= mean standard deviation, so the
stand-in never understates the spread. `exceeded` is present only when both a spread
and a threshold are known.
"""

from __future__ import annotations

import math
from typing import Any

from govsvc.assess.request import Uncertainty


def spread(u: Uncertainty) -> float | None:
    if u.mean_std is not None:
        return u.mean_std
    if u.variance is not None:
        return math.sqrt(u.variance)
    return None


def uncertainty_facts(u: Uncertainty) -> dict[str, Any]:
    """SCHEMA uncertainty."""
    facts: dict[str, Any] = {
        name: value
        for name in (
            "mean_std",
            "variance",
            "share_above_threshold",
            "threshold",
            "ece",
        )
        if (value := getattr(u, name)) is not None
    }
    s = spread(u)
    if s is not None and u.threshold is not None:
        facts["exceeded"] = s > u.threshold
    return facts
