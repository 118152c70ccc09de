"""The RFC 9162 Merkle module against known answers, the reference tree, and itself."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from govsvc.ledger import merkle
from govsvc.ledger.errors import ProofError

TESTDATA = Path(__file__).parent / "testdata"
RFC6962 = json.loads((TESTDATA / "rfc6962_tree.json").read_text())
TDEV_INCLUSION = json.loads((TESTDATA / "tdev_inclusion.json").read_text())["cases"]
TDEV_CONSISTENCY = json.loads((TESTDATA / "tdev_consistency.json").read_text())["cases"]

LEAVES = [bytes.fromhex(h) for h in RFC6962["leaves"]]
TREE8 = merkle.MemoryTree(LEAVES)

# One tree of 70 entries serves every property test; the reference tree is slow, so
# its roots and proofs are computed once here.
BIG = merkle.MemoryTree([f"entry {i}".encode() for i in range(70)])
BIG_ROOTS = [BIG.root(n) for n in range(71)]


def _h(values: list[str]) -> list[bytes]:
    return [bytes.fromhex(v) for v in values]


def _b64(value: str) -> bytes:
    return base64.b64decode(value)


# -- known answers: the RFC 6962 test tree ---------------------------------------


@pytest.mark.parametrize("size", range(1, 9))
def test_root_rfc6962_tree_every_size(size: int) -> None:
    leaf_hashes = [merkle.leaf_hash(leaf) for leaf in LEAVES[:size]]

    assert merkle.root(leaf_hashes).hex() == RFC6962["roots"][size - 1]
    assert TREE8.root(size).hex() == RFC6962["roots"][size - 1]
    assert merkle.range_hash(0, size, TREE8.fetch).hex() == RFC6962["roots"][size - 1]


def test_root_empty_tree_is_hash_of_nothing() -> None:
    assert merkle.root([]).hex() == RFC6962["empty_root"]
    assert merkle.range_hash(0, 0, TREE8.fetch).hex() == RFC6962["empty_root"]


@pytest.mark.parametrize(
    "case", RFC6962["inclusion"], ids=lambda c: f"{c['index']}-of-{c['size']}"
)
def test_inclusion_proof_rfc6962_known_answers(case: dict[str, Any]) -> None:
    index, size, expected = case["index"], case["size"], _h(case["proof"])

    assert merkle.inclusion_proof(index, size, TREE8.fetch) == expected
    assert TREE8.inclusion_proof(index, size) == expected
    merkle.verify_inclusion(
        TREE8.leaves[index],
        index,
        size,
        expected,
        bytes.fromhex(RFC6962["roots"][size - 1]),
    )


@pytest.mark.parametrize(
    "case", RFC6962["consistency"], ids=lambda c: f"{c['old']}-to-{c['new']}"
)
def test_consistency_proof_rfc6962_known_answers(case: dict[str, Any]) -> None:
    old, new, expected = case["old"], case["new"], _h(case["proof"])
    roots = [bytes.fromhex(r) for r in RFC6962["roots"]]

    assert merkle.consistency_proof(old, new, TREE8.fetch) == expected
    assert TREE8.consistency_proof(old, new) == expected
    merkle.verify_consistency(old, new, roots[old - 1], roots[new - 1], expected)


# -- known answers: transparency-dev/merkle probe sets ---------------------------


@pytest.mark.parametrize("case", TDEV_INCLUSION, ids=lambda c: c["file"])
def test_verify_inclusion_transparency_dev_probes(case: dict[str, Any]) -> None:
    proof = [_b64(p) for p in case["proof"] or []]
    args = (_b64(case["leafHash"]), case["leafIdx"], case["treeSize"], proof)

    if case["wantErr"]:
        with pytest.raises(ProofError):
            merkle.verify_inclusion(*args, _b64(case["root"]))
    else:
        merkle.verify_inclusion(*args, _b64(case["root"]))


@pytest.mark.parametrize("case", TDEV_CONSISTENCY, ids=lambda c: c["file"])
def test_verify_consistency_transparency_dev_probes(case: dict[str, Any]) -> None:
    proof = [_b64(p) for p in case["proof"] or []]
    args = (
        case["size1"],
        case["size2"],
        _b64(case["root1"]),
        _b64(case["root2"]),
        proof,
    )

    if case["wantErr"]:
        with pytest.raises(ProofError):
            merkle.verify_consistency(*args)
    else:
        merkle.verify_consistency(*args)


# -- ranges and pieces -----------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        (0, 0, []),
        (0, 1, [(0, 0)]),
        (0, 8, [(3, 0)]),
        (0, 7, [(2, 0), (1, 2), (0, 6)]),
        (4, 7, [(1, 2), (0, 6)]),
        (3, 9, [(0, 3), (2, 1), (0, 8)]),
        (5, 6, [(0, 5)]),
        (16, 48, [(4, 1), (4, 2)]),
    ],
)
def test_aligned_subtrees_known_splits(
    start: int, end: int, expected: list[tuple[int, int]]
) -> None:
    assert merkle.aligned_subtrees(start, end) == expected


@given(st.integers(0, 300), st.integers(0, 300))
def test_aligned_subtrees_cover_range_exactly(a: int, b: int) -> None:
    start, end = min(a, b), max(a, b)
    position = start

    for level, index in merkle.aligned_subtrees(start, end):
        piece_start, piece_end = merkle.piece_range((level, index))
        assert piece_start == position
        assert piece_end <= end
        position = piece_end

    assert position == end


def test_inclusion_ranges_rfc_order_deepest_first() -> None:
    # Leaf 5 of 8: sibling leaf 4, then leaves 6-7, then the left half 0-3.
    assert merkle.inclusion_ranges(5, 8) == [(4, 5), (6, 8), (0, 4)]


def test_consistency_ranges_rfc_example() -> None:
    # RFC 9162 2.1.4.3: the proof between trees of 6 and 7 leaves is [k, j, d].
    assert merkle.consistency_ranges(6, 7) == [(4, 6), (6, 7), (0, 4)]
    assert merkle.consistency_ranges(4, 7) == [(4, 7)]
    assert merkle.consistency_ranges(0, 7) == []
    assert merkle.consistency_ranges(7, 7) == []


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: merkle.inclusion_ranges(3, 3), "0 <= index < size, found index=3"),
        (lambda: merkle.inclusion_ranges(-1, 3), "found index=-1"),
        (lambda: merkle.consistency_ranges(4, 3), "0 <= old <= new, found old=4"),
        (lambda: merkle.aligned_subtrees(5, 4), "start <= end, found start=5"),
        (lambda: merkle.range_hash(2, 5, TREE8.fetch), "start must be a multiple of 4"),
    ],
)
def test_ranges_bad_arguments_raise(call: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()


def test_proof_fetch_called_once_with_log_pieces() -> None:
    calls: list[list[tuple[int, int]]] = []

    def fetch(pieces: list[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
        calls.append(pieces)
        return BIG.fetch(pieces)

    merkle.inclusion_proof(37, 70, fetch)
    merkle.consistency_proof(37, 70, fetch)

    assert len(calls) == 2
    assert all(len(pieces) <= 2 * (70).bit_length() for pieces in calls)


def test_proof_fetch_missing_piece_raises() -> None:
    with pytest.raises(LookupError, match=r"no hash for piece \(0, 4\)"):
        merkle.inclusion_proof(5, 8, lambda pieces: {})


# -- the range-based proofs against the reference tree ----------------------------


def test_proofs_match_reference_tree_every_size() -> None:
    for size in range(1, 71):
        assert merkle.range_hash(0, size, BIG.fetch) == BIG_ROOTS[size]
        for index in range(0, size, 3):
            assert merkle.inclusion_proof(
                index, size, BIG.fetch
            ) == BIG.inclusion_proof(index, size)
        for old in range(0, size + 1, 3):
            assert merkle.consistency_proof(old, size, BIG.fetch) == (
                BIG.consistency_proof(old, size)
            )


# -- properties: every proof verifies, any change fails ----------------------------


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_inclusion_every_proof_verifies_and_any_change_fails(
    data: st.DataObject,
) -> None:
    size = data.draw(st.integers(1, 70), label="size")
    index = data.draw(st.integers(0, size - 1), label="index")
    proof = merkle.inclusion_proof(index, size, BIG.fetch)
    leaf, root = BIG.leaves[index], BIG_ROOTS[size]

    merkle.verify_inclusion(leaf, index, size, proof, root)

    other_index = data.draw(st.integers(0, 80).filter(lambda i: i != index))
    with pytest.raises(ProofError):
        merkle.verify_inclusion(leaf, other_index, size, proof, root)
    # A checkpoint binds size and root together: the proof must fail against any
    # other (size, root) pair of the same log. (Against its own root, a wrong size
    # can share the path's shape, e.g. leaf 0 of 5 and of 6 leaves; the signed
    # checkpoint is what makes the size authentic.)
    other_size = data.draw(st.integers(0, 70).filter(lambda n: n != size))
    with pytest.raises(ProofError):
        merkle.verify_inclusion(leaf, index, other_size, proof, BIG_ROOTS[other_size])

    flip = data.draw(st.integers(0, 32 * 8 * (len(proof) + 2) - 1), label="bit")
    hashes = [leaf, *proof, root]
    damaged = bytearray(hashes[flip // 256])
    damaged[(flip % 256) // 8] ^= 1 << (flip % 8)
    hashes[flip // 256] = bytes(damaged)
    with pytest.raises(ProofError):
        merkle.verify_inclusion(hashes[0], index, size, hashes[1:-1], hashes[-1])

    if proof:
        with pytest.raises(ProofError):
            merkle.verify_inclusion(leaf, index, size, proof[:-1], root)
    with pytest.raises(ProofError):
        merkle.verify_inclusion(leaf, index, size, [*proof, root], root)


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_consistency_every_proof_verifies_and_any_change_fails(
    data: st.DataObject,
) -> None:
    new = data.draw(st.integers(1, 70), label="new")
    old = data.draw(st.integers(1, new), label="old")
    proof = merkle.consistency_proof(old, new, BIG.fetch)
    old_root, new_root = BIG_ROOTS[old], BIG_ROOTS[new]

    merkle.verify_consistency(old, new, old_root, new_root, proof)
    merkle.verify_consistency(0, new, merkle.EMPTY_ROOT, new_root, [])

    other_old = data.draw(st.integers(1, 70).filter(lambda n: n != old), label="old'")
    with pytest.raises(ProofError):
        merkle.verify_consistency(other_old, new, BIG_ROOTS[other_old], new_root, proof)
    other_new = data.draw(st.integers(1, 70).filter(lambda n: n != new), label="new'")
    with pytest.raises(ProofError):
        merkle.verify_consistency(old, other_new, old_root, BIG_ROOTS[other_new], proof)

    if old == new:
        return
    flip = data.draw(st.integers(0, 32 * 8 * (len(proof) + 2) - 1), label="bit")
    hashes = [old_root, *proof, new_root]
    damaged = bytearray(hashes[flip // 256])
    damaged[(flip % 256) // 8] ^= 1 << (flip % 8)
    hashes[flip // 256] = bytes(damaged)
    with pytest.raises(ProofError):
        merkle.verify_consistency(old, new, hashes[0], hashes[-1], hashes[1:-1])

    with pytest.raises(ProofError):
        merkle.verify_consistency(old, new, old_root, new_root, proof[:-1])
    with pytest.raises(ProofError):
        merkle.verify_consistency(old, new, old_root, new_root, [*proof, new_root])


# -- verification messages ---------------------------------------------------------


def test_verify_inclusion_wrong_root_names_both() -> None:
    proof = merkle.inclusion_proof(5, 8, TREE8.fetch)
    wrong = bytes(32)

    with pytest.raises(ProofError, match="inclusion root") as info:
        merkle.verify_inclusion(TREE8.leaves[5], 5, 8, proof, wrong)

    assert info.value.check == "inclusion root"
    assert info.value.expected == base64.b64encode(wrong).decode()
    assert _b64(info.value.found or "").hex() == RFC6962["roots"][7]


def test_verify_inclusion_short_hash_rejected() -> None:
    with pytest.raises(ProofError, match=r"inclusion proof hash 1.*expected 32 bytes"):
        merkle.verify_inclusion(
            TREE8.leaves[0], 0, 8, [bytes(32), b"x", bytes(32)], bytes(32)
        )


def test_verify_inclusion_long_proof_says_how_long() -> None:
    proof = merkle.inclusion_proof(0, 8, TREE8.fetch)

    with pytest.raises(ProofError, match=r"more hashes.*expected 3 hashes, found 4"):
        merkle.verify_inclusion(
            TREE8.leaves[0], 0, 8, [*proof, bytes(32)], TREE8.root()
        )


def test_verify_consistency_time_travel_rejected() -> None:
    with pytest.raises(ProofError, match="old tree is larger"):
        merkle.verify_consistency(5, 4, bytes(32), bytes(32), [])


def test_verify_consistency_same_size_different_roots_rejected() -> None:
    with pytest.raises(ProofError, match="same size 3 have different roots"):
        merkle.verify_consistency(3, 3, TREE8.root(3), TREE8.root(4), [])


# -- an independent implementation ---------------------------------------------------


def test_root_matches_pymerkle_every_size_to_100() -> None:
    from pymerkle import InmemoryTree

    reference = InmemoryTree(algorithm="sha256")
    leaves: list[bytes] = []
    for i in range(100):
        data = f"pymerkle {i}".encode()
        reference.append_entry(data)
        leaves.append(merkle.leaf_hash(data))

        assert merkle.root(leaves) == reference.get_root(i + 1)


# -- exhaustive: every proof of every tree up to 70 leaves --------------------------


def _all_pieces(tree: merkle.MemoryTree) -> dict[tuple[int, int], bytes]:
    """Every complete aligned subtree of `tree`, bottom-up: a store's whole content."""
    pieces = {(0, i): leaf for i, leaf in enumerate(tree.leaves)}
    level = 0
    while (2 << level) <= len(tree):
        for index in range(len(tree) >> (level + 1)):
            pieces[(level + 1, index)] = merkle.node_hash(
                pieces[(level, 2 * index)], pieces[(level, 2 * index + 1)]
            )
        level += 1
    return pieces


BIG_PIECES = _all_pieces(BIG)


def _fetch_big(pieces: list[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
    return {piece: BIG_PIECES[piece] for piece in pieces}


def _accepted(verify: Any, *args: Any) -> bool:
    # pytest.raises costs more than the verification; this loop makes ~200k calls.
    try:
        verify(*args)
    except ProofError:
        return False
    return True


def test_inclusion_exhaustive_verifies_and_wrong_index_or_size_fails() -> None:
    wrongly_accepted = []
    for size in range(1, 71):
        root = BIG_ROOTS[size]
        for index in range(size):
            leaf = BIG.leaves[index]
            proof = merkle.inclusion_proof(index, size, _fetch_big)

            merkle.verify_inclusion(leaf, index, size, proof, root)
            wrongly_accepted += [
                (index, size, "index", other)
                for other in range(size)
                if other != index
                and _accepted(merkle.verify_inclusion, leaf, other, size, proof, root)
            ]
            wrongly_accepted += [
                (index, size, "size", m)
                for m in range(index + 1, 71)
                if m != size
                and _accepted(
                    merkle.verify_inclusion, leaf, index, m, proof, BIG_ROOTS[m]
                )
            ]

    assert wrongly_accepted == []


def test_consistency_exhaustive_verifies_and_wrong_size_fails() -> None:
    wrongly_accepted = []
    for new in range(1, 71):
        for old in range(1, new + 1):
            proof = merkle.consistency_proof(old, new, _fetch_big)

            merkle.verify_consistency(old, new, BIG_ROOTS[old], BIG_ROOTS[new], proof)
            wrongly_accepted += [
                (old, new, other)
                for other in range(1, new + 1)
                if other != old
                and _accepted(
                    merkle.verify_consistency,
                    other,
                    new,
                    BIG_ROOTS[other],
                    BIG_ROOTS[new],
                    proof,
                )
            ]

    assert wrongly_accepted == []


def test_verify_inclusion_accepts_pymerkle_proofs() -> None:
    # pymerkle's inclusion path is the leaf hash followed by the RFC 9162 path.
    from pymerkle import InmemoryTree

    reference = InmemoryTree(algorithm="sha256")
    for i in range(40):
        reference.append_entry(f"pymerkle {i}".encode())

    for size in range(1, 41):
        root = reference.get_root(size)
        for index in range(size):
            path = reference.prove_inclusion(index + 1, size).path
            leaf, proof = path[0], list(path[1:])

            merkle.verify_inclusion(leaf, index, size, proof, root)
