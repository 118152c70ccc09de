"""What a policy bundle tells the risk computation.

The policy compiler fills a `RiskModel` from the `tiers`, `tier`, `escalate`,
`score` and `exposure` declarations of the bundle's files; `govsvc.risk` computes
the bias-impact score, the exposure and the tier from it. Conditions are compiled
policy expressions: they take the facts and return a bool, and raise
`govsvc.facts.MissingFact` when a fact they need is absent.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from govsvc.facts import TIERS, Facts

Condition = Callable[[Facts], bool]


@dataclass(frozen=True)
class SourceRef:
    """Where a declaration stands, for reasons and explanations."""

    file: str
    line: int
    policy: str = ""


@dataclass(frozen=True)
class MetricWeight:
    """One fairness metric's part in the bias-impact score."""

    metric: str  # a name from govsvc.facts.ATTRIBUTE_METRICS
    weight: float
    tolerance: float  # the gap the policies accept; a gap at 4x tolerance saturates


@dataclass(frozen=True)
class ScoreSpec:
    metrics: tuple[MetricWeight, ...]
    attribute_weights: Mapping[str, float] = field(default_factory=dict)
    default_attribute_weight: float = 1.0


@dataclass(frozen=True)
class ExposureSpec:
    # keys from govsvc.facts.RISK_COMPONENTS; weights need not sum to one
    weights: Mapping[str, float]


@dataclass(frozen=True)
class TierRule:
    """`tier high when ...`: the model is at least in `tier` when `condition` holds."""

    tier: str
    condition: Condition
    source: SourceRef
    text: str  # the condition as written, for explanations


@dataclass(frozen=True)
class EscalationRule:
    """`escalate by N when ...`: raise the tier by `steps` when `condition` holds."""

    steps: int
    condition: Condition
    source: SourceRef
    text: str


DEFAULT_SCORE = ScoreSpec(
    metrics=(
        MetricWeight("demographic_parity_difference", 1.0, 0.05),
        MetricWeight("equalized_odds_difference", 1.0, 0.05),
        MetricWeight("predictive_parity_difference", 0.5, 0.05),
    )
)

DEFAULT_EXPOSURE = ExposureSpec(
    weights={
        "bias_impact": 0.4,
        "drift": 0.3,
        "uncertainty": 0.15,
        "performance_loss": 0.15,
    }
)


@dataclass(frozen=True)
class RiskModel:
    """Everything the bundle declares about risk; the defaults are used when silent."""

    tiers: tuple[str, ...] = TIERS
    placement: tuple[TierRule, ...] = ()
    escalation: tuple[EscalationRule, ...] = ()
    clean_evaluations_to_lower: int = 3  # a raised tier comes down after this many
    min_group_size: int = 30  # smaller groups are flagged low-support
    score: ScoreSpec = DEFAULT_SCORE
    exposure: ExposureSpec = DEFAULT_EXPOSURE
