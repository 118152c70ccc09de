"""Anchors: a real git repository and a real RFC 3161 time-stamp authority.

The authority is OpenSSL's `ts -reply`, behind a small HTTP server on loopback, with a
CA and a TSA certificate made for the test.
"""

from __future__ import annotations

import base64
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from ledger_helpers import ORIGIN, fresh_ledger
from sqlalchemy.orm import Session

from govsvc.ledger import merkle
from govsvc.ledger.anchor import (
    AnchorError,
    AnchorTargets,
    anchor_to_git,
    anchor_to_tsa,
    publish,
    verify_timestamp,
)
from govsvc.ledger.log import Ledger
from govsvc.ledger.note import open_checkpoint

TSA_CONFIG = """\
[ tsa ]
default_tsa = tsa_config1
[ tsa_config1 ]
dir = {dir}
serial = $dir/serial
crypto_device = builtin
signer_cert = $dir/tsa.crt
certs = $dir/tsa.crt
signer_key = $dir/tsa.key
signer_digest = sha256
default_policy = 1.2.3.4.1
other_policies = 1.2.3.4.5
digests = sha256
accuracy = secs:1
ordering = yes
tsa_name = yes
ess_cert_id_chain = no
ess_cert_id_alg = sha256
"""

TSA_EXTENSIONS = """\
[tsa_ext]
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = critical, timeStamping
"""


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def _make_authority(work: Path) -> None:
    """A root CA and a time-stamping certificate it signed, as OpenSSL files."""
    ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes")
    _openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.crt",
             "-subj", "/CN=govsvc test root", "-days", "2", cwd=work)  # fmt: skip
    _openssl("req", *ec, "-keyout", "tsa.key", "-out", "tsa.csr",
             "-subj", "/CN=govsvc test tsa", cwd=work)  # fmt: skip
    (work / "ext.cnf").write_text(TSA_EXTENSIONS)
    _openssl("x509", "-req", "-in", "tsa.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
             "-CAcreateserial", "-out", "tsa.crt", "-days", "2",
             "-extfile", "ext.cnf", "-extensions", "tsa_ext", cwd=work)  # fmt: skip
    (work / "serial").write_text("01\n")
    (work / "tsa.cnf").write_text(TSA_CONFIG.format(dir=work))


@pytest.fixture(scope="module")
def authority(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """The URL of a running time-stamp authority and its CA certificate."""
    work = tmp_path_factory.mktemp("tsa")
    _make_authority(work)
    lock = threading.Lock()  # `openssl ts -reply` keeps its serial in one file

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            with lock:
                (work / "q.tsq").write_bytes(body)
                proc = subprocess.run(
                    ["openssl", "ts", "-reply", "-config", "tsa.cnf",
                     "-queryfile", "q.tsq", "-out", "r.tsr"],
                    cwd=work, capture_output=True, check=False,
                )  # fmt: skip
                reply = (work / "r.tsr").read_bytes() if proc.returncode == 0 else b""
            self.send_response(200 if reply else 400)
            self.send_header("Content-Type", "application/timestamp-reply")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, *_args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/tsa", work / "ca.crt"
    server.shutdown()
    server.server_close()


@pytest.fixture
def ledger(database_url: str) -> Iterator[Ledger]:
    ledger = fresh_ledger(database_url)
    for i in range(5):
        with Session(ledger.engine) as session, session.begin():
            ledger.append(session, {"type": "test", "i": i})
    yield ledger
    ledger.close()
    ledger.engine.dispose()


def _git(repo: Path, *args: str) -> str:
    out = subprocess.run(["git", *args], cwd=repo, capture_output=True, check=True)
    return out.stdout.decode().strip()


CHECKPOINT = (
    "example.org/log\n7\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n— x sig\n"
)


def test_anchor_to_git_commits_the_checkpoint(tmp_path: Path) -> None:
    repo = tmp_path / "anchors"

    record = anchor_to_git(CHECKPOINT, 7, repo)

    assert (repo / "checkpoints" / "7").read_text() == CHECKPOINT
    assert (repo / "checkpoint").read_text() == CHECKPOINT
    assert record.detail["commit"] == _git(repo, "rev-parse", "HEAD")
    assert _git(repo, "log", "-1", "--format=%s") == "Anchor example.org/log at size 7"


def test_anchor_to_git_same_size_twice_commits_once(tmp_path: Path) -> None:
    repo = tmp_path / "anchors"

    first = anchor_to_git(CHECKPOINT, 7, repo)
    second = anchor_to_git(CHECKPOINT, 7, repo)

    assert first.detail["commit"] == second.detail["commit"]
    assert _git(repo, "rev-list", "--count", "HEAD") == "1"


def test_anchor_to_git_pushes_to_the_remote(tmp_path: Path) -> None:
    remote = tmp_path / "public.git"
    subprocess.run(["git", "init", "--bare", "--quiet", str(remote)], check=True)
    repo = tmp_path / "anchors"
    repo.mkdir()
    _git(repo, "init", "--quiet")
    _git(repo, "remote", "add", "public", str(remote))

    record = anchor_to_git(CHECKPOINT, 7, repo, remote="public")

    pushed = subprocess.run(
        ["git", "--git-dir", str(remote), "rev-parse", "HEAD"],
        capture_output=True,
        check=True,
    )
    assert pushed.stdout.decode().strip() == record.detail["commit"]
    assert record.detail["remote"] == "public"


def test_anchor_to_git_rejected_push_is_an_error(tmp_path: Path) -> None:
    repo = tmp_path / "anchors"
    repo.mkdir()
    _git(repo, "init", "--quiet")
    _git(repo, "remote", "add", "public", str(tmp_path / "missing.git"))

    with pytest.raises(AnchorError, match="git push"):
        anchor_to_git(CHECKPOINT, 7, repo, remote="public")


def test_anchor_to_tsa_token_verifies_against_the_checkpoint(
    authority: tuple[str, Path],
) -> None:
    url, ca = authority

    record = anchor_to_tsa(CHECKPOINT, url, ca)

    assert record.kind == "rfc3161"
    assert record.detail["time"].endswith("GMT")
    assert (
        verify_timestamp(CHECKPOINT, record.detail["reply"], ca)
        == (record.detail["time"])
    )


def test_verify_timestamp_other_checkpoint_fails(authority: tuple[str, Path]) -> None:
    url, ca = authority
    record = anchor_to_tsa(CHECKPOINT, url, ca)

    with pytest.raises(AnchorError, match="does not verify"):
        verify_timestamp(CHECKPOINT.replace("7", "8"), record.detail["reply"], ca)


def test_anchor_to_tsa_untrusted_ca_fails(
    authority: tuple[str, Path], tmp_path: Path
) -> None:
    url, _ca = authority
    other = tmp_path / "other"
    other.mkdir()
    _make_authority(other)

    with pytest.raises(AnchorError, match="does not verify"):
        anchor_to_tsa(CHECKPOINT, url, other / "ca.crt")


def test_anchor_to_tsa_unreachable_fails(authority: tuple[str, Path]) -> None:
    _url, ca = authority

    with pytest.raises(AnchorError, match=r"time-stamp authority at .* failed"):
        anchor_to_tsa(CHECKPOINT, "http://127.0.0.1:9/tsa", ca)


def test_anchor_targets_none_configured_fails() -> None:
    with pytest.raises(AnchorError, match="no anchor is configured"):
        AnchorTargets().check()


def test_anchor_targets_tsa_without_ca_fails() -> None:
    with pytest.raises(AnchorError, match="CA certificate"):
        AnchorTargets(tsa_url="http://127.0.0.1:9/").check()


def test_publish_records_both_anchors_in_the_ledger(
    ledger: Ledger, authority: tuple[str, Path], tmp_path: Path
) -> None:
    url, ca = authority
    repo = tmp_path / "anchors"

    published = publish(ledger, AnchorTargets(git_repo=repo, tsa_url=url, tsa_ca=ca))

    assert [index for index, _ in published] == [5, 6]
    anchored = (repo / "checkpoints" / "5").read_text()
    opened = open_checkpoint(anchored, [ledger.verifier_key], origin=ORIGIN)
    assert opened.checkpoint.size == 5
    git_entry, tsa_entry = ledger.entry(5), ledger.entry(6)
    assert git_entry["type"] == tsa_entry["type"] == "anchor"
    assert git_entry["checkpoint"]["size"] == 5
    assert verify_timestamp(anchored, tsa_entry["reply"], ca)

    # The anchored checkpoint stays consistent with everything signed after it.
    latest = ledger.latest_checkpoint()
    assert latest is not None and latest.size == 7
    merkle.verify_consistency(
        5,
        7,
        base64.b64decode(git_entry["checkpoint"]["root"]),
        latest.root,
        ledger.consistency_proof(5, 7),
    )
