"""Signed-note key strings, key files and the key ring."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

import pytest

from govsvc.ledger import keys
from govsvc.ledger.errors import KeyFileError, KeyFormatError

# The example keys of golang.org/x/mod/sumdb/note (its documentation and tests).
PETER_SKEY = (
    "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
)
PETER_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
ENOCH_VKEY = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop"
# The published key of Go's checksum database (cmd/go's built-in GOSUMDB key).
SUMDB_VKEY = "sum.golang.org+033de0ae+Ac4zctda0e5eza+HJyk9SxEdh+s3Ux18htTTAD8OuAn8"


@pytest.mark.parametrize("vkey", [PETER_VKEY, ENOCH_VKEY, SUMDB_VKEY])
def test_parse_verifier_key_published_keys_round_trip(vkey: str) -> None:
    verifier = keys.parse_verifier_key(vkey)

    assert verifier.key_string == vkey
    assert verifier.key_id.hex() == vkey.split("+")[1]


def test_parse_signer_key_go_example_matches_its_verifier() -> None:
    signer = keys.parse_signer_key(PETER_SKEY)

    assert signer.name == "PeterNeumann"
    assert signer.key_id == bytes.fromhex("c74f20a3")
    assert signer.verifier_key == PETER_VKEY
    assert signer.private_key_string() == PETER_SKEY


def test_signer_sign_verifies_and_corruption_fails() -> None:
    signer = keys.Signer.generate("EnochRoot")
    verifier = keys.parse_verifier_key(signer.verifier_key)
    signature = signer.sign(b"hi")

    assert verifier.verify(b"hi", signature)
    assert not verifier.verify(b"hj", signature)
    assert not verifier.verify(b"hi", bytes([signature[0] ^ 1]) + signature[1:])
    assert not verifier.verify(b"hi", signature[:-1])


def test_signer_repr_hides_the_seed() -> None:
    signer = keys.parse_signer_key(PETER_SKEY)

    assert "AYEKFALV" not in repr(signer)
    assert PETER_VKEY in repr(signer)


def test_parse_verifier_key_every_substring_and_increment_rejected() -> None:
    # As the Go tests do: no proper substring and no one-character change parses.
    for i in range(len(PETER_VKEY) + 1):
        for j in range(i + 1, len(PETER_VKEY) + 1):
            if (i, j) != (0, len(PETER_VKEY)):
                with pytest.raises(KeyFormatError):
                    keys.parse_verifier_key(PETER_VKEY[i:j])
    for i in range(len(PETER_VKEY)):
        changed = PETER_VKEY[:i] + chr(ord(PETER_VKEY[i]) + 1) + PETER_VKEY[i + 1 :]
        with pytest.raises(KeyFormatError):
            keys.parse_verifier_key(changed)


def test_parse_signer_key_every_increment_rejected() -> None:
    for i in range(len(PETER_SKEY)):
        changed = PETER_SKEY[:i] + chr(ord(PETER_SKEY[i]) + 1) + PETER_SKEY[i + 1 :]
        with pytest.raises(KeyFormatError):
            keys.parse_signer_key(changed)


@pytest.mark.parametrize(
    ("vkey", "message"),
    [
        ("PeterNeumann", "name\\+keyid\\+base64, found 1"),
        ("+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "must not be empty"),
        ("Peter Neumann+c74f20a3+AA==", "no white space and no '\\+'"),
        (
            "PeterNeumann+C74F20A3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
            "lowercase hex",
        ),
        (
            "PeterNeumann+c74f20a+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
            "8 lowercase hex",
        ),
        (
            "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10T",
            "padding",
        ),
        # Go's tests: a wrong-length key and an unknown algorithm, ids adjusted.
        (
            "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==",
            "not canonical base64",
        ),
        (
            "PeterNeumann+00000000+AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==",
            r"1 \+ 32 bytes, found 34",
        ),
        (
            "PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
            "type 0x65",
        ),
        (
            "PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
            "does not match",
        ),
    ],
)
def test_parse_verifier_key_malformed_says_why(vkey: str, message: str) -> None:
    with pytest.raises(KeyFormatError, match=message):
        keys.parse_verifier_key(vkey)


def test_parse_signer_key_without_prefix_rejected() -> None:
    with pytest.raises(KeyFormatError, match="starts with 'PRIVATE\\+KEY\\+'"):
        keys.parse_signer_key(PETER_VKEY)


# -- key files ------------------------------------------------------------------------


def test_load_or_create_signer_creates_0600_file_and_ring(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "signing.key"

    signer = keys.load_or_create_signer(path, "govsvc.test/ledger")

    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text() == signer.private_key_string() + "\n"
    assert list(keys.load_keyring(keys.ring_path(path))) == [signer.verifier]
    assert sorted(p.name for p in path.parent.iterdir()) == [
        "signing.key",
        "signing.key.pub",
    ]


def test_load_or_create_signer_second_start_loads_same_key(tmp_path: Path) -> None:
    path = tmp_path / "signing.key"
    first = keys.load_or_create_signer(path, "govsvc.test/ledger")

    second = keys.load_or_create_signer(path, "govsvc.test/ledger")

    assert second.verifier == first.verifier
    assert len(keys.load_keyring(keys.ring_path(path))) == 1


def test_load_or_create_signer_other_name_refused(tmp_path: Path) -> None:
    path = tmp_path / "signing.key"
    keys.load_or_create_signer(path, "govsvc.test/ledger")

    with pytest.raises(
        KeyFileError, match=r"is for 'govsvc.test/ledger'.*GOVSVC_KEY_NAME"
    ):
        keys.load_or_create_signer(path, "other.test/ledger")


def test_load_signer_malformed_file_names_path(tmp_path: Path) -> None:
    path = tmp_path / "signing.key"
    path.write_text("not a key\n")

    with pytest.raises(KeyFileError, match=f"{path} is malformed: a signer key starts"):
        keys.load_signer(path)


def test_load_signer_missing_file_says_so(tmp_path: Path) -> None:
    with pytest.raises(
        KeyFileError, match=r"cannot read the signing key .*No such file"
    ):
        keys.load_signer(tmp_path / "absent.key")


def test_load_signer_readable_by_others_warns(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "signing.key"
    path.write_text(PETER_SKEY + "\n")
    os.chmod(path, 0o644)

    with caplog.at_level(logging.WARNING, logger="govsvc.ledger.keys"):
        signer = keys.load_signer(path)

    assert signer.verifier_key == PETER_VKEY
    assert "readable by others (mode 644)" in caplog.text
    assert "AYEKFALV" not in caplog.text


def test_rotate_signer_keeps_old_verifier_in_ring(tmp_path: Path) -> None:
    path = tmp_path / "signing.key"
    old = keys.load_or_create_signer(path, "govsvc.test/ledger")

    new = keys.rotate_signer(path, "govsvc.test/ledger")

    assert new.verifier != old.verifier
    assert keys.load_signer(path).verifier == new.verifier
    assert list(keys.load_keyring(keys.ring_path(path))) == [old.verifier, new.verifier]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_write_atomic_leaves_no_temporary_files(tmp_path: Path) -> None:
    path = tmp_path / "signing.key"
    keys.load_or_create_signer(path, "govsvc.test/ledger")
    keys.rotate_signer(path, "govsvc.test/ledger")

    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "signing.key",
        "signing.key.pub",
    ]


# -- the key ring -------------------------------------------------------------------


def test_parse_keyring_skips_comments_and_duplicates() -> None:
    ring = keys.parse_keyring(
        f"# trusted\n\n{PETER_VKEY}\n  {ENOCH_VKEY}  \n{PETER_VKEY}\n"
    )

    assert [v.key_string for v in ring] == [PETER_VKEY, ENOCH_VKEY]
    assert ring.find("PeterNeumann", bytes.fromhex("c74f20a3")) == [
        keys.parse_verifier_key(PETER_VKEY)
    ]
    assert ring.find("PeterNeumann", bytes.fromhex("c74f20a4")) == []


def test_parse_keyring_bad_line_named() -> None:
    with pytest.raises(KeyFormatError, match=r"ring\.pub, line 2: verifier key"):
        keys.parse_keyring(f"{PETER_VKEY}\nPeterNeumann+00000000+AA==\n", "ring.pub")
