"""Ed25519 keys in the C2SP signed-note encodings, key files and the key ring.

Key strings (C2SP signed-note, as golang.org/x/mod/sumdb/note prints them):

    verifier key   <name>+<hex key id>+<base64(0x01 || 32-byte public key)>
    signer key     PRIVATE+KEY+<name>+<hex key id>+<base64(0x01 || 32-byte seed)>

The key id is the first four bytes of SHA-256(name || 0x0A || 0x01 || public key);
0x01 is the signature type of Ed25519. A key name is non-empty UTF-8 holding neither
Unicode white space nor "+".

On disk, the signing key file holds the signer key string (so `note` tools of other
implementations can use it) and is created with mode 0600, atomically. Next to it,
`<key file>.pub` is the key ring: every verifier key this service has signed with,
one a line, oldest first. Rotation adds the new key and keeps the old ones, so that
old checkpoints still verify.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import stat
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

from govsvc.ledger.canonical import decode_base64, encode_base64
from govsvc.ledger.errors import KeyFileError, KeyFormatError

log = logging.getLogger(__name__)

ALG_ED25519 = 0x01  # C2SP signed-note signature type for Ed25519
KEY_SIZE = 32  # Ed25519 public keys and seeds
SIGNATURE_SIZE = 64
PRIVATE_PREFIX = "PRIVATE+KEY+"
KEY_FILE_MODE = 0o600
RING_SUFFIX = ".pub"


def check_key_name(name: str) -> None:
    """A C2SP key name: non-empty, no Unicode white space, no "+"."""
    if not name:
        raise KeyFormatError("a key name must not be empty")
    bad = next((c for c in name if c.isspace() or c == "+"), None)
    if bad is not None:
        raise KeyFormatError(
            f"key name {name!r} holds {bad!r}; a name has no white space and no '+'"
        )


def key_id(name: str, public_key: bytes) -> bytes:
    """SHA-256(name || 0x0A || 0x01 || public key)[:4], C2SP signed-note."""
    return hashlib.sha256(
        name.encode() + b"\n" + bytes([ALG_ED25519]) + public_key
    ).digest()[:4]


@dataclass(frozen=True)
class Verifier:
    """An Ed25519 verifier key with its name and key id."""

    name: str
    key_id: bytes
    public_key: bytes

    @classmethod
    def from_public_key(cls, name: str, public_key: bytes) -> Verifier:
        check_key_name(name)
        if len(public_key) != KEY_SIZE:
            raise KeyFormatError(
                f"an Ed25519 public key has {KEY_SIZE} bytes, found {len(public_key)}"
            )
        return cls(name, key_id(name, public_key), public_key)

    @property
    def key_string(self) -> str:
        """The signed-note verifier key: name+hex(key id)+base64(0x01 || key)."""
        blob = encode_base64(bytes([ALG_ED25519]) + self.public_key)
        return f"{self.name}+{self.key_id.hex()}+{blob}"

    def verify(self, message: bytes, signature: bytes) -> bool:
        """Whether `signature` (64 bytes, without key id) signs `message`."""
        if len(signature) != SIGNATURE_SIZE:
            return False
        try:
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(
                signature, message
            )
        except InvalidSignature:
            return False
        return True

    def __str__(self) -> str:
        return self.key_string


class Signer:
    """An Ed25519 signing key with its name; its repr never shows the seed."""

    def __init__(self, name: str, seed: bytes) -> None:
        check_key_name(name)
        if len(seed) != KEY_SIZE:
            raise KeyFormatError(
                f"an Ed25519 seed has {KEY_SIZE} bytes, found {len(seed)}"
            )
        self._private = Ed25519PrivateKey.from_private_bytes(seed)
        public_key = self._private.public_key().public_bytes(
            Encoding.Raw, PublicFormat.Raw
        )
        self.verifier = Verifier.from_public_key(name, public_key)

    @classmethod
    def generate(cls, name: str) -> Signer:
        seed = Ed25519PrivateKey.generate().private_bytes(
            Encoding.Raw, PrivateFormat.Raw, NoEncryption()
        )
        return cls(name, seed)

    @property
    def name(self) -> str:
        return self.verifier.name

    @property
    def key_id(self) -> bytes:
        return self.verifier.key_id

    @property
    def verifier_key(self) -> str:
        return self.verifier.key_string

    def sign(self, message: bytes) -> bytes:
        """The 64-byte Ed25519 signature of `message`."""
        return self._private.sign(message)

    def private_key_string(self) -> str:
        """PRIVATE+KEY+name+hex(key id)+base64(0x01 || seed): a secret; never log it."""
        seed = self._private.private_bytes(
            Encoding.Raw, PrivateFormat.Raw, NoEncryption()
        )
        blob = encode_base64(bytes([ALG_ED25519]) + seed)
        return f"{PRIVATE_PREFIX}{self.name}+{self.key_id.hex()}+{blob}"

    def __repr__(self) -> str:
        return f"Signer({self.verifier_key!r})"


def _split_key(text: str, what: str) -> tuple[str, bytes, bytes]:
    """name, key id and the decoded key blob of `name+hexid+base64`, all checked."""
    name, sep1, rest = text.partition("+")
    hex_id, sep2, blob64 = rest.partition("+")
    if not (sep1 and sep2):
        raise KeyFormatError(
            f"{what} must look like name+keyid+base64, found {len(text.split('+'))} "
            "'+'-separated fields"
        )
    check_key_name(name)
    if len(hex_id) != 8 or any(c not in "0123456789abcdef" for c in hex_id):
        raise KeyFormatError(
            f"{what} key id must be 8 lowercase hex digits, found {hex_id!r}"
        )
    blob = decode_base64(blob64, f"the base64 part of the {what}", KeyFormatError)
    # Only Ed25519 (signed-note type 0x01) is implemented: keys of other types
    # (ECDSA, as Sigstore's Rekor v1 uses; cosignature types) are refused here, and
    # signatures by them on a note are ignored as signatures by unknown keys.
    if not blob or blob[0] != ALG_ED25519:
        found = f"type {blob[0]:#04x}" if blob else "nothing"
        raise KeyFormatError(
            f"{what} key must start with signature type 0x01 (Ed25519), found {found}"
        )
    if len(blob) != 1 + KEY_SIZE:
        raise KeyFormatError(
            f"{what} key must be 1 + {KEY_SIZE} bytes, found {len(blob)} bytes"
        )
    return name, bytes.fromhex(hex_id), blob[1:]


def parse_verifier_key(text: str) -> Verifier:
    """A verifier from its signed-note string; KeyFormatError when malformed."""
    text = text.strip()
    name, claimed_id, public_key = _split_key(text, "verifier key")
    verifier = Verifier.from_public_key(name, public_key)
    if verifier.key_id != claimed_id:
        raise KeyFormatError(
            f"verifier key id {claimed_id.hex()} does not match its name and key "
            f"(computed {verifier.key_id.hex()})"
        )
    return verifier


def parse_signer_key(text: str) -> Signer:
    """A signer from `PRIVATE+KEY+name+hexid+base64(0x01 || seed)`."""
    text = text.strip()
    if not text.startswith(PRIVATE_PREFIX):
        raise KeyFormatError(f"a signer key starts with {PRIVATE_PREFIX!r}")
    name, claimed_id, seed = _split_key(text[len(PRIVATE_PREFIX) :], "signer key")
    signer = Signer(name, seed)
    if signer.key_id != claimed_id:
        raise KeyFormatError(
            f"signer key id {claimed_id.hex()} does not match its name and key "
            f"(computed {signer.key_id.hex()})"
        )
    return signer


# -- the key ring ------------------------------------------------------------------


class KeyRing:
    """Trusted verifier keys; a note verifies if any of them signed it."""

    def __init__(self, verifiers: Iterable[Verifier] = ()) -> None:
        self._verifiers: list[Verifier] = []
        for verifier in verifiers:
            self.add(verifier)

    def add(self, verifier: Verifier | str) -> Verifier:
        if isinstance(verifier, str):
            verifier = parse_verifier_key(verifier)
        if verifier not in self._verifiers:
            self._verifiers.append(verifier)
        return verifier

    def find(self, name: str, key_id: bytes) -> list[Verifier]:
        """Every trusted key with this name and key id (normally zero or one)."""
        return [v for v in self._verifiers if v.name == name and v.key_id == key_id]

    def __iter__(self) -> Iterator[Verifier]:
        return iter(self._verifiers)

    def __len__(self) -> int:
        return len(self._verifiers)

    def __contains__(self, verifier: object) -> bool:
        return verifier in self._verifiers

    def text(self) -> str:
        return "".join(f"{v.key_string}\n" for v in self._verifiers)


def parse_keyring(text: str, source: str = "key ring") -> KeyRing:
    """Verifier keys one a line; blank lines and lines starting with # are skipped."""
    ring = KeyRing()
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        try:
            ring.add(parse_verifier_key(line))
        except KeyFormatError as exc:
            raise KeyFormatError(f"{source}, line {number}: {exc}") from exc
    return ring


def load_keyring(path: Path) -> KeyRing:
    """The verifier keys in a file (see `parse_keyring`)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise KeyFileError(f"cannot read the key ring {path}: {exc}") from exc
    return parse_keyring(text, str(path))


def ring_path(key_path: Path) -> Path:
    """Where the key ring of a signing key file lives: `<key file>.pub`."""
    return key_path.with_name(key_path.name + RING_SUFFIX)


# -- key files ----------------------------------------------------------------------


def _write_atomic(path: Path, data: str, mode: int, *, replace: bool) -> bool:
    """Write `data` to `path` via a temporary file in the same directory.

    With `replace`, the file is swapped in with os.replace. Without it, os.link
    publishes the file only if `path` does not exist yet, so two processes starting
    together cannot overwrite each other's key; returns False when `path` existed.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        if replace:
            os.replace(tmp, path)
            return True
        try:
            os.link(tmp, path)
        except FileExistsError:
            return False
        return True
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def load_signer(path: Path) -> Signer:
    """The signer in a key file; KeyFileError when unreadable or malformed."""
    try:
        text = path.read_text(encoding="utf-8")
        mode = path.stat().st_mode
    except (OSError, UnicodeDecodeError) as exc:
        raise KeyFileError(f"cannot read the signing key {path}: {exc}") from exc
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        # Warn rather than refuse: secret mounts (Kubernetes, Docker) often default
        # to 0644, and refusing would stop the service over a deployment detail.
        log.warning(
            "signing key %s is readable by others (mode %o); use mode 600",
            path,
            stat.S_IMODE(mode),
        )
    try:
        return parse_signer_key(text)
    except KeyFormatError as exc:
        raise KeyFileError(f"the signing key {path} is malformed: {exc}") from exc


def _add_to_ring(key_path: Path, verifier: Verifier) -> None:
    path = ring_path(key_path)
    ring = load_keyring(path) if path.exists() else KeyRing()
    if verifier not in ring:
        ring.add(verifier)
        _write_atomic(path, ring.text(), 0o644, replace=True)


def load_or_create_signer(path: Path, name: str) -> Signer:
    """The signer in `path`, created (mode 0600) with `name` when the file is absent.

    A key file that exists but names another key is an error: the checkpoint key
    name comes from configuration, and signing with a key of another name would
    make checkpoints no verifier expects.
    """
    if not path.exists():
        created = Signer.generate(name)
        if _write_atomic(
            path, created.private_key_string() + "\n", KEY_FILE_MODE, replace=False
        ):
            log.info("created signing key %s for %s", path, created.verifier_key)
    signer = load_signer(path)
    if signer.name != name:
        raise KeyFileError(
            f"the signing key {path} is for {signer.name!r}, but the configured key "
            f"name is {name!r}; set GOVSVC_KEY_NAME to match or rotate the key"
        )
    _add_to_ring(path, signer.verifier)
    return signer


def rotate_signer(path: Path, name: str) -> Signer:
    """Replace the key in `path` with a new one, keeping the old verifier key.

    The old verifier key stays in the key ring so that checkpoints it signed still
    verify; the new key signs from now on.
    """
    if path.exists():
        _add_to_ring(path, load_signer(path).verifier)
    signer = Signer.generate(name)
    _write_atomic(path, signer.private_key_string() + "\n", KEY_FILE_MODE, replace=True)
    _add_to_ring(path, signer.verifier)
    log.info("rotated signing key %s to %s", path, signer.verifier_key)
    return signer
