"""The audit ledger: an RFC 9162 Merkle tree of RFC 8785 entries, signed checkpoints
(C2SP tlog-checkpoint and signed-note), receipts and their offline verification.

The ledger knows nothing of policies: it stores canonical entries and proves them.
"""

from govsvc.ledger.errors import (
    LedgerError,
    MalformedError,
    ProofError,
    SignatureError,
    VerificationError,
)

__all__ = [
    "LedgerError",
    "MalformedError",
    "ProofError",
    "SignatureError",
    "VerificationError",
]
