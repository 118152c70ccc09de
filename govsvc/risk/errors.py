"""Why a risk computation cannot proceed.

    GovsvcError
     └── RiskError            a risk model or a stored tier state govsvc cannot use:
                              an unknown tier, a negative weight, a bad verdict

A missing fact is not a `RiskError`: placement and escalation treat it fail-closed
(see `govsvc.risk.tiers`).
"""

from __future__ import annotations

from govsvc.errors import GovsvcError


class RiskError(GovsvcError):
    """A risk model or tier state that cannot be used; the message says which part."""
