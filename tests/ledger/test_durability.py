"""Several processes appending at once, and processes killed in mid-append."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from ledger_helpers import fresh_ledger, make_signer

from govsvc.ledger.audit import audit
from govsvc.ledger.log import Ledger

WORKER = Path(__file__).with_name("append_worker.py")
ROOT = Path(__file__).resolve().parents[2]


def _start(url: str, mode: str, count: int, threads: int) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, str(WORKER), url, mode, str(count), str(threads)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def _parse(lines: list[str]) -> dict[int, str]:
    acks: dict[int, str] = {}
    for line in lines:
        word, index, tag = line.split()
        assert word == "ack"
        assert int(index) not in acks, f"index {index} acknowledged twice"
        acks[int(index)] = tag
    return acks


def _check(ledger: Ledger, acks: dict[int, str]) -> None:
    size = ledger.size()
    assert max(acks, default=-1) < size
    for index, tag in acks.items():
        assert ledger.entry(index) == {"tag": tag}
    ledger.sign_pending()
    report = audit(ledger.engine, [make_signer().verifier_key])
    assert report.ok, report.failure
    assert report.entries == size


def test_processes_append_concurrently(database_url: str) -> None:
    ledger = fresh_ledger(database_url)
    try:
        procs = [
            _start(database_url, mode, 15, 3) for mode in ("submit", "submit", "direct")
        ]
        lines: list[str] = []
        for proc in procs:
            out, err = proc.communicate(timeout=120)
            assert proc.returncode == 0, err
            lines.extend(out.splitlines())

        acks = _parse(lines)
        assert sorted(acks) == list(range(3 * 15 * 3))
        _check(ledger, acks)
    finally:
        ledger.close()
        ledger.engine.dispose()


@pytest.mark.parametrize("mode", ["submit", "direct"])
def test_kill_during_appends_loses_nothing_acknowledged(
    database_url: str, mode: str
) -> None:
    ledger = fresh_ledger(database_url)
    rng = random.Random(f"{mode}-{database_url[:6]}")
    acks: dict[int, str] = {}
    try:
        for _round in range(3):
            proc = _start(database_url, mode, 10_000, 6)
            assert proc.stdout is not None
            lines = []
            for _ in range(rng.randrange(1, 80)):
                line = proc.stdout.readline()
                assert line, proc.stderr.read() if proc.stderr else ""
                lines.append(line)
            proc.send_signal(signal.SIGKILL)
            rest, _err = proc.communicate(timeout=60)
            lines.extend(rest.splitlines())  # acks written before the kill count too

            round_acks = _parse(lines)
            assert not set(round_acks) & set(acks)
            acks.update(round_acks)
            _check(ledger, acks)  # as a restarted service would find it
    finally:
        ledger.close()
        ledger.engine.dispose()
