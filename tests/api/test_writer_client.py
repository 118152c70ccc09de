"""A worker's `WriterClient` against a real writer process that stops answering."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import pytest

from govsvc.api import writer
from govsvc.api.app import prepare
from govsvc.settings import load_settings
from govsvc.store.errors import Unavailable

from .helpers import GATE_POLICY


def test_a_writer_that_stops_answering_gets_a_503(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    policies = tmp_path / "policies"
    policies.mkdir()
    (policies / "gate.policy").write_text(GATE_POLICY)
    # The writer process reads its settings from the environment, as serve's do.
    monkeypatch.setenv("GOVSVC_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("GOVSVC_POLICIES_DIR", str(policies))
    monkeypatch.setenv("GOVSVC_DATABASE_URL", "")

    prepare(load_settings())
    monkeypatch.setattr(writer, "ANSWER_TIMEOUT_SECONDS", 0.5)
    process = writer.WriterProcess().start()

    async def ask() -> None:
        client = writer.WriterClient(process.path)
        try:
            await client.record(("anything",))
        finally:
            await client.close()

    try:
        os.kill(process._process.pid, signal.SIGSTOP)
        with pytest.raises(Unavailable, match=r"did not answer in 0\.5 s"):
            asyncio.run(ask())
        os.kill(process._process.pid, signal.SIGCONT)
    finally:
        process.stop()

    assert not Path(process.path).exists()
