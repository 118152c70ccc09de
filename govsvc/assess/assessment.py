"""`assess`: an evaluation request in, every fact root of the SCHEMA but `risk` out."""

from __future__ import annotations

from typing import Any

from govsvc.assess.consent import dataset_facts
from govsvc.assess.drift import drift_facts
from govsvc.assess.fairness import fairness_facts
from govsvc.assess.request import EvaluationRequest
from govsvc.assess.uncertainty import uncertainty_facts


def assess(request: EvaluationRequest, *, min_group_size: int) -> dict[str, Any]:
    """The facts a request carries, as plain JSON values.

    A section the request leaves out yields no root at all: policies that need it get
    a missing fact. `min_group_size` comes from the policy bundle
    (`RiskModel.min_group_size`); smaller groups are flagged low-support.
    """
    m = request.model
    model: dict[str, Any] = {"name": m.name, "version": m.version}
    for name in ("artifact_digest", "domain", "intended_use"):
        if (value := getattr(m, name)) is not None:
            model[name] = value
    facts: dict[str, Any] = {"model": model, "stage": request.stage}

    if request.dataset is not None:
        facts["dataset"] = dataset_facts(request.dataset)
    if request.metrics is not None:
        facts["metrics"] = dict(request.metrics)
    if request.baseline is not None:
        facts["baseline"] = {"metrics": dict(request.baseline.metrics)}
    if request.groups is not None:
        facts["protected_attributes"] = list(request.groups)
        facts["fairness"] = fairness_facts(request.groups, min_group_size)
    if request.drift is not None:
        facts["drift"] = drift_facts(request.drift)
    if request.uncertainty is not None:
        facts["uncertainty"] = uncertainty_facts(request.uncertainty)
    return facts
