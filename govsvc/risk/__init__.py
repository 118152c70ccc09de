"""Risk: the bias-impact score, the composite exposure, and risk tiers.

    from govsvc.risk import evaluate_risk, TierState
    result = evaluate_risk(facts, bundle.risk_model, previous=history.load(name))
    facts["risk"] = result.facts
    ... decide ...
    history.save(name, result.state.after_verdict(verdict))

Pure: no I/O. The definitions are in `score`, `exposure` and `tiers`, and in
docs/risk.md.
"""

from govsvc.risk.errors import RiskError
from govsvc.risk.evaluate import RiskResult, evaluate_risk
from govsvc.risk.history import MemoryHistory, TierHistory
from govsvc.risk.tiers import TierState

__all__ = [
    "MemoryHistory",
    "RiskError",
    "RiskResult",
    "TierHistory",
    "TierState",
    "evaluate_risk",
]
