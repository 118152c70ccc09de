"""The fact namespace that policies read.

A request is turned into facts by `govsvc.assess` and `govsvc.risk`; policies read
them as dotted paths (`fairness.gender.demographic_parity_difference`). This module is
the one description of that namespace: the policy checker type-checks paths against
`SCHEMA`, the evaluator reports a path that a request does not carry as a missing
fact, and the documentation is generated from the `doc` strings.

At run time facts are plain JSON-like values: dicts with string keys, lists, str,
float and bool. A fact the request did not carry is absent from its dict, never
`None`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from govsvc.errors import GovsvcError

Facts = Mapping[str, Any]


@dataclass(frozen=True)
class Scalar:
    """A number, a string or a boolean."""

    kind: str  # "number", "string" or "bool"

    def __str__(self) -> str:
        return self.kind


@dataclass(frozen=True)
class ListOf:
    item: FactType

    def __str__(self) -> str:
        return f"list of {self.item}"


@dataclass(frozen=True)
class MapOf:
    """A map whose keys the request chooses: attributes, groups, features, purposes."""

    value: FactType
    key: str = "key"  # what a key names, for messages: "attribute", "group", ...

    def __str__(self) -> str:
        return f"map of {self.key} to {self.value}"


@dataclass(frozen=True)
class Field:
    type: FactType
    doc: str


@dataclass(frozen=True)
class Record:
    fields: Mapping[str, Field] = field(default_factory=dict)

    def __str__(self) -> str:
        return "record"


FactType = Scalar | ListOf | MapOf | Record

NUMBER = Scalar("number")
STRING = Scalar("string")
BOOL = Scalar("bool")

TIERS = ("minimal", "limited", "high", "unacceptable")
"""The EU AI Act's ladder of risk, lowest first."""

STAGES = ("staging", "canary", "production")

GROUP_RATES = (
    "count",
    "base_rate",
    "selection_rate",
    "tpr",
    "fpr",
    "fnr",
    "tnr",
    "ppv",
    "npv",
    "fdr",
    "for",
    "accuracy",
)

ATTRIBUTE_METRICS = (
    "demographic_parity_difference",
    "demographic_parity_ratio",
    "equalized_odds_difference",
    "equalized_odds_ratio",
    "equal_opportunity_difference",
    "equal_opportunity_ratio",
    "false_positive_rate_difference",
    "false_negative_rate_difference",
    "predictive_parity_difference",
)

DRIFT_STATISTICS = ("psi", "kl", "js", "ks")

RISK_COMPONENTS = ("bias_impact", "drift", "uncertainty", "performance_loss")
"""The components of the composite exposure, each scaled to [0, 1]."""


def _record(**fields: tuple[FactType, str]) -> Record:
    return Record({name: Field(t, doc) for name, (t, doc) in fields.items()})


_GROUP = _record(
    **{name: (NUMBER, f"the group's {name.replace('_', ' ')}") for name in GROUP_RATES},
    low_support=(BOOL, "true when the group is smaller than the minimum group size"),
)

_ATTRIBUTE = _record(
    groups=(MapOf(_GROUP, "group"), "per-group counts and rates"),
    **{
        name: (NUMBER, f"{name.replace('_', ' ')} between groups (fairlearn)")
        for name in ATTRIBUTE_METRICS
    },
    impact_ratios=(
        MapOf(NUMBER, "group"),
        "each group's selection rate over the highest group's (four-fifths rule)",
    ),
    min_impact_ratio=(NUMBER, "the lowest impact ratio"),
    four_fifths_failing=(ListOf(STRING), "groups whose impact ratio is under 0.8"),
    low_support_groups=(ListOf(STRING), "groups under the minimum group size"),
)

_FEATURE = _record(
    psi=(NUMBER, "population stability index, natural log"),
    kl=(NUMBER, "Kullback-Leibler divergence of current from reference"),
    js=(NUMBER, "Jensen-Shannon distance (square root of the divergence)"),
    ks=(NUMBER, "Kolmogorov-Smirnov statistic"),
    band=(STRING, "stable (psi < 0.1), moderate (< 0.25) or major"),
)

_ALERT = _record(
    feature=(STRING, "the feature the pipeline raised the alert on"),
    severity=(STRING, "info, warning or critical"),
)

_PURPOSE = _record(
    records_without_consent=(NUMBER, "records that lack consent for this purpose"),
    coverage=(NUMBER, "share of records with consent for this purpose, 0 to 1"),
)

_COMPONENT = _record(
    attribute=(STRING, "protected attribute"),
    metric=(STRING, "fairness metric"),
    gap=(NUMBER, "observed gap (absent when missing)"),
    missing=(BOOL, "true when the gap could not be computed; it counts as saturated"),
    tolerance=(NUMBER, "the gap the policy tolerates"),
    weight=(NUMBER, "the component's weight"),
    contribution=(NUMBER, "points this component adds to the score"),
)

SCHEMA = _record(
    model=(
        _record(
            name=(STRING, "model name"),
            version=(STRING, "model version"),
            artifact_digest=(STRING, "digest of the model artifact"),
            domain=(STRING, "application domain, such as credit or hiring"),
            intended_use=(STRING, "what the model is for, in the pipeline's words"),
        ),
        "the model asking for promotion",
    ),
    stage=(STRING, "the stage asked for: staging, canary or production"),
    dataset=(
        _record(
            snapshot_digest=(STRING, "digest of the training snapshot"),
            records=(NUMBER, "records in the training snapshot"),
            purposes=(
                MapOf(_PURPOSE, "purpose"),
                "consent per purpose (training, profiling, ...)",
            ),
            required_purposes=(
                ListOf(STRING),
                "purposes the intended use needs consent for",
            ),
            records_without_consent=(
                NUMBER,
                "records lacking consent for any required purpose (the largest count)",
            ),
            consent_covered=(
                BOOL,
                "true only when every required purpose has full consent",
            ),
            failing_purposes=(ListOf(STRING), "purposes with records lacking consent"),
        ),
        "the training data and its consent",
    ),
    metrics=(MapOf(NUMBER, "metric"), "performance metrics, such as auc"),
    baseline=(
        _record(metrics=(MapOf(NUMBER, "metric"), "the previous evaluation's metrics")),
        "the model's previous evaluation",
    ),
    protected_attributes=(
        ListOf(STRING),
        "the protected attributes the request carries counts for",
    ),
    fairness=(MapOf(_ATTRIBUTE, "attribute"), "fairness facts per attribute"),
    drift=(
        _record(
            features=(MapOf(_FEATURE, "feature"), "drift statistics per feature"),
            max_psi=(NUMBER, "the largest PSI over features"),
            worst_feature=(STRING, "the feature with the largest PSI"),
            alerts=(ListOf(_ALERT), "alerts the pipeline raised"),
            critical_alerts=(NUMBER, "number of alerts of severity critical"),
        ),
        "distribution drift between reference and current data",
    ),
    uncertainty=(
        _record(
            mean_std=(NUMBER, "mean predictive standard deviation"),
            variance=(NUMBER, "mean predictive variance"),
            share_above_threshold=(
                NUMBER,
                "share of predictions whose spread is above the threshold",
            ),
            threshold=(NUMBER, "the calibrated spread threshold"),
            ece=(NUMBER, "expected calibration error"),
            exceeded=(BOOL, "true when the mean spread is above the threshold"),
        ),
        "predictive uncertainty",
    ),
    risk=(
        _record(
            tier=(STRING, "the tier in force: minimal, limited, high, unacceptable"),
            base_tier=(STRING, "the tier the placement rules gave, before escalation"),
            previous_tier=(STRING, "the model's tier after its previous evaluation"),
            bias_impact=(NUMBER, "bias-impact score, 0 to 100"),
            exposure=(NUMBER, "composite exposure, 0 to 1"),
            performance_loss=(
                NUMBER,
                "largest relative drop of a metric against the baseline, 0 to 1",
            ),
            components=(ListOf(_COMPONENT), "the bias-impact score's components"),
            consecutive_failures=(
                NUMBER,
                "the model's denied evaluations in a row before this one",
            ),
        ),
        "risk: score, exposure and tier",
    ),
)
"""The whole namespace. Top-level names are the roots a policy may use."""


class MissingFact(GovsvcError):
    """A policy needed a fact that the request did not carry."""

    def __init__(self, path: str) -> None:
        super().__init__(f"missing fact {path}")
        self.path = path
