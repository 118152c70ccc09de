"""One decision: an evaluation request and a compiled bundle in, a verdict out.

The plan, each step a pure call into its package:

1. `govsvc.assess` turns the request into facts (every root but `risk`);
2. `govsvc.risk` computes the bias-impact score, the exposure and the tier from those
   facts, the bundle's risk model and the model's stored `TierState`;
3. the bundle evaluates the facts, `risk` included: deny over review over warn over
   allow, a reason for every firing rule and every missing fact;
4. the verdict is folded into the tier state (failures in a row, clean evaluations),
   which the caller stores with the decision.

Nothing here touches a database or HTTP: the API records the outcome in one
transaction with its ledger entry (`govsvc.api.service`).
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from typing import Any

from govsvc.assess import EvaluationRequest, assess
from govsvc.policy import Bundle
from govsvc.risk import TierState, evaluate_risk

log = logging.getLogger(__name__)

VERDICTS = ("allow", "warn", "review", "deny")


@dataclass(frozen=True)
class Outcome:
    """What a decision concluded, before it is recorded."""

    verdict: str
    tier: str
    previous_tier: str | None
    risk: dict[str, Any]  # facts["risk"]: tier, score, exposure, components
    reasons: list[dict[str, Any]]
    facts: dict[str, Any]
    state: TierState  # the model's tier state after this decision
    explanation: Any

    @property
    def tier_changed(self) -> bool:
        return self.previous_tier != self.tier


def request_digest(body: bytes) -> str:
    """SHA-256 of the request body as sent.

    Byte for byte, so that an auditor holding the pipeline's request file checks it
    against the ledger with `sha256sum`, and so that it costs microseconds (a
    canonical re-encoding of a request with many drift bins costs milliseconds).
    `govsvc gate` sends the file unchanged; a retry sends the same bytes.
    """
    return "sha256:" + hashlib.sha256(body).hexdigest()


def assess_request(request: EvaluationRequest, bundle: Bundle) -> dict[str, Any]:
    """Step 1: the facts of a request, under the bundle's minimum group size."""
    return dict(assess(request, min_group_size=bundle.risk_model.min_group_size))


def conclude(
    facts: dict[str, Any], bundle: Bundle, previous: TierState | None
) -> Outcome:
    """Steps 2 to 4, from facts the request's assessment produced."""
    risk = evaluate_risk(facts, bundle.risk_model, previous)
    facts = {**facts, "risk": risk.facts}

    verdict, reasons = bundle.evaluate_records(facts)

    state = risk.state.after_verdict(verdict)
    previous_tier = previous.tier if previous is not None else None
    return Outcome(
        verdict=verdict,
        tier=state.tier,
        previous_tier=previous_tier,
        risk=dict(risk.facts),
        reasons=reasons,
        facts=facts,
        state=state,
        explanation=risk.explanation,
    )


def decide(
    request: EvaluationRequest, bundle: Bundle, previous: TierState | None = None
) -> Outcome:
    """The whole decision for one request."""
    return conclude(assess_request(request, bundle), bundle, previous)
