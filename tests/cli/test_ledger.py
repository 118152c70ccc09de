"""`govsvc ledger verify`: exit statuses, what it prints, and no tracebacks."""

from __future__ import annotations

import base64
import json
import threading
import urllib.parse
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from govsvc.cli import main
from govsvc.ledger import canonical, keys, merkle, note, receipt

SIGNER = keys.Signer.generate("govsvc.test/ledger")
ORIGIN = "govsvc.test/ledger"
ENTRIES = [{"kind": "decision", "seq": i} for i in range(9)]
TREE = merkle.MemoryTree([canonical.encode(e) for e in ENTRIES])


def _checkpoint(size: int) -> str:
    return note.sign_checkpoint(note.Checkpoint(ORIGIN, size, TREE.root(size)), SIGNER)


def _proof_json(old: int, new: int) -> dict[str, Any]:
    hashes = TREE.consistency_proof(old, new)
    return {
        "from": old,
        "to": new,
        "hashes": [base64.b64encode(h).decode() for h in hashes],
    }


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    paths = {
        "receipt": tmp_path / "receipt.json",
        "keys": tmp_path / "ledger.pub",
        "later": tmp_path / "later.note",
        "proof": tmp_path / "proof.json",
    }
    doc = receipt.build_receipt(
        ENTRIES[2], 2, TREE.inclusion_proof(2, 5), _checkpoint(5), SIGNER.verifier_key
    )
    paths["receipt"].write_text(receipt.dumps_receipt(doc), encoding="utf-8")
    paths["keys"].write_text(f"# the log's keys\n{SIGNER.verifier_key}\n")
    paths["later"].write_text(_checkpoint(9), encoding="utf-8")
    paths["proof"].write_text(json.dumps(_proof_json(5, 9)))
    return paths


def _run(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> tuple[int, str, str]:
    status = main(["ledger", "verify", *map(str, argv)])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return status, out, err


def test_verify_with_key_prints_each_check(
    files: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, _ = _run(capsys, files["receipt"], "--key", SIGNER.verifier_key)

    assert status == 0
    assert [line.split()[:2] for line in out.splitlines()[:4]] == [
        ["format", "OK"],
        ["entry", "OK"],
        ["signature", "OK"],
        ["inclusion", "OK"],
    ]
    assert out.splitlines()[-1] == f"{files['receipt']}: verified"


def test_verify_with_key_file_and_consistency_proof(
    files: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, _ = _run(
        capsys,
        files["receipt"],
        "--key-file",
        files["keys"],
        "--checkpoint",
        files["later"],
        "--consistency-proof",
        files["proof"],
    )

    assert status == 0
    assert (
        "consistency  OK      the tree of size 5 is a prefix of the tree of size 9"
        in out
    )


def test_verify_without_key_fails_on_signature(
    files: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, _ = _run(capsys, files["receipt"])

    assert status == 1
    assert out.splitlines()[-1].startswith("signature    FAILED  signature: no trusted")
    assert SIGNER.verifier_key in out


def test_verify_tampered_entry_fails_with_expected_and_found(
    files: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    doc = json.loads(files["receipt"].read_text())
    doc["entry"]["seq"] = 3
    files["receipt"].write_text(json.dumps(doc))

    status, out, _ = _run(capsys, files["receipt"], "--key-file", files["keys"])

    assert status == 1
    failed = out.splitlines()[-1]
    assert failed.startswith("entry        FAILED  entry: the leaf hash")
    assert f"expected {doc['leaf_hash']}, found " in failed


def test_verify_wrong_proof_sizes_fails_consistency(
    files: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    files["proof"].write_text(json.dumps(_proof_json(4, 9)))

    status, out, _ = _run(
        capsys,
        files["receipt"],
        "--key-file",
        files["keys"],
        "--checkpoint",
        files["later"],
        "--consistency-proof",
        files["proof"],
    )

    assert status == 1
    assert "expected from 5 to 9, found from 4 to 9" in out.splitlines()[-1]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{", "receipt.json: the receipt is not valid JSON: Expecting property name"),
        (b"\x89PNG\r\n\x1a\n\x00", "is not UTF-8 text"),
        ('{"entry": {}}', 'the receipt has no "index" field'),
    ],
)
def test_verify_malformed_receipt_clear_error(
    files: dict[str, Path],
    capsys: pytest.CaptureFixture[str],
    content: str | bytes,
    message: str,
) -> None:
    if isinstance(content, bytes):
        files["receipt"].write_bytes(content)
    else:
        files["receipt"].write_text(content)

    status, _, err = _run(capsys, files["receipt"], "--key-file", files["keys"])

    assert status == 1
    assert message in err
    assert err.startswith("govsvc: ")


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            ["--key", "nope"],
            "--key 'nope': verifier key must look like name+keyid+base64",
        ),
        (["--key-file", "/nonexistent/ledger.pub"], "cannot read the key ring"),
        (["--checkpoint", "/nonexistent/x.note"], "cannot read the checkpoint"),
        (["--consistency-proof", "proof.json"], "pass it with --checkpoint NOTE"),
    ],
)
def test_verify_bad_options_clear_error(
    files: dict[str, Path],
    capsys: pytest.CaptureFixture[str],
    extra: list[str],
    message: str,
) -> None:
    status, _, err = _run(capsys, files["receipt"], "--key-file", files["keys"], *extra)

    assert status == 1
    assert message in err


def test_verify_missing_receipt_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, _, err = _run(
        capsys, tmp_path / "absent.json", "--key", SIGNER.verifier_key
    )

    assert status == 1
    assert "cannot read the receipt" in err and "No such file or directory" in err


class _ProofServer:
    """A real HTTP server on loopback that answers /v1/ledger/proofs/consistency
    with a fixed status, and records what each request asked for."""

    def __init__(self, status: int = 200, body: Any = None) -> None:
        self.status, self.body = status, body
        self.calls: list[tuple[str, dict[str, str], str | None]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                url = urllib.parse.urlsplit(self.path)
                params = dict(urllib.parse.parse_qsl(url.query))
                outer.calls.append((url.path, params, self.headers["Authorization"]))
                body = outer.body
                if body is None:
                    body = _proof_json(int(params["from"]), int(params["to"]))
                data = json.dumps(body).encode()
                self.send_response(outer.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *_args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def proof_server() -> Iterator[Callable[..., _ProofServer]]:
    started: list[_ProofServer] = []

    def start(status: int = 200, body: Any = None) -> _ProofServer:
        started.append(_ProofServer(status, body))
        return started[-1]

    yield start
    for server in started:
        server.close()


def test_verify_url_fetches_proof_with_token(
    files: dict[str, Path],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    proof_server: Callable[..., _ProofServer],
) -> None:
    server = proof_server()
    monkeypatch.setenv("GOVSVC_TOKEN", "t0ken")

    status, out, _ = _run(
        capsys,
        files["receipt"],
        "--key-file",
        files["keys"],
        "--checkpoint",
        files["later"],
        "--url",
        server.url + "/",
    )

    assert status == 0
    assert server.calls == [
        ("/v1/ledger/proofs/consistency", {"from": "5", "to": "9"}, "Bearer t0ken")
    ]
    assert "consistency  OK" in out


def test_verify_url_server_error_reported(
    files: dict[str, Path],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    proof_server: Callable[..., _ProofServer],
) -> None:
    server = proof_server(401, {"title": "Unauthorized"})
    monkeypatch.delenv("GOVSVC_TOKEN", raising=False)

    status, _, err = _run(
        capsys,
        files["receipt"],
        "--key-file",
        files["keys"],
        "--checkpoint",
        files["later"],
        "--url",
        server.url,
    )

    assert status == 1
    assert "answered 401 for from=5&to=9" in err


def test_verify_url_unreachable_reported(
    files: dict[str, Path],
    capsys: pytest.CaptureFixture[str],
    proof_server: Callable[..., _ProofServer],
) -> None:
    server = proof_server()
    server.close()  # nothing listens on its port any more

    status, _, err = _run(
        capsys,
        files["receipt"],
        "--key-file",
        files["keys"],
        "--checkpoint",
        files["later"],
        "--url",
        server.url,
    )

    assert status == 1
    assert f"cannot fetch the consistency proof from {server.url}/v1" in err


def test_verify_help_teaches_with_examples(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["ledger", "verify", "--help"])

    out = capsys.readouterr().out
    assert info.value.code == 0
    assert "examples:" in out and "--consistency-proof proof.json" in out


def test_key_prints_ring_then_rotation_keeps_old(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GOVSVC_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("GOVSVC_SIGNING_KEY", raising=False)
    monkeypatch.delenv("GOVSVC_KEY_NAME", raising=False)

    assert main(["ledger", "key"]) == 0
    first = capsys.readouterr().out.splitlines()
    assert main(["ledger", "key", "--rotate"]) == 0
    second = capsys.readouterr().out.splitlines()

    current = keys.load_signer(tmp_path / "signing.key")
    assert first[1:] == [second[-2]]
    assert second[-1] == current.verifier_key
    assert "PRIVATE" not in "\n".join(first + second)


def test_key_other_name_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key = tmp_path / "signing.key"
    keys.load_or_create_signer(key, "govsvc.test/ledger")

    status = main(["ledger", "key", "--signing-key", str(key), "--name", "x"])

    assert status == 1
    assert "is for 'govsvc.test/ledger', but the configured key name is 'x'" in (
        capsys.readouterr().err
    )
