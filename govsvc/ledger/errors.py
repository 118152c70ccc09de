"""The ledger's exceptions.

    GovsvcError
     └── LedgerError                  anything the ledger cannot do or cannot prove
          ├── MalformedError          input that cannot be read as what it claims to be
          │    ├── EntryError         an entry that RFC 8785 cannot encode
          │    ├── NoteFormatError    a signed note or checkpoint that breaks its format
          │    ├── KeyFormatError     a signer or verifier key string that is malformed
          │    ├── ReceiptFormatError a receipt whose JSON or fields break the format
          │    └── ProofFormatError   a proof document whose JSON or hashes are bad
          ├── VerificationError       well-formed input whose check fails
          │    ├── ProofError         an inclusion or consistency proof does not verify
          │    ├── SignatureError     no trusted key's signature on a note verifies
          │    └── ReceiptError       a receipt's leaf hash, size or root disagrees
          └── KeyFileError            a key file that cannot be created, read or trusted

A `VerificationError` carries the check that failed and, where there are two values
to compare, what was expected and what was found, so that callers (the CLI, the API)
can render them without parsing the message.
"""

from __future__ import annotations

from govsvc.errors import GovsvcError


class LedgerError(GovsvcError):
    """Something in the ledger cannot be done or cannot be proven."""


class MalformedError(LedgerError):
    """Input that cannot be parsed as the format it claims to be."""


class EntryError(MalformedError):
    """A ledger entry that is not a JSON object RFC 8785 can encode."""


class NoteFormatError(MalformedError):
    """A C2SP signed note or tlog-checkpoint that breaks its format."""


class KeyFormatError(MalformedError):
    """A signed-note signer or verifier key string that breaks its format."""


class ReceiptFormatError(MalformedError):
    """A receipt whose JSON text or fields are not what the receipt format specifies."""


class ProofFormatError(MalformedError):
    """A proof document (JSON with base64 hashes) that cannot be read."""


class VerificationError(LedgerError):
    """Well-formed input whose check fails; `check` names the check."""

    def __init__(
        self,
        check: str,
        message: str,
        *,
        expected: str | None = None,
        found: str | None = None,
    ) -> None:
        self.check = check
        self.expected = expected
        self.found = found
        text = f"{check}: {message}"
        if expected is not None or found is not None:
            text += f" (expected {expected}, found {found})"
        super().__init__(text)


class ProofError(VerificationError):
    """An inclusion or consistency proof does not verify (RFC 9162 2.1.3.2, 2.1.4.2)."""


class SignatureError(VerificationError):
    """No signature on a note by a trusted key verifies."""


class ReceiptError(VerificationError):
    """A receipt's leaf hash, index, tree size or root disagrees with its contents."""


class KeyFileError(LedgerError):
    """A key file that cannot be created, read, parsed or trusted."""
