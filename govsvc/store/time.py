"""Timestamps as the service stores and records them."""

from __future__ import annotations

from datetime import UTC, datetime


def now() -> str:
    """The current time in RFC 3339, UTC, to the microsecond: `2026-12-03T16:41:59.123456Z`."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
