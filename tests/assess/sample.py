"""A complete evaluation request, the issue's example, shared by the tests."""

from __future__ import annotations

import copy
from typing import Any

SAMPLE: dict[str, Any] = {
    "model": {
        "name": "credit-scorer",
        "version": "2.4.0",
        "artifact_digest": "sha256:ab",
        "domain": "credit",
        "intended_use": "consumer credit scoring",
    },
    "stage": "production",
    "dataset": {
        "snapshot_digest": "sha256:cd",
        "records": 120000,
        "records_without_consent": {"training": 0, "profiling": 12},
    },
    "metrics": {"auc": 0.91, "accuracy": 0.87},
    "groups": {
        "gender": {
            "female": {"tp": 410, "fp": 90, "tn": 1300, "fn": 200},
            "male": {"tp": 520, "fp": 110, "tn": 1210, "fn": 160},
        }
    },
    "drift": {
        "features": {
            "income": {"reference": [120, 340, 280], "current": [100, 300, 350]}
        },
        "alerts": [{"feature": "income", "severity": "critical"}],
    },
    "uncertainty": {"mean_std": 0.04, "share_above_threshold": 0.01, "threshold": 0.1},
    "baseline": {"metrics": {"auc": 0.92}},
}


def sample() -> dict[str, Any]:
    return copy.deepcopy(SAMPLE)
