"""The root of govsvc's exceptions.

Every failure area has its own tree below `GovsvcError`:

- `govsvc.policy.errors`: policy syntax, checking and evaluation;
- `govsvc.assess.errors`: evaluation requests that cannot be assessed;
- `govsvc.ledger.errors`: storage, proofs, checkpoints and receipt verification.

The `govsvc` command prints a `GovsvcError` as one message and exits 1; anything else
escaping is a bug.
"""


class GovsvcError(Exception):
    """A failure the user can act on; its message says what was wrong and what to do."""
