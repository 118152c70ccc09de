"""`govsvc gate`: ask the service whether a model may ship, as a CI step.

Exit status: 0 allow or warn (or a review approved while waiting), 1 deny (or a
review rejected), 2 review pending, 3 no decision could be had (the reason is
printed). Transient failures (connection errors, timeouts, 429, 5xx) are retried
with the same idempotency key, so a retried request is decided, and recorded, once.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import httpx

EXIT_PASS = 0
EXIT_DENY = 1
EXIT_PENDING = 2
EXIT_NO_DECISION = 3

DEFAULT_RETRIES = 5
DEFAULT_TIMEOUT_SECONDS = 30.0
POLL_SECONDS = 5.0
RETRY_STATUSES = {429, 500, 502, 503, 504}

EPILOG = """\
exit status:
  0  allow or warn (or, with --wait, the review was approved)
  1  deny (or, with --wait, the review was rejected)
  2  review pending: a reviewer must approve the decision
  3  no decision could be had: bad request file, refused token, unreachable service

examples:
  export GOVSVC_TOKEN=...        # a token with the role ci
  govsvc gate --url https://govsvc.example.com --request eval.json
  govsvc gate --url $URL --request eval.json --receipt receipt.json --wait 3600
  govsvc gate --url $URL --request eval.json --format json > decision.json
  govsvc gate --url $URL --request eval.json --github-summary

The receipt proves the decision is in the audit ledger; check it offline with
`govsvc ledger verify receipt.json --key VERIFIER_KEY`.
"""


class _NoDecision(Exception):
    """Why the gate could not get a decision; exit status 3."""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "gate",
        help="ask the service for a decision, as a CI step",
        description="Post an evaluation request, print the verdict and its reasons, "
        "and exit with a status a pipeline can act on.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--url", required=True, help="the service's base URL")
    parser.add_argument(
        "--request", required=True, type=Path, help="the evaluation request, JSON"
    )
    parser.add_argument(
        "--token", help="a token with the role ci (default: $GOVSVC_TOKEN)"
    )
    parser.add_argument("--receipt", type=Path, help="write the ledger receipt here")
    parser.add_argument(
        "--wait",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="on review, poll until a reviewer decides or this much time passes",
    )
    parser.add_argument(
        "--format", choices=["table", "json"], default="table", help="output format"
    )
    parser.add_argument(
        "--github-summary",
        action="store_true",
        help="append a Markdown summary to $GITHUB_STEP_SUMMARY",
    )
    parser.add_argument(
        "--idempotency-key",
        help="reuse a key across runs of one job (default: a new random key)",
    )
    parser.add_argument(
        "--retries",
        type=int,
        default=DEFAULT_RETRIES,
        help=f"retries of transient failures (default {DEFAULT_RETRIES})",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT_SECONDS,
        help="seconds per HTTP request",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        decision = _obtain(args)
    except _NoDecision as exc:
        print(f"govsvc gate: no decision: {exc}", file=sys.stderr)
        if args.github_summary:
            _append_summary(f"## govsvc gate: no decision\n\n{exc}\n")
        return EXIT_NO_DECISION

    if args.receipt is not None and decision.get("receipt") is not None:
        args.receipt.write_text(json.dumps(decision["receipt"], indent=2) + "\n")
    if args.format == "json":
        print(json.dumps(decision, indent=2))
    else:
        print(render_table(decision))
    if args.github_summary:
        _append_summary(render_markdown(decision))
    return exit_status(decision)


def exit_status(decision: dict[str, Any]) -> int:
    verdict = decision.get("verdict")
    status = decision.get("status")
    if verdict in ("allow", "warn"):
        return EXIT_PASS
    if verdict == "deny":
        return EXIT_DENY
    if verdict == "review":
        if status == "approved":
            return EXIT_PASS
        if status == "rejected":
            return EXIT_DENY
        return EXIT_PENDING
    return EXIT_NO_DECISION


def _obtain(args: argparse.Namespace) -> dict[str, Any]:
    import httpx

    token = args.token or os.environ.get("GOVSVC_TOKEN")
    if not token:
        raise _NoDecision("no token: pass --token or set GOVSVC_TOKEN (role ci)")
    try:
        raw = args.request.read_bytes()
        json.loads(raw)
    except OSError as exc:
        raise _NoDecision(f"cannot read {args.request}: {exc.strerror}") from exc
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise _NoDecision(f"{args.request} is not valid JSON: {exc}") from exc

    key = args.idempotency_key or str(uuid.uuid4())
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": key}
    base = args.url.rstrip("/")
    with httpx.Client(base_url=base, headers=headers, timeout=args.timeout) as client:
        decision = _with_retries(
            # The file's bytes unchanged: the ledger records their SHA-256, which
            # the pipeline can recompute from its own artifact.
            lambda: client.post(
                "/v1/decisions",
                content=raw,
                headers={"content-type": "application/json"},
            ),
            args.retries,
        )
        if decision.get("verdict") == "review" and args.wait > 0:
            decision = _wait_for_review(client, decision, args.wait, args.retries)
    return decision


def _with_retries(call: Any, retries: int) -> dict[str, Any]:
    import httpx

    delay = 0.5
    for attempt in range(retries + 1):
        last = attempt == retries
        try:
            response: httpx.Response = call()
        except httpx.TransportError as exc:
            if last:
                raise _NoDecision(
                    f"the service is unreachable after {retries + 1} attempts: {exc}"
                ) from exc
        else:
            if response.status_code < 400:
                result: dict[str, Any] = response.json()
                return result
            if response.status_code not in RETRY_STATUSES or last:
                raise _NoDecision(_describe(response))
            retry_after = response.headers.get("retry-after", "")
            if retry_after.isdigit():
                delay = max(delay, float(retry_after))
        time.sleep(delay)
        delay = min(delay * 2, 30.0)
    raise AssertionError("unreachable")


def _describe(response: httpx.Response) -> str:
    try:
        problem = response.json()
        detail = problem.get("detail") or problem
    except ValueError:
        detail = response.text[:500]
    return f"HTTP {response.status_code}: {detail}"


def _wait_for_review(
    client: httpx.Client, decision: dict[str, Any], wait: float, retries: int
) -> dict[str, Any]:
    deadline = time.monotonic() + wait
    decision_id = decision["id"]
    print(
        f"decision {decision_id} needs review; waiting up to {wait:.0f} s",
        file=sys.stderr,
    )
    while time.monotonic() < deadline:
        time.sleep(min(POLL_SECONDS, max(deadline - time.monotonic(), 0.1)))
        current = _with_retries(
            lambda: client.get(f"/v1/decisions/{decision_id}"), retries
        )
        if current.get("status") != "pending":
            # Keep the first answer's receipt: it proves the decision; the review's
            # own entry is in the ledger too.
            return {**current, "receipt": decision.get("receipt")}
    return decision


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (list, dict)):
        return json.dumps(value, separators=(",", ":"))[:40]
    return str(value)


def _verdict(decision: dict[str, Any]) -> str:
    """The verdict, with the review status unless it is final ("review (pending)")."""
    status = decision.get("status")
    suffix = f" ({status})" if status not in (None, "final") else ""
    return f"{decision.get('verdict')}{suffix}"


def render_table(decision: dict[str, Any]) -> str:
    risk = decision.get("risk") or {}
    lines = [
        f"verdict: {_verdict(decision)}",
        f"tier: {decision.get('tier')}   bias-impact: {_cell(risk.get('bias_impact'))}"
        f"   exposure: {_cell(risk.get('exposure'))}",
        f"decision: {decision.get('id')}   ledger entry: "
        f"{decision.get('ledger_index')}   bundle: {decision.get('bundle_digest')}",
    ]
    reasons = decision.get("reasons") or []
    if not reasons:
        lines.append("no rule fired")
        return "\n".join(lines)

    header = ("EFFECT", "POLICY", "WHERE", "OBSERVED", "THRESHOLD", "MESSAGE")
    rows = [
        (
            _cell(r.get("effect")),
            _cell(r.get("policy")),
            f"{r.get('file', '?')}:{r.get('line', '?')}",
            _cell(r.get("observed")),
            _cell(r.get("threshold")),
            _cell(r.get("message")),
        )
        for r in reasons
    ]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(5)]
    lines.append("")
    for row in [header, *rows]:
        cells = [row[i].ljust(widths[i]) for i in range(5)]
        lines.append("  ".join([*cells, row[5]]))
    return "\n".join(lines)


def render_markdown(decision: dict[str, Any]) -> str:
    risk = decision.get("risk") or {}
    model = decision.get("model") or {}
    out = [
        f"## govsvc gate: {_verdict(decision)}",
        "",
        f"Model **{model.get('name')}** {model.get('version')} for "
        f"**{decision.get('stage')}**: tier **{decision.get('tier')}**, "
        f"bias-impact {_cell(risk.get('bias_impact'))}, "
        f"exposure {_cell(risk.get('exposure'))}.",
        "",
        f"Decision `{decision.get('id')}`, "
        f"ledger entry {decision.get('ledger_index')}, "
        f"bundle `{decision.get('bundle_digest')}`.",
        "",
    ]
    reasons = decision.get("reasons") or []
    if reasons:
        out += [
            "| effect | policy | where | observed | threshold | message |",
            "| --- | --- | --- | --- | --- | --- |",
        ]
        for r in reasons:
            cells = [
                _cell(r.get("effect")),
                _cell(r.get("policy")),
                f"{r.get('file', '?')}:{r.get('line', '?')}",
                _cell(r.get("observed")),
                _cell(r.get("threshold")),
                _cell(r.get("message")).replace("|", "\\|"),
            ]
            out.append("| " + " | ".join(cells) + " |")
    else:
        out.append("No rule fired.")
    return "\n".join(out) + "\n"


def _append_summary(markdown: str) -> None:
    path = os.environ.get("GITHUB_STEP_SUMMARY")
    if not path:
        print(
            "govsvc gate: --github-summary given but GITHUB_STEP_SUMMARY is not set; "
            "no summary written",
            file=sys.stderr,
        )
        return
    with open(path, "a", encoding="utf-8") as summary:
        summary.write(markdown + "\n")
