"""`govsvc policy ...` end to end: exit codes and output."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from govsvc.cli import main

GOOD = 'policy p\n\n  warn "drift {value}"\n    when drift.max_psi > 0.1\n'
TEST = 'test "t"\n  given drift.max_psi = 0.2\n  expect warn\n'


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_check_good_file_exits_0(tmp_path: Path) -> None:
    assert main(["policy", "check", str(write(tmp_path, "p.policy", GOOD))]) == 0


def test_check_bad_file_prints_caret_and_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, "p.policy", 'policy p\n  deny "x" when stag == "canary"\n')

    status = main(["policy", "check", str(path)])

    out = capsys.readouterr().out
    assert status == 1
    assert f"{path}:2:17: error: unknown name stag; did you mean stage? [P101]" in out
    assert out.splitlines()[2] == "                    ^^^^"


def test_check_json_format(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "p.policy", "policy p\n  let x = \n")

    status = main(["policy", "check", "--format", "json", str(path)])

    report = json.loads(capsys.readouterr().out)
    assert status == 1
    assert report["errors"] == 1
    assert report["diagnostics"][0]["code"] == "P001"
    assert report["diagnostics"][0]["line"] == 2


def test_check_binary_file_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bin.policy"
    path.write_bytes(b"\xff\xfe\x00garbage")

    status = main(["policy", "check", str(path)])

    assert status == 1
    assert "not UTF-8 text (byte 0xff)" in capsys.readouterr().out


def test_check_missing_path_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(["policy", "check", str(tmp_path / "nope")])

    assert status == 1
    assert "does not exist" in capsys.readouterr().out


def test_fmt_check_then_rewrite(tmp_path: Path) -> None:
    path = write(
        tmp_path, "p.policy", 'policy p warn "drift {value}" when drift.max_psi>0.1'
    )

    assert main(["policy", "fmt", "--check", str(path)]) == 1
    path.chmod(0o644)
    assert main(["policy", "fmt", str(path)]) == 0
    assert path.read_text() == GOOD
    assert path.stat().st_mode & 0o777 == 0o644
    assert main(["policy", "fmt", "--check", str(path)]) == 0


def test_test_last_line_counts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(tmp_path, "p.policy", GOOD + "\n" + TEST)

    status = main(["policy", "test", str(tmp_path)])

    assert status == 0
    assert capsys.readouterr().out.splitlines()[-1] == "1 passed, 0 failed"


def test_test_failure_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(
        tmp_path, "p.policy", GOOD + "\n" + TEST.replace("expect warn", "expect deny")
    )

    status = main(["policy", "test", str(tmp_path)])

    out = capsys.readouterr().out
    assert status == 1
    assert "expected deny, got warn" in out
    assert out.splitlines()[-1] == "0 passed, 1 failed"


def test_eval_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    policy = write(tmp_path, "p.policy", GOOD)
    facts = write(tmp_path, "facts.json", json.dumps({"drift": {"max_psi": 0.3}}))

    status = main(
        ["policy", "eval", "--format", "json", "--facts", str(facts), str(policy)]
    )

    result = json.loads(capsys.readouterr().out)
    assert status == 0
    assert result["verdict"] == "warn"
    assert result["reasons"][0]["message"] == "drift 0.3"
    assert result["digest"].startswith("sha256:")


def test_eval_bad_facts_is_one_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    policy = write(tmp_path, "p.policy", GOOD)
    facts = write(tmp_path, "facts.json", "[1, 2")

    status = main(["policy", "eval", "--facts", str(facts), str(policy)])

    assert status == 1
    assert "cannot read facts from" in capsys.readouterr().err


def test_eval_computes_the_tier_when_facts_lack_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    policy = write(
        tmp_path,
        "p.policy",
        'policy p\n  tier high when model.domain == "credit"\n\n'
        '  review "high" when risk.tier == "high"\n',
    )
    facts = write(tmp_path, "facts.json", json.dumps({"model": {"domain": "credit"}}))

    status = main(["policy", "eval", "--facts", str(facts), str(policy)])

    out = capsys.readouterr().out.splitlines()
    assert status == 0
    assert out[:2] == ["verdict: review", "tier: high"]
