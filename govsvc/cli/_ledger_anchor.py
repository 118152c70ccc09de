"""`govsvc ledger anchor`: publish the newest checkpoint to git and to a TSA.

Registered by `govsvc.cli.ledger`; the leading underscore keeps this module out of
the command-group discovery.
"""

from __future__ import annotations

import argparse
from pathlib import Path

ANCHOR_EPILOG = """\
what it does, in order:
  1. signs a checkpoint of the whole ledger, unless the newest one covers it
  2. git: commits it as checkpoints/<size> (and checkpoint, the newest) in the
     repository, created when missing, and pushes to the remote when one is named
  3. rfc3161: has the time-stamp authority sign the checkpoint's SHA-256, and
     verifies the reply against the authority's CA certificate with OpenSSL
  4. appends one "anchor" entry per target to the ledger

Run it once a day from a scheduler (deploy/ has a Kubernetes CronJob), and whenever
an auditor asks. Targets come from the options or from GOVSVC_ANCHOR_GIT,
GOVSVC_ANCHOR_GIT_REMOTE, GOVSVC_ANCHOR_TSA_URL and GOVSVC_ANCHOR_TSA_CA. An auditor
checks a receipt against an anchored checkpoint with
`govsvc ledger verify RECEIPT --checkpoint checkpoints/<size> --url URL`, and a
stored time-stamp with `openssl ts -verify -data checkpoints/<size> -in reply.tsr
-CAfile tsa-ca.pem`.

examples:
  govsvc ledger anchor --git /srv/anchors --git-remote origin
  govsvc ledger anchor --tsa https://freetsa.org/tsr --tsa-ca freetsa-cacert.pem
"""


def register_anchor(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
) -> None:
    parser = commands.add_parser(
        "anchor",
        help="publish the newest checkpoint to a git repository and a TSA",
        description="Publish the ledger's newest signed checkpoint to every "
        "configured anchor and record each publication in the ledger.",
        epilog=ANCHOR_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--git", metavar="DIR", type=Path, help="git repository")
    parser.add_argument("--git-remote", metavar="NAME", help="remote to push to")
    parser.add_argument("--tsa", metavar="URL", help="RFC 3161 time-stamp authority")
    parser.add_argument(
        "--tsa-ca", metavar="FILE", type=Path, help="the TSA's CA certificate (PEM)"
    )
    parser.add_argument(
        "--database", metavar="URL", help="database URL (default: GOVSVC_DATABASE_URL)"
    )
    parser.set_defaults(func=_anchor)


def _anchor(args: argparse.Namespace) -> int:
    import sqlalchemy as sa

    from govsvc.ledger.anchor import AnchorTargets, publish
    from govsvc.ledger.keys import load_signer
    from govsvc.ledger.log import Ledger
    from govsvc.settings import load_settings

    settings = load_settings()
    targets = AnchorTargets(
        git_repo=args.git or settings.anchor_git,
        git_remote=args.git_remote or settings.anchor_git_remote,
        tsa_url=args.tsa or settings.anchor_tsa_url,
        tsa_ca=args.tsa_ca or settings.anchor_tsa_ca,
    )
    targets.check()

    # The signing key must exist already: anchoring never makes a new identity.
    signer = load_signer(settings.signing_key_path)
    url = args.database or settings.resolved_database_url
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    ledger = Ledger(engine, signer, settings.log_origin)
    try:
        published = publish(ledger, targets)
    finally:
        ledger.close()
        engine.dispose()

    for index, record in published:
        where = record.detail.get("commit") or record.detail.get("time")
        print(f"{record.kind:8} {where}  (ledger entry {index})")
    return 0
