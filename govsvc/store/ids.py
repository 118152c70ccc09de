"""Row ids: UUIDs whose leading bits are the time they were made (UUIDv7, RFC 9562
section 5.7).

A decision's id is its primary key. Random ids (UUIDv4) land all over the key's
index, so each new row dirtied an index page of its own, which SQLite then wrote to
its WAL and checkpointed back, page by page; ids in time order go to the end of
the index, where a batch's rows share a page or two. PostgreSQL's B-tree gains the
same locality. The 74 bits after the time are random, so ids still do not collide
across processes or replicas, and do not say how many decisions came before.
"""

from __future__ import annotations

import os
import time
import uuid

_VERSION = 0x7 << 76
_VARIANT = 0b10 << 62


def new_id() -> str:
    """A new UUIDv7 in its usual text form (`0193a8e4-5f0c-7d2e-9b1a-...`)."""
    millis = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10))  # 80 bits; 74 of them are used
    rand_a = (rand >> 64) & 0xFFF  # 12 bits after the version
    rand_b = rand & ((1 << 62) - 1)  # 62 bits after the variant
    stamp = (millis & ((1 << 48) - 1)) << 80
    return str(uuid.UUID(int=stamp | _VERSION | rand_a << 64 | _VARIANT | rand_b))
