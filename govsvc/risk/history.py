"""Where a model's tier state lives between evaluations: an interface the service
fills in (with a table), so that `govsvc.risk` stays pure."""

from __future__ import annotations

from typing import Protocol

from govsvc.risk.tiers import TierState


class TierHistory(Protocol):
    def load(self, model_name: str) -> TierState | None:
        """The state after the model's last evaluation, or None for a new model."""
        ...

    def save(self, model_name: str, state: TierState) -> None:
        """Store the state after an evaluation (and its verdict) or an approval.

        An implementation records every change of tier (the service writes one as a
        ledger entry) in the same transaction as the decision.
        """
        ...


class MemoryHistory:
    """A `TierHistory` in a dict, for tests and `govsvc assess`."""

    def __init__(self) -> None:
        self._states: dict[str, TierState] = {}

    def load(self, model_name: str) -> TierState | None:
        return self._states.get(model_name)

    def save(self, model_name: str, state: TierState) -> None:
        self._states[model_name] = state
