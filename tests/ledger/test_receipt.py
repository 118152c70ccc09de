"""Receipts: building, parsing, verifying each check, and every single-bit change."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from govsvc.ledger import canonical, keys, merkle, note, receipt
from govsvc.ledger.errors import (
    LedgerError,
    MalformedError,
    ProofError,
    ProofFormatError,
    ReceiptError,
    ReceiptFormatError,
    SignatureError,
)

TESTDATA = Path(__file__).parent / "testdata"
# A receipt signed with the example key of Go's sumdb/note (its private key is
# public), so that it is reproducible byte for byte: Ed25519 is deterministic.
FIXTURE = (TESTDATA / "receipt_peter_3_of_5.json").read_text(encoding="utf-8")
PETER = keys.parse_signer_key(
    "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
)
ORIGIN = "example.com/govsvc-test"
ENTRIES = [
    {
        "kind": "decision",
        "seq": i,
        "verdict": ["allow", "review", "deny"][i % 3],
        "model": {"name": "credit-scoring", "version": f"1.{i}.0"},
    }
    for i in range(12)
]
TREE = merkle.MemoryTree([canonical.encode(e) for e in ENTRIES])


def _checkpoint(size: int, signer: keys.Signer = PETER, origin: str = ORIGIN) -> str:
    return note.sign_checkpoint(note.Checkpoint(origin, size, TREE.root(size)), signer)


def _receipt(
    index: int = 3, size: int = 5, signer: keys.Signer = PETER
) -> dict[str, Any]:
    return receipt.build_receipt(
        ENTRIES[index],
        index,
        TREE.inclusion_proof(index, size),
        _checkpoint(size, signer),
        signer.verifier_key,
    )


def _edited(**changes: Any) -> dict[str, Any]:
    doc = _receipt()
    for key, value in changes.items():
        if value is None:
            del doc[key]
        else:
            doc[key] = value
    return doc


# -- building ------------------------------------------------------------------


def test_build_receipt_reproduces_fixture_byte_for_byte() -> None:
    assert receipt.dumps_receipt(_receipt()) == FIXTURE


def test_build_receipt_rejects_malformed_checkpoint() -> None:
    with pytest.raises(MalformedError, match="no blank line"):
        receipt.build_receipt(ENTRIES[0], 0, [], "origin\n1\n", PETER.verifier_key)


# -- verifying -----------------------------------------------------------------


def test_verify_receipt_fixture_every_check_named() -> None:
    seen: list[str] = []

    result = receipt.verify_receipt(
        FIXTURE, [PETER.verifier_key], on_check=lambda c: seen.append(c.name)
    )

    assert seen == ["format", "entry", "signature", "inclusion"]
    assert [c.name for c in result.checks] == seen
    assert (result.index, result.checkpoint.size) == (3, 5)
    assert result.signed_by == (PETER.verifier,)
    assert result.leaf_hash == canonical.entry_leaf_hash(ENTRIES[3])


@pytest.mark.parametrize(("index", "size"), [(0, 1), (0, 12), (11, 12), (6, 7), (4, 9)])
def test_verify_receipt_any_index_and_size(index: int, size: int) -> None:
    doc = _receipt(index, size)

    result = receipt.verify_receipt(receipt.dumps_receipt(doc), [PETER.verifier])

    assert result.checkpoint.size == size


def test_verify_receipt_own_key_not_trusted_unless_given() -> None:
    with pytest.raises(SignatureError, match="no trusted verifier key was given"):
        receipt.verify_receipt(FIXTURE, [])


def test_verify_receipt_other_trusted_key_fails_closed() -> None:
    other = keys.Signer.generate("PeterNeumann")

    with pytest.raises(SignatureError, match="no signature by a trusted key") as info:
        receipt.verify_receipt(FIXTURE, [other.verifier_key])

    assert info.value.check == "signature"


def test_verify_receipt_forged_with_receipt_own_key_rejected() -> None:
    # Someone re-signs a forged tree with a key of their own and puts that key in
    # the receipt: the receipt vouches for itself, which counts for nothing.
    forger = keys.Signer.generate("PeterNeumann")
    forged = _receipt(signer=forger)

    with pytest.raises(SignatureError, match="no signature by a trusted key"):
        receipt.verify_receipt(forged, [PETER.verifier_key])


def test_verify_receipt_old_key_after_rotation(tmp_path: Path) -> None:
    key_path = tmp_path / "signing.key"
    old = keys.load_or_create_signer(key_path, "govsvc.test/ledger")
    old_receipt = _receipt(signer=old)
    keys.rotate_signer(key_path, "govsvc.test/ledger")

    ring = keys.load_keyring(keys.ring_path(key_path))

    assert receipt.verify_receipt(old_receipt, ring).signed_by == (old.verifier,)


def test_verify_receipt_changed_entry_names_both_hashes() -> None:
    doc = _receipt()
    doc["entry"]["verdict"] = "deny"

    with pytest.raises(ReceiptError, match="entry: the leaf hash") as info:
        receipt.verify_receipt(doc, [PETER.verifier])

    assert info.value.expected == doc["leaf_hash"]
    assert (
        info.value.found
        == base64.b64encode(canonical.entry_leaf_hash(doc["entry"])).decode()
    )


def test_verify_receipt_entry_and_leaf_hash_swapped_together_fails_inclusion() -> None:
    doc = _receipt()
    doc["entry"] = ENTRIES[4]
    doc["leaf_hash"] = base64.b64encode(canonical.entry_leaf_hash(ENTRIES[4])).decode()

    with pytest.raises(ProofError, match="inclusion root"):
        receipt.verify_receipt(doc, [PETER.verifier])


def test_verify_receipt_wrong_index_fails_inclusion() -> None:
    with pytest.raises(ProofError, match="inclusion"):
        receipt.verify_receipt(_edited(index=2), [PETER.verifier])


def test_verify_receipt_index_beyond_tree_fails_inclusion() -> None:
    with pytest.raises(ProofError, match=r"inclusion index.*expected 0 <= index < 5"):
        receipt.verify_receipt(_edited(index=5), [PETER.verifier])


def test_verify_receipt_unknown_fields_ignored() -> None:
    assert receipt.verify_receipt(_edited(note="hi"), [PETER.verifier]).index == 3


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"entry": None}, 'no "entry" field'),
        ({"index": None}, 'no "index" field'),
        ({"leaf_hash": None}, 'no "leaf_hash" field'),
        ({"inclusion_proof": None}, 'no "inclusion_proof" field'),
        ({"checkpoint": None}, 'no "checkpoint" field'),
        ({"verifier_key": None}, 'no "verifier_key" field'),
        ({"entry": [1]}, '"entry" must be a JSON object, found array'),
        ({"index": "3"}, '"index" must be a JSON integer, found string'),
        ({"index": True}, '"index" must be a JSON integer, found boolean'),
        ({"index": 3.0}, '"index" must be a JSON integer, found number'),
        ({"index": -1}, '"index" must be >= 0, found -1'),
        ({"leaf_hash": "AAAA"}, '"leaf_hash" has 3 bytes, expected 32'),
        ({"leaf_hash": "!!"}, '"leaf_hash" is not valid base64'),
        ({"inclusion_proof": "AAAA"}, "must be a JSON array, found string"),
        ({"inclusion_proof": [1]}, r'"inclusion_proof"\[0\] must be a base64 string'),
        ({"inclusion_proof": ["AAAA"]}, r'"inclusion_proof"\[0\] has 3 bytes'),
        ({"inclusion_proof": [base64.b64encode(bytes(32)).decode()] * 65}, "65 hashes"),
        ({"checkpoint": 5}, '"checkpoint" must be a JSON string, found integer'),
        ({"checkpoint": "x\n"}, '"checkpoint": the note has no blank line'),
        ({"verifier_key": "PeterNeumann"}, '"verifier_key": verifier key must look'),
        ({"entry": {"n": 2**60}}, '"entry": an entry holds an integer outside'),
    ],
)
def test_verify_receipt_malformed_field_named(
    changes: dict[str, Any], message: str
) -> None:
    with pytest.raises(ReceiptFormatError, match=message):
        receipt.verify_receipt(_edited(**changes), [PETER.verifier])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[]", "a receipt is a JSON object, found array"),
        (FIXTURE + "{}", "Extra data"),
        (FIXTURE.replace('"index": 3,', '"index": 3, "index": 2,'), "duplicate member"),
        (
            FIXTURE.encode("utf-8").replace(b"PeterNeumann+", b"Peter\xffNeumann+"),
            "UTF-8",
        ),
        ("", "Expecting value"),
    ],
)
def test_parse_receipt_malformed_document(text: str | bytes, message: str) -> None:
    with pytest.raises(ReceiptFormatError, match=message):
        receipt.parse_receipt(text)


# -- a second checkpoint and consistency ---------------------------------------


@pytest.mark.parametrize("other_size", [5, 6, 8, 12, 4, 1])
def test_verify_receipt_consistent_with_other_checkpoint(other_size: int) -> None:
    asked: list[tuple[int, int]] = []

    def fetch(old: int, new: int) -> list[bytes]:
        asked.append((old, new))
        return TREE.consistency_proof(old, new)

    result = receipt.verify_receipt(
        FIXTURE,
        [PETER.verifier],
        checkpoint=_checkpoint(other_size),
        consistency_proof=fetch,
    )

    assert [c.name for c in result.checks][-2:] == ["checkpoint", "consistency"]
    assert result.other_checkpoint is not None
    assert result.other_checkpoint.size == other_size
    assert asked == (
        [] if other_size == 5 else [(min(5, other_size), max(5, other_size))]
    )


def test_verify_receipt_split_view_same_size_rejected() -> None:
    # A second tree of 5 leaves with another last entry: the log showed two roots.
    fork = merkle.MemoryTree([canonical.encode(e) for e in ENTRIES[:4]] + [b'{"x":1}'])
    other = note.sign_checkpoint(note.Checkpoint(ORIGIN, 5, fork.root()), PETER)

    with pytest.raises(ProofError, match="same size 5 have different roots"):
        receipt.verify_receipt(FIXTURE, [PETER.verifier], checkpoint=other)


def test_verify_receipt_fork_detected_by_consistency() -> None:
    fork = merkle.MemoryTree([canonical.encode(e) for e in ENTRIES[:4]] + [b"{}"] * 4)
    other = note.sign_checkpoint(note.Checkpoint(ORIGIN, 8, fork.root()), PETER)

    with pytest.raises(ProofError, match="consistency"):
        receipt.verify_receipt(
            FIXTURE,
            [PETER.verifier],
            checkpoint=other,
            consistency_proof=fork.consistency_proof(5, 8),
        )


def test_verify_receipt_other_checkpoint_needs_proof() -> None:
    with pytest.raises(
        ProofError, match=r"sizes 5 and 8; a consistency proof .* is needed"
    ):
        receipt.verify_receipt(FIXTURE, [PETER.verifier], checkpoint=_checkpoint(8))


def test_verify_receipt_other_checkpoint_of_another_log_rejected() -> None:
    other = _checkpoint(8, origin="another.example/log")

    with pytest.raises(
        SignatureError, match="checkpoint: the other checkpoint"
    ) as info:
        receipt.verify_receipt(FIXTURE, [PETER.verifier], checkpoint=other)

    assert info.value.expected == repr(ORIGIN)


def test_verify_receipt_other_checkpoint_untrusted_signer_rejected() -> None:
    other = _checkpoint(8, signer=keys.Signer.generate("PeterNeumann"))

    with pytest.raises(SignatureError, match="no signature by a trusted key"):
        receipt.verify_receipt(
            FIXTURE, [PETER.verifier], checkpoint=other, consistency_proof=[]
        )


def test_verify_receipt_other_checkpoint_malformed_named() -> None:
    with pytest.raises(MalformedError, match=r"the other checkpoint: .*no blank line"):
        receipt.verify_receipt(FIXTURE, [PETER.verifier], checkpoint="x\n")


# -- consistency proof documents -----------------------------------------------


def test_parse_consistency_proof_round_trip() -> None:
    hashes = TREE.consistency_proof(5, 12)
    doc = {
        "from": 5,
        "to": 12,
        "hashes": [base64.b64encode(h).decode() for h in hashes],
    }

    assert receipt.parse_consistency_proof(json.dumps(doc)) == (5, 12, hashes)


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ("[]", "a consistency proof is a JSON object"),
        ('{"from": 1, "hashes": []}', 'field "to" must be an integer >= 0, found None'),
        ('{"from": -1, "to": 2, "hashes": []}', '"from" must be an integer >= 0'),
        ('{"from": true, "to": 2, "hashes": []}', '"from" must be an integer'),
        ('{"from": 1, "to": 2, "hashes": "x"}', '"hashes" must be an array'),
        (
            '{"from": 1, "to": 2, "hashes": [1]}',
            r'"hashes"\[0\] must be a base64 string',
        ),
        ('{"from": 1, "to": 2, "hashes": ["AAAA"]}', r'"hashes"\[0\] has 3 bytes'),
        ('{"from": 1, "to": 2, "hashes": ["AAB="]}', "not canonical base64"),
    ],
)
def test_parse_consistency_proof_malformed(doc: str, message: str) -> None:
    with pytest.raises(ProofFormatError, match=message):
        receipt.parse_consistency_proof(doc)


# -- every single-bit change ---------------------------------------------------


def _flips(text: str) -> list[bytes]:
    data = text.encode("utf-8")
    out = []
    for bit in range(len(data) * 8):
        damaged = bytearray(data)
        damaged[bit // 8] ^= 1 << (bit % 8)
        out.append(bytes(damaged))
    return out


def _never_passes(verify: Callable[[bytes], object], flips: list[bytes]) -> None:
    passed = []
    for i, damaged in enumerate(flips):
        try:
            verify(damaged)
        except LedgerError:
            continue  # malformed or failing: both are refusals
        passed.append(i)
    assert passed == [], f"bit flips that still verified: {passed[:10]}"


def test_verify_receipt_every_single_bit_flip_refused() -> None:
    receipt.verify_receipt(FIXTURE.encode(), [PETER.verifier])  # the original passes

    _never_passes(
        lambda damaged: receipt.verify_receipt(damaged, [PETER.verifier]),
        _flips(FIXTURE),
    )


def test_verify_receipt_every_bit_flip_of_other_checkpoint_and_proof_refused() -> None:
    other = _checkpoint(8)
    proof = json.dumps(
        {
            "from": 5,
            "to": 8,
            "hashes": [
                base64.b64encode(h).decode() for h in TREE.consistency_proof(5, 8)
            ],
        }
    )

    def verify(other_text: str | bytes, proof_text: str | bytes) -> None:
        old, new, hashes = receipt.parse_consistency_proof(proof_text)
        if (old, new) != (5, 8):
            raise ProofError("consistency", "the proof is for other sizes")
        receipt.verify_receipt(
            FIXTURE, [PETER.verifier], checkpoint=other_text, consistency_proof=hashes
        )

    verify(other, proof)  # the originals pass
    _never_passes(lambda damaged: verify(damaged, proof), _flips(other))
    _never_passes(lambda damaged: verify(other, damaged), _flips(proof))


def test_verify_receipt_single_key_string_accepted() -> None:
    assert receipt.verify_receipt(FIXTURE, PETER.verifier_key).index == 3
