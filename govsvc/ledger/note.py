"""C2SP signed notes (https://c2sp.org/signed-note) and checkpoints (tlog-checkpoint).

A signed note is a text, a blank line, and one or more signature lines:

    <text, ending in a newline>
    <blank line>
    — <key name> <base64(4-byte key id || signature)>
    ...

The text is non-empty UTF-8 ending in a newline, with no ASCII control character
but the newline; the signatures cover the text bytes, final newline included. A
verifier ignores signatures by keys it does not know, rejects the note if a
signature by a key it knows does not verify, and accepts it only when at least one
trusted signature does: the same rules as Go's golang.org/x/mod/sumdb/note.Open.

A checkpoint (https://c2sp.org/tlog-checkpoint) is a signed note whose text is

    <origin>
    <tree size, decimal>
    <root hash, base64>
    [extension lines]

Parsing is strict and says what was wrong and where; verification is fail-closed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from govsvc.ledger.canonical import decode_base64, encode_base64
from govsvc.ledger.errors import KeyFormatError, NoteFormatError, SignatureError
from govsvc.ledger.keys import (
    SIGNATURE_SIZE,
    KeyRing,
    Signer,
    Verifier,
    check_key_name,
)
from govsvc.ledger.merkle import HASH_SIZE

SIGNATURE_PREFIX = "\u2014 "  # em dash and a space
MAX_SIGNATURES = 100  # Go's note.Open rejects more, to bound the work per note
MAX_NOTE_BYTES = 1 << 20  # a defensive bound; real checkpoints are a few hundred
KEY_ID_SIZE = 4
MAX_TREE_SIZE = (1 << 64) - 1  # sizes are uint64 in every tlog implementation


@dataclass(frozen=True)
class NoteSignature:
    """One signature line: the key's name and id, and the signature bytes."""

    name: str
    key_id: bytes
    signature: bytes

    def line(self) -> str:
        blob = encode_base64(self.key_id + self.signature)
        return f"{SIGNATURE_PREFIX}{self.name} {blob}\n"


@dataclass(frozen=True)
class Note:
    """A parsed (not yet verified) signed note."""

    text: str
    signatures: tuple[NoteSignature, ...]

    def render(self) -> str:
        return self.text + "\n" + "".join(s.line() for s in self.signatures)


@dataclass(frozen=True)
class OpenedNote:
    """A note with at least one trusted signature verified."""

    text: str
    verified: tuple[Verifier, ...]
    unverified: tuple[NoteSignature, ...]


def _check_text(text: str, where: str) -> None:
    if not text:
        raise NoteFormatError(f"{where}: the note text is empty")
    if not text.endswith("\n"):
        raise NoteFormatError(f"{where}: the note text must end with a newline")
    for i, c in enumerate(text):
        if c < " " and c != "\n":
            line = text.count("\n", 0, i) + 1
            raise NoteFormatError(
                f"{where}: control character {c!r} on line {line}; a note holds no "
                "control characters but newlines"
            )


def _decode(data: str | bytes) -> str:
    if isinstance(data, bytes):
        if len(data) > MAX_NOTE_BYTES:
            raise NoteFormatError(
                f"the note has {len(data)} bytes, more than the {MAX_NOTE_BYTES} "
                "allowed"
            )
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise NoteFormatError(
                f"the note is not UTF-8: byte {exc.start} is {data[exc.start]:#04x}"
            ) from exc
    if len(data) > MAX_NOTE_BYTES:
        raise NoteFormatError(
            f"the note has {len(data)} characters, more than the {MAX_NOTE_BYTES} "
            "allowed"
        )
    # A str from a lenient decoder may carry lone surrogates: not UTF-8 either.
    try:
        data.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise NoteFormatError(
            f"the note is not UTF-8: character {exc.start} is a lone surrogate"
        ) from exc
    return data


def _parse_signature_line(line: str, number: int) -> NoteSignature:
    where = f"signature line {number}"
    if not line.startswith(SIGNATURE_PREFIX):
        raise NoteFormatError(
            f"{where} must start with an em dash (U+2014) and a space, "
            f"found {line[:12]!r}"
        )
    name, sep, blob64 = line[len(SIGNATURE_PREFIX) :].partition(" ")
    if not sep:
        raise NoteFormatError(f"{where} must be '— <name> <base64>', found no space")
    try:
        check_key_name(name)
    except KeyFormatError as exc:
        raise NoteFormatError(f"{where}: {exc}") from exc
    blob = decode_base64(blob64, f"{where} signature", NoteFormatError)
    if len(blob) <= KEY_ID_SIZE:
        raise NoteFormatError(
            f"{where} holds {len(blob)} bytes; expected a {KEY_ID_SIZE}-byte key id "
            "and a signature"
        )
    return NoteSignature(name, blob[:KEY_ID_SIZE], blob[KEY_ID_SIZE:])


def parse_note(data: str | bytes) -> Note:
    """Split a signed note into its text and signatures, checking the syntax only."""
    note = _decode(data)
    _check_text(note, "the signed note")

    # The signatures start after the last blank line (Go's note.Open does the same);
    # a signature line never holds a newline, so the split is unambiguous.
    split = note.rfind("\n\n")
    if split < 0:
        raise NoteFormatError(
            "the note has no blank line between its text and its signatures"
        )
    text, block = note[: split + 1], note[split + 2 :]
    if not block:
        raise NoteFormatError("the note has no signature lines after its blank line")

    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise NoteFormatError(
            f"the note has {len(lines)} signatures, more than the {MAX_SIGNATURES} "
            "allowed"
        )
    signatures = tuple(
        _parse_signature_line(line, i) for i, line in enumerate(lines, 1)
    )
    return Note(text, signatures)


def sign_note(text: str, *signers: Signer) -> str:
    """The signed note of `text` with one signature per signer, in order."""
    _check_text(text, "the text to sign")
    if not signers:
        raise ValueError("sign_note needs at least one signer")
    message = text.encode("utf-8")
    signatures = tuple(
        NoteSignature(s.name, s.key_id, s.sign(message)) for s in signers
    )
    return Note(text, signatures).render()


def _as_ring(trusted: KeyRing | Iterable[Verifier | str]) -> KeyRing:
    if isinstance(trusted, KeyRing):
        return trusted
    if isinstance(trusted, str):
        # One key string, not an iterable of one-character "keys".
        trusted = [trusted]
    ring = KeyRing()
    for key in trusted:
        ring.add(key)
    return ring


def open_note(
    data: str | bytes | Note, trusted: KeyRing | Iterable[Verifier | str]
) -> OpenedNote:
    """Parse a note and verify its signatures against `trusted` keys.

    Fail-closed: raises SignatureError when no trusted key signed it, when a trusted
    key's signature does not verify, or when two trusted keys share a name and id.
    """
    note = data if isinstance(data, Note) else parse_note(data)
    ring = _as_ring(trusted)
    message = note.text.encode("utf-8")

    verified: list[Verifier] = []
    unverified: list[NoteSignature] = []
    for sig in note.signatures:
        matches = ring.find(sig.name, sig.key_id)
        if not matches:
            if sig not in unverified:
                unverified.append(sig)
            continue
        if len(matches) > 1:
            raise SignatureError(
                "signature",
                f"two trusted keys share the name and id {sig.name}+{sig.key_id.hex()}",
            )
        verifier = matches[0]
        if verifier in verified:
            continue  # a repeated signature by one key counts once
        if len(sig.signature) != SIGNATURE_SIZE:
            raise SignatureError(
                "signature",
                f"the signature by trusted key {sig.name}+{sig.key_id.hex()} has the "
                "wrong length for Ed25519",
                expected=f"{SIGNATURE_SIZE} bytes",
                found=f"{len(sig.signature)} bytes",
            )
        if not verifier.verify(message, sig.signature):
            raise SignatureError(
                "signature",
                f"the signature by trusted key {sig.name}+{sig.key_id.hex()} does not "
                "verify: the note was changed after signing, or signed by another key "
                "of the same name",
            )
        verified.append(verifier)

    if not verified:
        signed_by = ", ".join(f"{s.name}+{s.key_id.hex()}" for s in note.signatures)
        trusted_keys = ", ".join(f"{v.name}+{v.key_id.hex()}" for v in ring) or "none"
        raise SignatureError(
            "signature",
            "no signature by a trusted key",
            expected=f"one of [{trusted_keys}]",
            found=f"[{signed_by}]",
        )
    return OpenedNote(note.text, tuple(verified), tuple(unverified))


# -- checkpoints (C2SP tlog-checkpoint) ---------------------------------------------


@dataclass(frozen=True)
class Checkpoint:
    """The body of a checkpoint: origin, tree size, root hash and extension lines."""

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def body(self) -> str:
        """The note text: each line ends in a newline, the last one included."""
        lines = [
            self.origin,
            str(self.size),
            encode_base64(self.root),
            *self.extensions,
        ]
        return "".join(f"{line}\n" for line in lines)


@dataclass(frozen=True)
class VerifiedCheckpoint:
    """A checkpoint whose note carries at least one verified trusted signature."""

    checkpoint: Checkpoint
    note: OpenedNote
    text: str  # the whole signed note, as received


def parse_checkpoint_body(text: str) -> Checkpoint:
    """A checkpoint from a note text; NoteFormatError naming the bad line."""
    _check_text(text, "the checkpoint")
    lines = text[:-1].split("\n")
    if len(lines) < 3:
        raise NoteFormatError(
            "a checkpoint has at least 3 lines (origin, size, root), "
            f"found {len(lines)}"
        )
    origin, size_text, root_text, *extensions = lines

    if not origin:
        raise NoteFormatError("checkpoint line 1: the origin is empty")
    # tlog-checkpoint: the size is ASCII decimal without leading zeros.
    if not size_text.isascii() or not size_text.isdigit():
        raise NoteFormatError(
            "checkpoint line 2: the tree size must be decimal digits, "
            f"found {size_text!r}"
        )
    if len(size_text) > 1 and size_text[0] == "0":
        raise NoteFormatError(
            f"checkpoint line 2: the tree size has a leading zero: {size_text!r}"
        )
    size = int(size_text)
    if size > MAX_TREE_SIZE:
        raise NoteFormatError(
            f"checkpoint line 2: the tree size {size} exceeds 2**64-1"
        )
    root = decode_base64(root_text, "checkpoint line 3: the root hash", NoteFormatError)
    if len(root) != HASH_SIZE:
        raise NoteFormatError(
            f"checkpoint line 3: the root hash has {len(root)} bytes, "
            f"expected {HASH_SIZE}"
        )
    for number, line in enumerate(extensions, 4):
        if not line:
            raise NoteFormatError(
                f"checkpoint line {number}: an extension line is empty"
            )
    return Checkpoint(origin, size, root, tuple(extensions))


def sign_checkpoint(checkpoint: Checkpoint, *signers: Signer) -> str:
    """The checkpoint as a signed note."""
    return sign_note(checkpoint.body(), *signers)


def open_checkpoint(
    data: str | bytes,
    trusted: KeyRing | Iterable[Verifier | str],
    *,
    origin: str | None = None,
) -> VerifiedCheckpoint:
    """Verify a signed checkpoint and parse its body.

    Signatures first, then the body: nothing in an unsigned text is worth reading.
    With `origin`, the checkpoint must be for that log.
    """
    text = _decode(data)
    opened = open_note(text, trusted)
    checkpoint = parse_checkpoint_body(opened.text)
    if origin is not None and checkpoint.origin != origin:
        raise SignatureError(
            "checkpoint origin",
            "the checkpoint is for another log",
            expected=repr(origin),
            found=repr(checkpoint.origin),
        )
    return VerifiedCheckpoint(checkpoint, opened, text)
