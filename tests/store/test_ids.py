"""Row ids: UUIDv7, in time order."""

from __future__ import annotations

import time
import uuid

from govsvc.store.ids import new_id


def test_an_id_is_a_version_7_uuid_stamped_with_the_time_in_milliseconds() -> None:
    before = time.time_ns() // 1_000_000
    made = uuid.UUID(new_id())
    after = time.time_ns() // 1_000_000

    assert made.version == 7
    assert made.variant == uuid.RFC_4122
    assert before <= made.int >> 80 <= after


def test_ids_made_a_millisecond_apart_sort_in_that_order() -> None:
    first = new_id()
    time.sleep(0.002)
    second = new_id()

    # As text too: the database's index compares the strings.
    assert first < second


def test_ids_made_in_the_same_millisecond_differ() -> None:
    made = {new_id() for _ in range(10_000)}

    assert len(made) == 10_000
