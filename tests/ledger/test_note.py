"""C2SP signed notes and tlog-checkpoints: Go's examples, real sum.golang.org
checkpoints, round trips, and malformed input."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from govsvc.ledger import keys, note
from govsvc.ledger.errors import NoteFormatError, SignatureError

TESTDATA = Path(__file__).parent / "testdata"
SUMDB = json.loads((TESTDATA / "sumdb_checkpoints.json").read_text(encoding="utf-8"))

# golang.org/x/mod/sumdb/note: the example keys, text and signatures of its
# documentation and note_test.go.
PETER_SKEY = (
    "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
)
PETER_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
ENOCH_VKEY = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop"
TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
PETER_SIG = (
    "\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2p"
    "ZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
)
ENOCH_SIG = (
    "\u2014 EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5o"
    "vTG01oOTGwnWLox33WWd1RvMc+QQ=\n"
)
PETER = keys.parse_verifier_key(PETER_VKEY)
ENOCH = keys.parse_verifier_key(ENOCH_VKEY)


def test_sign_note_go_example_known_answer() -> None:
    signer = keys.parse_signer_key(PETER_SKEY)

    assert note.sign_note(TEXT, signer) == TEXT + "\n" + PETER_SIG


def test_open_note_one_trusted_one_unknown() -> None:
    opened = note.open_note(TEXT + "\n" + PETER_SIG + ENOCH_SIG, [PETER_VKEY])

    assert opened.text == TEXT
    assert opened.verified == (PETER,)
    assert [(s.name, s.key_id.hex()) for s in opened.unverified] == [
        ("EnochRoot", "af0cfe78")
    ]


def test_open_note_both_trusted() -> None:
    opened = note.open_note(
        TEXT + "\n" + PETER_SIG + ENOCH_SIG, [PETER_VKEY, ENOCH_VKEY]
    )

    assert opened.verified == (PETER, ENOCH)
    assert opened.unverified == ()


def test_open_note_no_trusted_signature_fails_closed() -> None:
    with pytest.raises(SignatureError, match="no signature by a trusted key") as info:
        note.open_note(TEXT + "\n" + PETER_SIG + ENOCH_SIG, [])

    assert info.value.found == "[PeterNeumann+c74f20a3, EnochRoot+af0cfe78]"
    assert info.value.expected == "one of [none]"


def test_open_note_known_key_bad_signature_rejects_note() -> None:
    # Go's test inserts "ABCD" (a 67-byte signature); a changed character keeps
    # the length and must fail the Ed25519 check itself.
    inserted = PETER_SIG[:60] + "ABCD" + PETER_SIG[60:]
    changed = PETER_SIG[:60] + ("B" if PETER_SIG[60] != "B" else "C") + PETER_SIG[61:]

    with pytest.raises(SignatureError, match="has the wrong length for Ed25519"):
        note.open_note(TEXT + "\n" + inserted + ENOCH_SIG, [PETER_VKEY])
    with pytest.raises(
        SignatureError, match=r"by trusted key PeterNeumann\+c74f20a3 does not verify"
    ):
        note.open_note(TEXT + "\n" + changed + ENOCH_SIG, [PETER_VKEY])


def test_open_note_known_key_short_signature_says_length() -> None:
    short = (
        "\u2014 PeterNeumann "
        + base64.b64encode(bytes.fromhex("c74f20a3") + bytes(63)).decode()
    )

    with pytest.raises(SignatureError, match="wrong length") as info:
        note.open_note(TEXT + "\n" + short + "\n", [PETER_VKEY])

    assert (info.value.expected, info.value.found) == ("64 bytes", "63 bytes")


def test_open_note_repeated_signatures_count_once() -> None:
    enoch_abcd = ENOCH_SIG[:60] + "ABCD" + ENOCH_SIG[60:]
    signed = TEXT + "\n" + PETER_SIG + PETER_SIG + ENOCH_SIG + ENOCH_SIG + enoch_abcd

    opened = note.open_note(signed, [PETER_VKEY])

    assert opened.verified == (PETER,)
    assert len(opened.unverified) == 2


def test_open_note_other_key_same_name_rejected() -> None:
    impostor = keys.Signer.generate("PeterNeumann")
    signed = note.sign_note(TEXT, impostor)

    with pytest.raises(SignatureError, match="no signature by a trusted key"):
        note.open_note(signed, [PETER_VKEY])


@pytest.mark.parametrize(
    ("signed", "message"),
    [
        (TEXT, "no blank line between its text and its signatures"),
        (TEXT + "\n", "no signature lines after its blank line"),
        (TEXT + "\n" + PETER_SIG[:-1], "must end with a newline"),
        ("\x01" + TEXT + "\n" + PETER_SIG, "control character '\\\\x01' on line 1"),
        (b"\xff" + (TEXT + "\n" + PETER_SIG).encode(), "not UTF-8: byte 0 is 0xff"),
        (
            TEXT + "\n" + PETER_SIG.replace("PeterNeumann", "Bad Name"),
            "signature line 1 signature is not valid base64",
        ),
        (
            TEXT + "\n" + PETER_SIG + "Unexpected line.\n",
            "signature line 2 must start with an em dash",
        ),
        (TEXT + "\n" + PETER_SIG.replace("\u2014", "--"), "em dash"),
        (TEXT + "\n\u2014 PeterNeumann\n", "found no space"),
        (
            TEXT + "\n\u2014 PeterNeumann x08go/ZJ=\n",
            "signature line 1 signature is not",
        ),
        (
            TEXT + "\n\u2014 PeterNeumann AAAAAA==\n",
            "holds 4 bytes; expected a 4-byte key id",
        ),
        (TEXT + "\n" + PETER_SIG * 101, "101 signatures, more than the 100 allowed"),
        ("", "the note text is empty"),
        ("x" * (note.MAX_NOTE_BYTES + 1), "more than the 1048576 allowed"),
        ("ab\ud800\n\n" + PETER_SIG, "lone surrogate"),
        (TEXT + "\r\n" + PETER_SIG, "control character '\\\\r'"),
    ],
)
def test_parse_note_malformed_rejected(signed: str | bytes, message: str) -> None:
    with pytest.raises(NoteFormatError, match=message):
        note.open_note(signed, [PETER_VKEY])


def test_sign_note_rejects_bad_text() -> None:
    signer = keys.parse_signer_key(PETER_SKEY)

    with pytest.raises(NoteFormatError, match="must end with a newline"):
        note.sign_note("abc", signer)
    with pytest.raises(NoteFormatError, match="control character"):
        note.sign_note("a\tb\n", signer)


def test_note_round_trip_several_signers() -> None:
    first, second = keys.Signer.generate("log.example"), keys.Signer.generate("witness")
    signed = note.sign_note("hello\nworld\n", first, second)

    parsed = note.parse_note(signed)

    assert parsed.render() == signed
    assert [s.name for s in parsed.signatures] == ["log.example", "witness"]
    assert note.open_note(signed, [second.verifier]).verified == (second.verifier,)


# -- checkpoints ---------------------------------------------------------------------


@pytest.mark.parametrize("text", SUMDB["valid"], ids=lambda t: t.split("\n")[1])
def test_open_checkpoint_real_sum_golang_org(text: str) -> None:
    verified = note.open_checkpoint(
        text, [SUMDB["verifier_key"]], origin=SUMDB["origin"]
    )

    size, root = text.split("\n")[1:3]
    assert verified.checkpoint.origin == "go.sum database tree"
    assert verified.checkpoint.size == int(size)
    assert verified.checkpoint.root == base64.b64decode(root)
    assert verified.checkpoint.body() == note.parse_note(text).text


def test_open_checkpoint_unknown_cosigner_ignored() -> None:
    cosigned = next(t for t in SUMDB["valid"] if "test.example.com" in t)

    verified = note.open_checkpoint(cosigned, [SUMDB["verifier_key"]])

    assert [s.name for s in verified.note.unverified] == ["test.example.com"]


def test_open_checkpoint_doctored_sum_golang_org_rejected() -> None:
    with pytest.raises(SignatureError, match="does not verify"):
        note.open_checkpoint(SUMDB["doctored"], [SUMDB["verifier_key"]])


def test_open_checkpoint_other_origin_rejected() -> None:
    with pytest.raises(SignatureError, match=r"checkpoint origin.*for another log"):
        note.open_checkpoint(SUMDB["valid"][0], [SUMDB["verifier_key"]], origin="x")


def test_checkpoint_round_trip_with_extensions() -> None:
    signer = keys.Signer.generate("govsvc.test/ledger")
    checkpoint = note.Checkpoint(
        "govsvc.test/ledger", 41, bytes(range(32)), ("ext one",)
    )

    signed = note.sign_checkpoint(checkpoint, signer)

    assert signed.startswith(
        "govsvc.test/ledger\n41\n"
        "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\next one\n\n"
    )
    assert note.open_checkpoint(signed, [signer.verifier_key]).checkpoint == checkpoint


ROOT64 = base64.b64encode(bytes(32)).decode()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("origin\n5\n", "at least 3 lines.*found 2"),
        (f"\n5\n{ROOT64}\n", "line 1: the origin is empty"),
        (f"origin\n05\n{ROOT64}\n", "leading zero"),
        (f"origin\n-5\n{ROOT64}\n", "decimal digits, found '-5'"),
        (f"origin\n5 \n{ROOT64}\n", "decimal digits"),
        (f"origin\n\u0665\n{ROOT64}\n", "decimal digits"),  # an Arabic-Indic five
        (f"origin\n{2**64}\n{ROOT64}\n", "exceeds 2\\*\\*64-1"),
        ("origin\n5\nAAAA\n", "root hash has 3 bytes, expected 32"),
        ("origin\n5\nnot base64!\n", "root hash is not valid base64"),
        (f"origin\n5\n{ROOT64}\n\nx\n", "line 4: an extension line is empty"),
    ],
)
def test_parse_checkpoint_body_malformed(body: str, message: str) -> None:
    with pytest.raises(NoteFormatError, match=message):
        note.parse_checkpoint_body(body)


def test_parse_checkpoint_body_size_zero_allowed() -> None:
    assert note.parse_checkpoint_body(f"o\n0\n{ROOT64}\n").size == 0
