"""Shared by the durable ledger's tests: a ledger on a fresh database."""

from __future__ import annotations

import hashlib

import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from govsvc.ledger import storage
from govsvc.ledger.log import Ledger

ORIGIN = "test.govsvc.local/ledger"


class TestSigner:
    """An Ed25519 signer with a fixed seed, so that tests are repeatable."""

    __test__ = False

    def __init__(self, name: str = ORIGIN, seed: bytes = b"\x01" * 32) -> None:
        import base64

        self.name = name
        self._key = Ed25519PrivateKey.from_private_bytes(seed)
        public = self._key.public_key().public_bytes_raw()
        self.key_id = hashlib.sha256(name.encode() + b"\n\x01" + public).digest()[:4]
        encoded = base64.b64encode(b"\x01" + public).decode()
        self.verifier_key = f"{name}+{self.key_id.hex()}+{encoded}"

    def sign(self, message: bytes) -> bytes:
        return self._key.sign(message)


def make_engine(url: str) -> sa.Engine:
    from govsvc.store.engine import make_engine as service_engine

    return service_engine(url)


def fresh_ledger(url: str, signer: object | None = None) -> Ledger:
    engine = make_engine(url)
    storage.metadata.create_all(engine)
    return Ledger(engine, signer or TestSigner(), ORIGIN)
