from __future__ import annotations

import pytest

from govsvc.store.decisions import decode_cursor, encode_cursor
from govsvc.store.errors import BadRequest


def test_cursor_round_trips() -> None:
    cursor = encode_cursor("2026-12-03T16:41:59.000001Z", "b5b7c9d2")

    assert "=" not in cursor
    assert decode_cursor(cursor) == ("2026-12-03T16:41:59.000001Z", "b5b7c9d2")


@pytest.mark.parametrize("cursor", ["%%%", "bm90IGpzb24", "WzFd"])
def test_decode_cursor_refuses_foreign_cursor(cursor: str) -> None:
    with pytest.raises(BadRequest, match="the cursor is not one this service gave out"):
        decode_cursor(cursor)
