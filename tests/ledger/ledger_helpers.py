"""Shared by the durable ledger's tests: a ledger on a fresh database."""

from __future__ import annotations

import sqlalchemy as sa

from govsvc.ledger import storage
from govsvc.ledger.keys import Signer
from govsvc.ledger.log import Ledger

ORIGIN = "test.govsvc.local/ledger"


def make_signer(name: str = ORIGIN, seed: bytes = b"\x01" * 32) -> Signer:
    """An Ed25519 signer with a fixed seed, so that tests are repeatable."""
    return Signer(name, seed)


def make_engine(url: str) -> sa.Engine:
    from govsvc.store.engine import make_engine as service_engine

    return service_engine(url)


def fresh_ledger(url: str, signer: object | None = None) -> Ledger:
    engine = make_engine(url)
    storage.metadata.create_all(engine)
    return Ledger(engine, signer or make_signer(), ORIGIN)
