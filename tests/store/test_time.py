"""Timestamps as stored and recorded."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from govsvc.store.time import now


def test_now_is_rfc3339_utc_to_the_microsecond() -> None:
    before = datetime.now(UTC)
    text = now()
    after = datetime.now(UTC)

    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", text)
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    assert before <= parsed <= after
