"""Timestamps as the service stores and records them."""

from __future__ import annotations

from datetime import UTC, datetime


def now() -> str:
    """The current time, RFC 3339 in UTC to the microsecond."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
