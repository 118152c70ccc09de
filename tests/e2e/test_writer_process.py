"""`govsvc serve --workers 2` on SQLite: one writer process records the decisions
of both workers (`govsvc.api.writer`)."""

from __future__ import annotations

import os
import re
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from api.helpers import GATE_POLICY, request_for

from .conftest import start_two_workers, stop_server

RESTART_SECONDS = 60


def _writer_pids(log_path: Path) -> list[int]:
    return [
        int(found)
        for found in re.findall(
            r"ledger writer process (\d+) listening", log_path.read_text()
        )
    ]


def _socket_path(children: list[int]) -> str:
    """Where the writer process listens: `govsvc serve` tells its workers."""
    for pid in children:
        environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        for item in environ:
            if item.startswith(b"GOVSVC_WRITER_SOCKET="):
                return item.split(b"=", 1)[1].decode()
    raise AssertionError("no worker was told of a writer socket")


def _alive(pid: int) -> bool:
    """Running, not gone and not a zombie waiting for a parent to reap it."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "\nState:\tZ" not in status


def test_decisions_retries_and_publications_go_through_the_writer(
    tmp_path: Path,
) -> None:
    log_path = tmp_path / "server.log"
    server = start_two_workers(tmp_path, log_path)
    strict = GATE_POLICY.replace(
        'warn "canary is watched" when stage == "canary"',
        'deny "canary is closed" when stage == "canary"',
    )
    try:
        with server.client("ci") as ci, server.client("author") as author:
            with ThreadPoolExecutor(8) as pool:
                answers = list(
                    pool.map(
                        lambda i: ci.post(
                            "/v1/decisions",
                            json=request_for("canary"),
                            headers={"Idempotency-Key": f"run-{i % 10}"},
                        ),
                        range(30),
                    )
                )
            other_body = ci.post(
                "/v1/decisions",
                json=request_for("staging"),
                headers={"Idempotency-Key": "run-0"},
            )
            published = author.put(
                "/v1/policies/gate",
                content=strict,
                headers={"content-type": "text/plain"},
            )
            # Several, so that both workers answer at least one.
            after = [
                ci.post("/v1/decisions", json=request_for("canary")).json()
                for _ in range(6)
            ]
            # The answers' facts are the stored ones, risk included, whether the
            # writer concluded from the worker's facts or assessed them again.
            stored = [
                ci.get(f"/v1/decisions/{a['id']}").json()
                for a in [answers[0].json(), *after]
            ]
        writers = _writer_pids(log_path)
    finally:
        stop_server(server)

    assert len(writers) == 1
    assert not _alive(writers[0]), "the writer process outlived the server"
    # Ten keys: ten decisions, each answered once with 201 and replayed with 200.
    assert len({a.json()["id"] for a in answers}) == 10
    assert sorted(a.status_code for a in answers) == [200] * 20 + [201] * 10
    assert {a.json()["verdict"] for a in answers} == {"warn"}
    assert other_body.status_code == 409
    assert published.status_code == 200
    assert {a["verdict"] for a in after} == {"deny"}
    assert {a["bundle_digest"] for a in after} == {published.json()["bundle_digest"]}
    for answer, row in zip([answers[0].json(), *after], stored, strict=True):
        assert answer["facts"] == row["facts"]
        assert answer["facts"]["risk"]["tier"] == answer["tier"]


def test_a_revoked_token_is_refused_where_it_was_seen_live(tmp_path: Path) -> None:
    # A worker remembers the tokens it has seen live (the client's keep-alive
    # connection stays with one); the writer process checks them in every batch,
    # so a revocation holds at once.
    log_path = tmp_path / "server.log"
    server = start_two_workers(tmp_path, log_path)
    try:
        with server.client("admin") as admin:
            created = admin.post("/v1/tokens", json={"roles": ["ci"]}).json()
            with httpx.Client(
                base_url=server.url,
                headers={"Authorization": f"Bearer {created['token']}"},
                timeout=30,
            ) as ci:
                before = [
                    ci.post("/v1/decisions", json=request_for()).status_code
                    for _ in range(8)
                ]
                revoked = admin.delete(f"/v1/tokens/{created['id']}").status_code
                after = [ci.post("/v1/decisions", json=request_for()) for _ in range(8)]
    finally:
        stop_server(server)

    assert before == [201] * 8
    assert revoked == 204
    assert [a.status_code for a in after] == [401] * 8
    assert {a.headers["content-type"] for a in after} == {"application/problem+json"}


def test_a_writer_process_that_dies_is_started_again(tmp_path: Path) -> None:
    log_path = tmp_path / "server.log"
    server = start_two_workers(tmp_path, log_path)
    statuses = []
    try:
        with server.client("ci") as ci:
            assert ci.post("/v1/decisions", json=request_for()).status_code == 201
            (first,) = _writer_pids(log_path)
            os.kill(first, signal.SIGKILL)

            deadline = time.monotonic() + RESTART_SECONDS
            while time.monotonic() < deadline:
                response = ci.post("/v1/decisions", json=request_for())
                statuses.append(response.status_code)
                if response.status_code == 201:
                    break
                assert response.headers["content-type"] == "application/problem+json"
                time.sleep(0.1)
            again = [
                ci.post("/v1/decisions", json=request_for()).status_code
                for _ in range(4)
            ]
        log = log_path.read_text()
        writers = _writer_pids(log_path)
    finally:
        stop_server(server)

    # Until the new one listens, a decision is refused with a 503, never a 500.
    assert set(statuses) <= {201, 503}
    assert statuses[-1] == 201
    assert again == [201] * 4
    assert "the ledger writer process exited with code -9" in log
    assert len(writers) == 2 and writers[0] == first


def test_the_writer_process_stops_when_serve_is_killed(tmp_path: Path) -> None:
    log_path = tmp_path / "server.log"
    server = start_two_workers(tmp_path, log_path)
    (writer,) = _writer_pids(log_path)
    workers = [
        int(pid)
        for pid in Path(
            f"/proc/{server.process.pid}/task/{server.process.pid}/children"
        )
        .read_text()
        .split()
        if int(pid) != writer
    ]
    socket = _socket_path(workers)

    server.process.kill()  # no chance to stop its children
    server.process.wait()
    deadline = time.monotonic() + RESTART_SECONDS
    while _alive(writer) and time.monotonic() < deadline:
        time.sleep(0.1)
    for pid in workers:  # uvicorn's workers are not ours to watch; clean up
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)

    assert not _alive(writer)
    assert "the ledger writer process stops" in log_path.read_text()
    assert not Path(socket).parent.exists()
