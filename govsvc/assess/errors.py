"""Why an evaluation request cannot be assessed.

    GovsvcError
     └── AssessError          the request is malformed; `problems` lists every fault
                              as `field.path: message`, in the order found

The REST service turns an `AssessError` into a 422 whose body carries `problems`; the
`govsvc assess` command prints them one per line.
"""

from __future__ import annotations

from collections.abc import Sequence

from govsvc.errors import GovsvcError


class AssessError(GovsvcError):
    """An evaluation request that fails validation, with every problem found."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        count = len(self.problems)
        listing = "\n  ".join(self.problems)
        super().__init__(
            f"the evaluation request has {count} problem{'s' if count != 1 else ''}; "
            f"fix each field named below and send it again:\n  {listing}"
        )
