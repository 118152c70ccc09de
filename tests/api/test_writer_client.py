"""A worker's `WriterClient` against a real writer process that stops answering, and
the writer process's own start and stop."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from pathlib import Path

import pytest

from govsvc.api import writer
from govsvc.api.app import prepare
from govsvc.settings import load_settings
from govsvc.store.errors import Unavailable

from .helpers import GATE_POLICY


@pytest.fixture
def prepared(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A data directory after the first start, named in the environment: the writer
    process reads its settings from there, as serve's do."""
    policies = tmp_path / "policies"
    policies.mkdir()
    (policies / "gate.policy").write_text(GATE_POLICY)
    monkeypatch.setenv("GOVSVC_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("GOVSVC_POLICIES_DIR", str(policies))
    monkeypatch.setenv("GOVSVC_DATABASE_URL", "")
    prepare(load_settings())


@pytest.mark.usefixtures("prepared")
def test_a_writer_that_stops_answering_gets_a_503(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
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


@pytest.mark.usefixtures("prepared")
def test_stop_ends_the_writer_process_without_killing_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    process = writer.WriterProcess().start()
    child = process._process
    watcher = process._watcher
    assert watcher is not None and watcher.is_alive()

    with caplog.at_level(logging.INFO, logger="govsvc.api.writer"):
        process.stop()
        process.stop()  # a second stop does nothing

    # The watcher is gone before the process is stopped, so `stop` alone waited
    # for it: it finished on the SIGTERM (0), was not killed (-9) nor restarted.
    assert not watcher.is_alive()
    assert child.exitcode == 0
    assert process._process is child
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
