"""JSON text packed for storage with Zstandard, for a decision's facts.

The facts are most of a decision's row: about 9 kB of JSON for 3 attributes and 20
drifting features, which SQLite spreads over three overflow pages and writes to
its log, and copies again at each checkpoint. At level 1 Zstandard makes them
about 3 kB in some 25 microseconds, and gives them back in under 10; level 3 takes
38 us and makes them no smaller, level -1 leaves 4.7 kB (docs/api.md, Speed).

A frame is self-describing, so rows packed now stay readable whatever level or
library version packs later ones.
"""

from __future__ import annotations

import threading

import zstandard

LEVEL = 1

# Neither a compressor nor a decompressor may be used by two threads at once; the
# event loop, the ledger's writer and the request threads each get their own.
_local = threading.local()


def pack(text: str) -> bytes:
    """`text` as one Zstandard frame of its UTF-8 bytes."""
    compressor = getattr(_local, "compressor", None)
    if compressor is None:
        compressor = _local.compressor = zstandard.ZstdCompressor(level=LEVEL)
    packed: bytes = compressor.compress(text.encode())
    return packed


def unpack(data: bytes) -> str:
    """The text `pack` was given."""
    decompressor = getattr(_local, "decompressor", None)
    if decompressor is None:
        decompressor = _local.decompressor = zstandard.ZstdDecompressor()
    text: str = decompressor.decompress(data).decode()
    return text
