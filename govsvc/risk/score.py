"""The bias-impact score: how far a model is from the fairness the policies demand.

No standard defines such a score, so this one is ours; docs/risk.md has the
definition and a worked example. For every protected attribute a and every metric m
the bundle weighs (`ScoreSpec.metrics`):

    gap       g = the metric's value for a difference, 1 - value for a ratio
    severity  s = min(g / (4 t), 1)        t: the metric's tolerance
    weight    w = w_a * w_m                w_a: the attribute's weight
    score       = 100 * sum(w * s) / sum(w)

so the score is 0 when every gap is 0, 100 when every gap is at least four times its
tolerance, and never decreases when a gap grows. Each (attribute, metric) pair is a
component whose contribution, 100 * w * s / sum(w), is what it adds to the score.

A metric the facts lack for an attribute (a rate undefined in some group) counts at
full severity: what cannot be measured is not assumed fair. The sums use
`math.fsum`, which is correctly rounded, so the score is the same to the bit whatever
the order of attributes.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from govsvc.facts import ATTRIBUTE_METRICS
from govsvc.risk.errors import RiskError
from govsvc.risk.model import ScoreSpec

SATURATION = 4.0
"""A gap at this many tolerances gives the component its whole weight."""


def check_score_spec(spec: ScoreSpec) -> None:
    """Refuse a spec the score cannot honour, naming the faulty entry."""
    for mw in spec.metrics:
        if mw.metric not in ATTRIBUTE_METRICS:
            raise RiskError(
                f"score metric {mw.metric!r} is not a fairness metric; expected one of "
                f"{', '.join(ATTRIBUTE_METRICS)}"
            )
        if not (mw.tolerance > 0 and math.isfinite(mw.tolerance)):
            raise RiskError(
                f"score metric {mw.metric}: tolerance must be a positive number, "
                f"found {mw.tolerance}"
            )
        if not (mw.weight >= 0 and math.isfinite(mw.weight)):
            raise RiskError(
                f"score metric {mw.metric}: weight must be zero or more, "
                f"found {mw.weight}"
            )
    weights = [*spec.attribute_weights.values(), spec.default_attribute_weight]
    if not all(w >= 0 and math.isfinite(w) for w in weights):
        raise RiskError(
            f"score attribute weights must be zero or more, found {sorted(weights)}"
        )


def gap(metric: str, value: float) -> float:
    """How far a metric is from parity: 0 is parity, larger is worse."""
    return 1.0 - value if metric.endswith("_ratio") else value


# One (attribute, metric) component as the score reads it: (metric, the gap at
# which its severity reaches 1, whether the metric is a ratio (whose gap is
# 1 - value), 100 * its weight w = w_a * w_m, and its record when measured and
# when missing, every field but the attribute, gap and contribution filled in).
# A copy of a record with three fields set costs half of a dict built whole.
Term = tuple[str, float, bool, float, dict[str, Any], dict[str, Any]]

# The terms of an attribute, and their weights in the same order.
Row = tuple[tuple[Term, ...], tuple[float, ...]]


def _row(spec: ScoreSpec, w_a: float) -> Row:
    terms = []
    weights = []
    for mw in spec.metrics:
        w = w_a * mw.weight
        measured = {
            "attribute": "",
            "metric": mw.metric,
            "gap": 0.0,
            "missing": False,
            "tolerance": mw.tolerance,
            "weight": w,
            "contribution": 0.0,
        }
        missing = {
            "attribute": "",
            "metric": mw.metric,
            "missing": True,
            "tolerance": mw.tolerance,
            "weight": w,
            "contribution": 0.0,
        }
        ratio = mw.metric.endswith("_ratio")
        scale = SATURATION * mw.tolerance
        terms.append((mw.metric, scale, ratio, 100.0 * w, measured, missing))
        weights.append(w)
    return tuple(terms), tuple(weights)


@dataclass(frozen=True)
class ScorePlan:
    """A `ScoreSpec` with what every evaluation would otherwise derive again: the
    terms of each attribute the spec names and of every other attribute.

    Built once per risk model (`govsvc.risk.evaluate`); `bias_impact` builds one per
    call. It does not check the spec: `check_score_spec` does.
    """

    rows: Mapping[str, Row]
    other: Row

    @classmethod
    def of(cls, spec: ScoreSpec) -> ScorePlan:
        rows = {a: _row(spec, w_a) for a, w_a in spec.attribute_weights.items()}
        return cls(rows, _row(spec, spec.default_attribute_weight))

    def score(
        self, fairness: Mapping[str, Mapping[str, Any]]
    ) -> tuple[float | None, list[dict[str, Any]]]:
        """(score, components), as `bias_impact` defines them.

        The weights are summed first, so that each component is built whole, with
        its contribution, in one pass. The arithmetic is the definition's, operation
        for operation (max(g, 0) and min(s, 1) written out as comparisons, which
        cost a fraction of the builtin calls), so the figures are the same to the
        bit: tests/risk/test_reference.py compares them with the definition written
        plainly (tests/risk/reference.py).
        """
        row_of = self.rows.get
        other = self.other
        picked = []
        weights: list[float] = []
        for attribute, facts in fairness.items():
            terms, row_weights = row_of(attribute, other)
            picked.append((attribute, facts, terms))
            weights += row_weights

        total = math.fsum(weights)
        positive = total > 0
        components: list[dict[str, Any]] = []
        contributions: list[float] = []
        for attribute, facts, terms in picked:
            if not terms:
                continue  # a spec without metrics reads nothing of the attribute
            value_of = facts.get
            for metric, scale, ratio, hundred_w, measured, missing in terms:
                value = value_of(metric)
                if value is None:
                    # Fail closed: an unmeasurable gap is not a fair one.
                    contribution = hundred_w * 1.0 / total if positive else 0.0
                    component = missing.copy()
                else:
                    g = 1.0 - value if ratio else value
                    severity = (0.0 if g < 0.0 else g) / scale
                    if severity > 1.0:
                        severity = 1.0
                    contribution = hundred_w * severity / total if positive else 0.0
                    component = measured.copy()
                    component["gap"] = g
                component["attribute"] = attribute
                component["contribution"] = contribution
                components.append(component)
                contributions.append(contribution)

        if not components:
            return None, components
        score = math.fsum(contributions)
        return (100.0 if score > 100.0 else score), components


def bias_impact(
    fairness: Mapping[str, Mapping[str, Any]], spec: ScoreSpec
) -> tuple[float | None, list[dict[str, Any]]]:
    """(score, components); the score is None when there is nothing to score."""
    return ScorePlan.of(spec).score(fairness)
