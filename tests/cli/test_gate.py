from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from govsvc.cli import main
from govsvc.cli.gate import exit_status, render_markdown, render_table

URL = "http://127.0.0.1:9"  # the discard port: nothing listens on loopback

DECISION: dict[str, Any] = {
    "id": "d-1",
    "verdict": "deny",
    "status": "final",
    "tier": "high",
    "model": {"name": "credit-scorer", "version": "2.4.0"},
    "stage": "production",
    "risk": {"bias_impact": 42.123456, "exposure": 0.31},
    "ledger_index": 7,
    "bundle_digest": "sha256:ab",
    "reasons": [
        {
            "effect": "deny",
            "policy": "fairness-baseline",
            "file": "fairness.policy",
            "line": 12,
            "observed": 0.12,
            "threshold": 0.05,
            "message": "gap on gender is 0.12 | above 0.05",
        }
    ],
}


@pytest.mark.parametrize(
    ("verdict", "status", "code"),
    [
        ("allow", "final", 0),
        ("warn", "final", 0),
        ("deny", "final", 1),
        ("review", "pending", 2),
        ("review", "approved", 0),
        ("review", "rejected", 1),
        ("maybe", "final", 3),
    ],
)
def test_exit_status_known_answers(verdict: str, status: str, code: int) -> None:
    assert exit_status({"verdict": verdict, "status": status}) == code


def test_render_table_lists_each_reason() -> None:
    table = render_table(DECISION)

    assert table.splitlines()[0] == "verdict: deny"
    assert "tier: high   bias-impact: 42.12   exposure: 0.31" in table
    assert "fairness.policy:12" in table
    assert table.splitlines()[-1].split() == [
        "deny",
        "fairness-baseline",
        "fairness.policy:12",
        "0.12",
        "0.05",
        "gap",
        "on",
        "gender",
        "is",
        "0.12",
        "|",
        "above",
        "0.05",
    ]


def test_render_table_without_reasons_says_so() -> None:
    assert render_table({**DECISION, "reasons": []}).endswith("no rule fired")


def test_render_markdown_escapes_pipes() -> None:
    markdown = render_markdown({**DECISION, "verdict": "review", "status": "pending"})

    assert markdown.startswith("## govsvc gate: review (pending)\n")
    assert "gap on gender is 0.12 \\| above 0.05 |" in markdown


def test_gate_without_token_exits_3(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.delenv("GOVSVC_TOKEN", raising=False)
    request = tmp_path / "r.json"
    request.write_text(json.dumps({"model": {}}))

    code = main(["gate", "--url", URL, "--request", str(request)])

    assert code == 3
    assert "no token: pass --token or set GOVSVC_TOKEN" in capsys.readouterr().err


def test_gate_bad_json_exits_3(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    request = tmp_path / "r.json"
    request.write_text("{not json")

    code = main(["gate", "--url", URL, "--request", str(request), "--token", "t"])

    assert code == 3
    assert "r.json is not valid JSON" in capsys.readouterr().err


def test_gate_unreachable_exits_3_after_retries(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    request = tmp_path / "r.json"
    request.write_text("{}")

    # No retries keeps it quick.
    code = main(
        [
            "gate",
            "--url",
            URL,
            "--request",
            str(request),
            "--token",
            "t",
            "--retries",
            "0",
        ]
    )

    assert code == 3
    assert "the service is unreachable after 1 attempts" in capsys.readouterr().err
