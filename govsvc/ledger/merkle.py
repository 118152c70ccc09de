"""The RFC 9162 Merkle tree: hashes, proofs from stored subtrees, and verification.

Everything here is pure: no storage, no I/O. A store keeps the hash of every complete,
power-of-two-aligned subtree, keyed by a *piece* `(level, index)`: the subtree of
`2**level` leaves that starts at leaf `index << level`. Level 0 holds the leaf hashes.

Proofs are built in two steps, so that storage answers one query per proof:

1. `inclusion_ranges` / `consistency_ranges` name the `[start, end)` leaf ranges whose
   Merkle tree hashes (MTH) form the proof, in proof order, without hashing anything;
2. `aligned_subtrees` splits each range into pieces; `fetch(pieces)` returns their
   hashes in one call, and the ranges' hashes are folded from them.

A proof of a tree of n leaves names at most about 2 log2(n) pieces.

`MemoryTree` is a reference tree in memory, written directly from the RFC's recursive
definitions; the tests check the range-based functions against it.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Mapping, Sequence

from govsvc.ledger.errors import ProofError

HASH_SIZE = 32  # SHA-256, the hash of RFC 9162's log parameters we use
EMPTY_ROOT = hashlib.sha256(b"").digest()  # RFC 9162 2.1.1: MTH({}) = HASH()

Piece = tuple[int, int]  # (level, index): leaves [index << level, (index + 1) << level)
Range = tuple[int, int]  # [start, end) in leaf indices
Fetch = Callable[[list[Piece]], Mapping[Piece, bytes]]

_LEAF_PREFIX = b"\x00"
_NODE_PREFIX = b"\x01"


# -- hashes (RFC 9162 2.1.1) ---------------------------------------------------


def leaf_hash(data: bytes) -> bytes:
    """MTH({d(0)}) = SHA-256(0x00 || d(0)), RFC 9162 2.1.1."""
    return hashlib.sha256(_LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 || left || right), RFC 9162 2.1.1."""
    return hashlib.sha256(_NODE_PREFIX + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two smaller than n (n > 1): where RFC 9162 splits D[n]."""
    return 1 << ((n - 1).bit_length() - 1)


def root(leaves: Sequence[bytes]) -> bytes:
    """The MTH of a list of *leaf hashes* (not raw entries); MTH({}) is SHA-256("").

    Computed bottom-up in O(n) hashes: pairing neighbours level by level and carrying
    an odd last node up unchanged gives exactly the RFC's split at the largest power
    of two below n.
    """
    if not leaves:
        return EMPTY_ROOT
    level = list(leaves)
    while len(level) > 1:
        paired = [
            node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)
        ]
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
    return level[0]


# -- ranges and pieces, without hashing ----------------------------------------


def piece_range(piece: Piece) -> Range:
    """The `[start, end)` leaves a piece `(level, index)` covers."""
    level, index = piece
    return index << level, (index + 1) << level


def aligned_subtrees(start: int, end: int) -> list[Piece]:
    """`[start, end)` as complete, aligned subtrees `(level, index)`, left to right.

    Each piece is the largest subtree that starts at the current position, is aligned
    to its own size, and ends at or before `end`. For the ranges of an RFC 9162 tree
    (`start` a multiple of a power of two at least `end - start`) the sizes strictly
    decrease, one piece per set bit of `end - start`.
    """
    if not 0 <= start <= end:
        raise ValueError(f"expected 0 <= start <= end, found start={start} end={end}")

    pieces: list[Piece] = []
    while start < end:
        # The lowest set bit of start bounds the alignment; start 0 is aligned to all.
        level = (
            (start & -start).bit_length() - 1 if start else (end - start).bit_length()
        )
        while (1 << level) > end - start:
            level -= 1
        pieces.append((level, start >> level))
        start += 1 << level
    return pieces


def inclusion_ranges(index: int, size: int) -> list[Range]:
    """The ranges whose MTHs form PATH(index, D[size]), RFC 9162 2.1.3.1, in order.

    The RFC's recursion appends the sibling at each split after the path below it,
    so the deepest sibling comes first.
    """
    if not 0 <= index < size:
        raise ValueError(f"expected 0 <= index < size, found index={index} size={size}")

    ranges: list[Range] = []
    start, end = 0, size
    while end - start > 1:
        k = _split(end - start)
        if index < start + k:
            ranges.append((start + k, end))  # PATH(m, D[0:k]) : MTH(D[k:n])
            end = start + k
        else:
            ranges.append((start, start + k))  # PATH(m - k, D[k:n]) : MTH(D[0:k])
            start += k
    ranges.reverse()
    return ranges


def consistency_ranges(old: int, new: int) -> list[Range]:
    """The ranges whose MTHs form PROOF(old, D[new]), RFC 9162 2.1.4.1, in order.

    The proof is empty when old is 0 or old equals new: every tree is consistent
    with the empty tree and with itself.
    """
    if not 0 <= old <= new:
        raise ValueError(f"expected 0 <= old <= new, found old={old} new={new}")
    if old == 0 or old == new:
        return []

    # SUBPROOF(m, D[start:end], b), unrolled; each step appends one range, and the
    # recursion's order puts the deepest range first, so collect and reverse.
    ranges: list[Range] = []
    start, end, m, b = 0, new, old, True
    while m != end - start:
        k = _split(end - start)
        if m <= k:
            ranges.append((start + k, end))  # SUBPROOF(m, D[0:k], b) : MTH(D[k:n])
            end = start + k
        else:
            ranges.append(
                (start, start + k)
            )  # SUBPROOF(m-k, D[k:n], false) : MTH(D[0:k])
            start += k
            m -= k
            b = False
    if not b:
        ranges.append((start, end))  # SUBPROOF(m, D[m], false) = {MTH(D[m])}
    ranges.reverse()
    return ranges


# -- proofs from stored pieces -------------------------------------------------


def _fold(pieces: list[Piece], hashes: Mapping[Piece, bytes]) -> bytes:
    """The MTH of a range from its pieces, whose sizes strictly decrease."""
    try:
        acc = hashes[pieces[-1]]
        for piece in reversed(pieces[:-1]):
            acc = node_hash(hashes[piece], acc)
    except KeyError as exc:
        raise LookupError(f"fetch returned no hash for piece {exc.args[0]}") from exc
    return acc


def _check_tree_range(start: int, end: int) -> None:
    if not 0 <= start < end:
        raise ValueError(f"expected 0 <= start < end, found start={start} end={end}")
    width = (
        1 << (end - start - 1).bit_length()
    )  # end - start rounded up to a power of 2
    if start % width:
        raise ValueError(
            f"[{start}, {end}) is not a subtree of any RFC 9162 tree: its start "
            f"must be a multiple of {width}"
        )


def _hashes_of(ranges: list[Range], fetch: Fetch) -> list[bytes]:
    split = [aligned_subtrees(start, end) for start, end in ranges]
    wanted = [piece for pieces in split for piece in pieces]
    hashes = fetch(wanted) if wanted else {}
    return [_fold(pieces, hashes) for pieces in split]


def range_hash(start: int, end: int, fetch: Fetch) -> bytes:
    """MTH(D[start:end]) from stored pieces; `[start, end)` must be a subtree's range.

    That holds for `[0, n)` (the root of any tree size) and for every range a proof
    names. An empty range `[0, 0)` is the empty tree.
    """
    if start == end == 0:
        return EMPTY_ROOT
    _check_tree_range(start, end)
    return _hashes_of([(start, end)], fetch)[0]


def inclusion_proof(index: int, size: int, fetch: Fetch) -> list[bytes]:
    """PATH(index, D[size]) (RFC 9162 2.1.3.1), with one call to `fetch`."""
    return _hashes_of(inclusion_ranges(index, size), fetch)


def consistency_proof(old: int, new: int, fetch: Fetch) -> list[bytes]:
    """PROOF(old, D[new]) (RFC 9162 2.1.4.1), with one call to `fetch`."""
    return _hashes_of(consistency_ranges(old, new), fetch)


# -- verification (RFC 9162 2.1.3.2 and 2.1.4.2) -------------------------------


def _b64(value: bytes) -> str:
    # Hashes in messages are base64, as in receipts, checkpoints and proofs.
    return base64.b64encode(value).decode("ascii")


def _check_hash(what: str, value: bytes) -> None:
    if len(value) != HASH_SIZE:
        raise ProofError(
            what,
            "a hash has the wrong length",
            expected=f"{HASH_SIZE} bytes",
            found=f"{len(value)} bytes",
        )


def root_from_inclusion_proof(
    leaf: bytes, index: int, size: int, proof: Sequence[bytes]
) -> bytes:
    """The root that `proof` leads to from `leaf` at `index` in a tree of `size`.

    RFC 9162 2.1.3.2 steps 1 to 5 but the final comparison; raises ProofError when
    the index is outside the tree or the proof's length does not fit the path.
    """
    _check_hash("inclusion leaf hash", leaf)
    for i, p in enumerate(proof):
        _check_hash(f"inclusion proof hash {i}", p)

    # 1. The index must fall inside the tree.
    if not 0 <= index < size:
        raise ProofError(
            "inclusion index",
            "the leaf index is outside the tree",
            expected=f"0 <= index < {size}",
            found=f"index {index}",
        )

    # 2.-4. Walk up from the leaf; fn is our node's index, sn the last node's.
    fn, sn = index, size - 1
    r = leaf
    for p in proof:
        if sn == 0:
            raise ProofError(
                "inclusion proof length",
                "the proof has more hashes than the path to the root",
                expected=f"{_inclusion_length(index, size)} hashes",
                found=f"{len(proof)}",
            )
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1

    # 5. (first half) The path must end at the root.
    if sn != 0:
        raise ProofError(
            "inclusion proof length",
            "the proof has fewer hashes than the path to the root",
            expected=f"{_inclusion_length(index, size)} hashes",
            found=f"{len(proof)}",
        )
    return r


def verify_inclusion(
    leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> None:
    """Check that `leaf` (a leaf hash) is at `index` in the tree of `size` and `root`.

    RFC 9162 2.1.3.2, step by step; raises ProofError naming the failed step.
    """
    _check_hash("inclusion root hash", root)
    computed = root_from_inclusion_proof(leaf, index, size, proof)

    # 5. (second half) The hash computed must be the root.
    if computed != root:
        raise ProofError(
            "inclusion root",
            f"the root computed from leaf {index} and the proof is not the tree's root",
            expected=_b64(root),
            found=_b64(computed),
        )


def _inclusion_length(index: int, size: int) -> int:
    return len(inclusion_ranges(index, size)) if 0 <= index < size else 0


def verify_consistency(
    old: int, new: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> None:
    """Check that the tree of size `new` and `new_root` extends the one of `old`.

    RFC 9162 2.1.4.2, step by step, after the trivial cases the RFC leaves implicit
    (sizes equal, or old size 0); raises ProofError naming the failed step.
    """
    _check_hash("consistency old root", old_root)
    _check_hash("consistency new root", new_root)
    for i, c in enumerate(proof):
        _check_hash(f"consistency proof hash {i}", c)

    if not 0 <= old <= new:
        raise ProofError(
            "consistency sizes",
            "the old tree is larger than the new one",
            expected=f"0 <= old <= new ({new})",
            found=f"old {old}",
        )
    if old == new or old == 0:
        if proof:
            raise ProofError(
                "consistency proof length",
                f"a proof between sizes {old} and {new} must be empty",
                expected="0 hashes",
                found=f"{len(proof)}",
            )
        if old == new and old_root != new_root:
            raise ProofError(
                "consistency root",
                f"two trees of the same size {old} have different roots",
                expected=_b64(old_root),
                found=_b64(new_root),
            )
        return

    # 1. A proof between different non-empty sizes is never empty.
    expected_length = f"{len(consistency_ranges(old, new))} hashes"
    if not proof:
        raise ProofError(
            "consistency proof length",
            "the proof is empty",
            expected=expected_length,
            found="0",
        )

    # 2. When old is a power of two, the old root is the proof's implicit first node.
    path = list(proof)
    if old & (old - 1) == 0:
        path.insert(0, old_root)

    # 3.-4. fn and sn index the last nodes of the old and new trees; skip the levels
    # where the old tree's last node is a right child already covered by the path.
    fn, sn = old - 1, new - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1

    # 5.-6. Rebuild both roots from the path.
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError(
                "consistency proof length",
                "the proof has more hashes than the two trees need",
                expected=expected_length,
                found=f"{len(proof)}",
            )
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1

    # 7. Both roots must match, and the path must have reached the new root.
    if sn != 0:
        raise ProofError(
            "consistency proof length",
            "the proof has fewer hashes than the two trees need",
            expected=expected_length,
            found=f"{len(proof)}",
        )
    if fr != old_root:
        raise ProofError(
            "consistency old root",
            f"the root of size {old} computed from the proof is not the old root",
            expected=_b64(old_root),
            found=_b64(fr),
        )
    if sr != new_root:
        raise ProofError(
            "consistency new root",
            f"the root of size {new} computed from the proof is not the new root",
            expected=_b64(new_root),
            found=_b64(sr),
        )


# -- a reference tree in memory ------------------------------------------------


class MemoryTree:
    """A tree in memory, written from RFC 9162's recursive definitions.

    Slow (every call recomputes from the leaves) and meant for tests: it is the
    independent reference the stored, range-based proofs are checked against. It also
    serves `fetch` for the range-based functions, computing pieces on demand.
    """

    def __init__(self, entries: Sequence[bytes] = ()) -> None:
        self.leaves: list[bytes] = [leaf_hash(e) for e in entries]

    def append(self, entry: bytes) -> int:
        """Add an entry; returns its index."""
        self.leaves.append(leaf_hash(entry))
        return len(self.leaves) - 1

    def __len__(self) -> int:
        return len(self.leaves)

    def _mth(self, start: int, end: int) -> bytes:
        n = end - start
        if n == 0:
            return EMPTY_ROOT
        if n == 1:
            return self.leaves[start]
        k = _split(n)
        return node_hash(self._mth(start, start + k), self._mth(start + k, end))

    def root(self, size: int | None = None) -> bytes:
        return self._mth(0, len(self.leaves) if size is None else size)

    def _path(self, m: int, start: int, end: int) -> list[bytes]:
        n = end - start
        if n == 1:
            return []
        k = _split(n)
        if m < k:
            return [*self._path(m, start, start + k), self._mth(start + k, end)]
        return [*self._path(m - k, start + k, end), self._mth(start, start + k)]

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        size = len(self.leaves) if size is None else size
        if not 0 <= index < size <= len(self.leaves):
            raise ValueError(f"no leaf {index} in a tree of size {size}")
        return self._path(index, 0, size)

    def _subproof(self, m: int, start: int, end: int, b: bool) -> list[bytes]:
        n = end - start
        if m == n:
            return [] if b else [self._mth(start, end)]
        k = _split(n)
        if m <= k:
            return [*self._subproof(m, start, start + k, b), self._mth(start + k, end)]
        return [
            *self._subproof(m - k, start + k, end, False),
            self._mth(start, start + k),
        ]

    def consistency_proof(self, old: int, new: int | None = None) -> list[bytes]:
        new = len(self.leaves) if new is None else new
        if not 0 <= old <= new <= len(self.leaves):
            raise ValueError(f"no consistency proof from {old} to {new}")
        if old == 0:
            return []
        return self._subproof(old, 0, new, True)

    def fetch(self, pieces: list[Piece]) -> dict[Piece, bytes]:
        """Serve complete aligned subtrees, as a store would."""
        out: dict[Piece, bytes] = {}
        for piece in pieces:
            start, end = piece_range(piece)
            if end > len(self.leaves):
                raise LookupError(f"piece {piece} is not complete in size {len(self)}")
            out[piece] = self._mth(start, end)
        return out
