"""The real `govsvc serve` in a subprocess on a free loopback port.

A server start costs a second or two, so servers are module-scoped: the tests of a
module share one, and each test makes its own models (names) where state matters.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import httpx
import pytest
from api.helpers import GATE_POLICY, ROLES

START_TIMEOUT_SECONDS = 60


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    url: str
    env: dict[str, str]
    tokens: dict[str, str]
    process: subprocess.Popen[str]

    def client(self, role: str) -> httpx.Client:
        return httpx.Client(
            base_url=self.url,
            headers={"Authorization": f"Bearer {self.tokens[role]}"},
            timeout=30,
        )

    def govsvc(self, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "govsvc", *args],
            env={**self.env, **env},
            capture_output=True,
            text=True,
            timeout=120,
        )


def start_server(
    data_dir: Path,
    policies: Path,
    database_url: str = "",
    *,
    workers: int = 1,
    log: IO[str] | None = None,
) -> Server:
    port = free_port()
    env = {
        **os.environ,
        "GOVSVC_DATA_DIR": str(data_dir),
        "GOVSVC_POLICIES_DIR": str(policies),
        "GOVSVC_DATABASE_URL": database_url,
        "GOVSVC_PORT": str(port),
        "GOVSVC_WORKERS": str(workers),
    }
    env.pop("GOVSVC_TOKEN", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "govsvc", "serve"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=log if log is not None else subprocess.DEVNULL,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"govsvc serve exited with {process.returncode}")
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            process.kill()
            raise RuntimeError("govsvc serve did not become ready")
        time.sleep(0.1)
    return Server(url, env, {}, process)


def stop_server(server: Server) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()


def start_two_workers(tmp_path: Path, log_path: Path) -> Server:
    """`govsvc serve --workers 2` on SQLite with the gate policy, its log in
    `log_path`, and a token per role."""
    policies = tmp_path / "policies"
    policies.mkdir()
    (policies / "gate.policy").write_text(GATE_POLICY)
    with log_path.open("w") as log:
        server = start_server(tmp_path / "data", policies, workers=2, log=log)
    issue_tokens(server)
    return server


def first_admin_token(server: Server) -> str:
    # The first start prints the admin token alone on the last line of its notice.
    assert server.process.stdout is not None
    for _ in range(5):
        line = server.process.stdout.readline().strip()
        if line.startswith("gsv_"):
            return line
    raise AssertionError("the first start printed no admin token")


def issue_tokens(server: Server) -> None:
    server.tokens["admin"] = first_admin_token(server)
    with server.client("admin") as admin:
        for role in ROLES[:-1]:
            created = admin.post("/v1/tokens", json={"roles": [role]})
            created.raise_for_status()
            server.tokens[role] = created.json()["token"]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("e2e")
    policies = root / "policies"
    policies.mkdir()
    (policies / "gate.policy").write_text(GATE_POLICY)
    started = start_server(root / "data", policies)
    try:
        issue_tokens(started)
        yield started
    finally:
        stop_server(started)
