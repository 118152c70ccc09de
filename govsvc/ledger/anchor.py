"""Anchors: publish a signed checkpoint where the ledger's operator cannot rewrite it.

A checkpoint alone proves what the signer committed to, but a signer who wants to
fork the log can sign two views. Publishing a checkpoint to places that keep their
own history pins one view down: an auditor who later holds any receipt checks it for
consistency against an anchored checkpoint (`govsvc ledger verify --checkpoint`).

Two kinds of anchor:

- a git repository: a commit that adds the checkpoint as `checkpoints/<size>` and
  updates `checkpoint` (the newest), pushed when a remote is set, so that the
  checkpoint sits in a history others have cloned;
- an RFC 3161 time-stamp authority: the TSA signs the checkpoint's SHA-256 with a
  time; the token is verified against the TSA's CA certificate before it is kept, and
  proves that the checkpoint existed at that time.

Both talk to real tools: the `git` command, and OpenSSL's `ts` command to build the
request and verify the reply (RFC 3161 section 2.4). The outcome of every anchoring
is itself a ledger entry of type "anchor", so the ledger records where it was
published.

Errors are `AnchorError` (a `LedgerError`): a missing tool, a git failure, a TSA
that does not answer or answers with a token that does not verify.
"""

from __future__ import annotations

import base64
import logging
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from govsvc.ledger.errors import LedgerError

if TYPE_CHECKING:
    from govsvc.ledger.log import Ledger

log = logging.getLogger(__name__)

TSA_TIMEOUT_S = 30.0  # a public TSA answers in well under a second; allow for slow ones
GIT_IDENTITY = ("-c", "user.name=govsvc", "-c", "user.email=govsvc@localhost")


class AnchorError(LedgerError):
    """A checkpoint could not be published to an anchor."""


@dataclass(frozen=True)
class AnchorRecord:
    """Where one checkpoint was published; `to_entry()` is its ledger entry."""

    kind: str  # "git" or "rfc3161"
    detail: dict[str, Any]

    def to_entry(self, size: int, root_b64: str) -> dict[str, Any]:
        return {
            "type": "anchor",
            "kind": self.kind,
            "checkpoint": {"size": size, "root": root_b64},
            **self.detail,
        }


def _run(*argv: str, cwd: Path | None = None) -> str:
    """Run a tool and return its stdout; a failure names the command and its stderr."""
    if shutil.which(argv[0]) is None:
        raise AnchorError(f"`{argv[0]}` is not installed; anchors need it on PATH")
    proc = subprocess.run(argv, cwd=cwd, capture_output=True, check=False)
    if proc.returncode != 0:
        stderr = proc.stderr.decode(errors="replace").strip()
        raise AnchorError(f"`{' '.join(argv[:3])} ...` failed: {stderr}")
    return proc.stdout.decode(errors="replace")


# -- git -------------------------------------------------------------------------------


def anchor_to_git(
    checkpoint_text: str, size: int, repo: Path, remote: str | None = None
) -> AnchorRecord:
    """Commit the checkpoint to `repo` (created when absent) and push to `remote`.

    Anchoring a size that is already in the repository commits nothing new and
    answers the existing commit, so a daily job can run on an idle ledger.
    """
    repo.mkdir(parents=True, exist_ok=True)
    if not (repo / ".git").exists():
        _run("git", "init", "--quiet", cwd=repo)

    path = Path("checkpoints") / str(size)
    target = repo / path
    if target.exists() and target.read_text(encoding="utf-8") == checkpoint_text:
        commit = _run("git", "log", "-1", "--format=%H", "--", str(path), cwd=repo)
        log.info("checkpoint at size %s is already anchored in %s", size, repo)
    else:
        target.parent.mkdir(exist_ok=True)
        target.write_text(checkpoint_text, encoding="utf-8")
        (repo / "checkpoint").write_text(checkpoint_text, encoding="utf-8")
        _run("git", "add", str(path), "checkpoint", cwd=repo)
        origin = checkpoint_text.split("\n", 1)[0]
        message = f"Anchor {origin} at size {size}"
        _run("git", *GIT_IDENTITY, "commit", "--quiet", "-m", message, cwd=repo)
        commit = _run("git", "rev-parse", "HEAD", cwd=repo)

    detail: dict[str, Any] = {"commit": commit.strip(), "path": str(path)}
    if remote:
        # Push the branch we are on; a rejected push (someone rewrote the remote) is
        # an error the operator must see, never something to force past.
        _run("git", "push", "--quiet", remote, "HEAD", cwd=repo)
        detail["remote"] = remote
    return AnchorRecord("git", detail)


# -- RFC 3161 --------------------------------------------------------------------------


def anchor_to_tsa(
    checkpoint_text: str, url: str, ca_file: Path, *, token: str | None = None
) -> AnchorRecord:
    """Have the TSA at `url` time-stamp the checkpoint; verify and keep the token.

    The request asks for the TSA's certificate in the reply (`-cert`) and carries a
    nonce, so that the reply verifies with the CA file alone and cannot be replayed.
    """
    with tempfile.TemporaryDirectory(prefix="govsvc-tsa-") as tmp:
        work = Path(tmp)
        data = work / "checkpoint"
        data.write_text(checkpoint_text, encoding="utf-8")
        query = work / "request.tsq"
        _run(
            "openssl",
            "ts",
            "-query",
            "-data",
            str(data),
            "-sha256",
            "-cert",
            "-out",
            str(query),
        )

        headers = {"Content-Type": "application/timestamp-query"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        try:
            response = httpx.post(
                url, content=query.read_bytes(), headers=headers, timeout=TSA_TIMEOUT_S
            )
        except httpx.HTTPError as exc:
            raise AnchorError(
                f"the time-stamp authority at {url} failed: {exc}"
            ) from exc
        if response.status_code != 200:
            raise AnchorError(
                f"the time-stamp authority at {url} answered HTTP "
                f"{response.status_code}; expected 200 with a time-stamp reply"
            )

        reply = work / "reply.tsr"
        reply.write_bytes(response.content)
        verify_timestamp_reply(query, reply, ca_file)
        gen_time = _reply_time(reply)

    return AnchorRecord(
        "rfc3161",
        {
            "tsa": url,
            "time": gen_time,
            "reply": base64.b64encode(response.content).decode("ascii"),
        },
    )


def verify_timestamp_reply(query: Path, reply: Path, ca_file: Path) -> None:
    """Check a reply against its request: imprint, nonce, signature chain to the CA."""
    if not ca_file.is_file():
        raise AnchorError(f"the TSA's CA certificate {ca_file} does not exist")
    _openssl_verify("-queryfile", str(query), reply, ca_file)


def verify_timestamp(checkpoint_text: str, reply_b64: str, ca_file: Path) -> str:
    """Verify a stored token against the checkpoint text; answer the time it holds.

    This is the auditor's check of an anchor entry: the token must cover exactly
    this checkpoint's SHA-256 and chain to the TSA's CA.
    """
    with tempfile.TemporaryDirectory(prefix="govsvc-tsa-") as tmp:
        work = Path(tmp)
        data = work / "checkpoint"
        data.write_text(checkpoint_text, encoding="utf-8")
        reply = work / "reply.tsr"
        try:
            reply.write_bytes(base64.b64decode(reply_b64, validate=True))
        except ValueError as exc:
            raise AnchorError(
                f"the stored time-stamp reply is not base64: {exc}"
            ) from exc
        _openssl_verify("-data", str(data), reply, ca_file)
        return _reply_time(reply)


def _openssl_verify(against: str, path: str, reply: Path, ca_file: Path) -> None:
    """`openssl ts -verify` of `reply` against a request (`-queryfile`) or the data
    itself (`-data`), chained to `ca_file`."""
    try:
        _run("openssl", "ts", "-verify", against, path, "-in", str(reply),
             "-CAfile", str(ca_file))  # fmt: skip
    except AnchorError as exc:
        raise AnchorError(f"the time-stamp reply does not verify: {exc}") from exc


def _reply_time(reply: Path) -> str:
    text = _run("openssl", "ts", "-reply", "-in", str(reply), "-text")
    for line in text.splitlines():
        if line.startswith("Time stamp:"):
            return line.split(":", 1)[1].strip()
    raise AnchorError("the time-stamp reply carries no time; is it a rejection?")


@dataclass(frozen=True)
class AnchorTargets:
    """Where to publish; at least one target must be set."""

    git_repo: Path | None = None
    git_remote: str | None = None
    tsa_url: str | None = None
    tsa_ca: Path | None = None
    tsa_token: str | None = None

    def check(self) -> None:
        if self.git_repo is None and self.tsa_url is None:
            raise AnchorError(
                "no anchor is configured: give a git repository (--git or "
                "GOVSVC_ANCHOR_GIT) or a time-stamp authority (--tsa or "
                "GOVSVC_ANCHOR_TSA_URL)"
            )
        if self.tsa_url is not None and self.tsa_ca is None:
            raise AnchorError(
                "a time-stamp authority needs its CA certificate to verify its "
                "replies: give --tsa-ca or GOVSVC_ANCHOR_TSA_CA"
            )


def publish(ledger: Ledger, targets: AnchorTargets) -> list[tuple[int, AnchorRecord]]:
    """Anchor the ledger's newest checkpoint to every target; record each outcome.

    Plan: (1) make sure a checkpoint covers the whole ledger; (2) publish it to each
    target, git first since it is local; (3) append one "anchor" entry per target in
    one commit, so the ledger says where its checkpoint went. A target that fails
    stops the run before anything is recorded: a half-anchored day is retried whole.
    """
    targets.check()

    checkpoint = ledger.sign_pending()  # (1)

    records: list[AnchorRecord] = []  # (2)
    if targets.git_repo is not None:
        records.append(
            anchor_to_git(
                checkpoint.text, checkpoint.size, targets.git_repo, targets.git_remote
            )
        )
    if targets.tsa_url is not None:
        assert targets.tsa_ca is not None  # checked above
        records.append(
            anchor_to_tsa(
                checkpoint.text,
                targets.tsa_url,
                targets.tsa_ca,
                token=targets.tsa_token,
            )
        )

    root = base64.b64encode(checkpoint.root).decode("ascii")  # (3)

    def record(_session: object, append: Any) -> list[int]:
        return [append(r.to_entry(checkpoint.size, root)).index for r in records]

    indices = ledger.submit(record).value
    for index, rec in zip(indices, records, strict=True):
        log.info(
            "anchored checkpoint of size %s to %s (ledger entry %s)",
            checkpoint.size,
            rec.kind,
            index,
        )
    return list(zip(indices, records, strict=True))
