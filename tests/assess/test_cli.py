"""`govsvc assess`: facts and risk as JSON; every problem of a bad request."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from govsvc.cli import main

from .sample import sample

POLICY = """\
policy tiers
  "A small ladder for the test."

  tiers minimal, limited, high, unacceptable
  tier high when model.domain == "credit"
  escalate by 1 when has(drift.critical_alerts) and drift.critical_alerts > 0
  minimum group size 3000
"""


def _write(tmp_path: Path, name: str, data: Any) -> str:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return str(path)


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(["assess", *argv])
    out, err = capsys.readouterr()
    return status, out, err


def test_assess_prints_facts_and_risk(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, _ = _run(capsys, _write(tmp_path, "r.json", sample()))

    assert status == 0
    output = json.loads(out)
    assert set(output) == {"facts", "tier_state", "tier_changed", "explanation"}
    assert output["facts"]["fairness"]["gender"]["demographic_parity_difference"] == (
        pytest.approx(0.065)
    )
    assert output["facts"]["risk"]["tier"] == output["tier_state"]["tier"]
    assert 0 <= output["facts"]["risk"]["bias_impact"] <= 100


def test_assess_with_policies_uses_the_bundle(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bundle = tmp_path / "policies"
    bundle.mkdir()
    (bundle / "tiers.policy").write_text(POLICY)

    status, out, err = _run(
        capsys, _write(tmp_path, "r.json", sample()), "--policies", str(bundle)
    )

    assert status == 0, err
    facts = json.loads(out)["facts"]
    assert facts["risk"]["base_tier"] == "high"
    assert facts["risk"]["tier"] == "unacceptable"  # the critical alert escalates
    assert facts["fairness"]["gender"]["low_support_groups"] == ["female", "male"]


def test_assess_with_previous_state(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = sample()
    del data["drift"]["alerts"]
    data["model"]["domain"] = "retail"
    state = {"tier": "high", "base_tier": "minimal", "clean_streak": 0}

    status, out, _ = _run(
        capsys,
        _write(tmp_path, "r.json", data),
        "--previous",
        _write(tmp_path, "s.json", state),
    )

    assert status == 0
    output = json.loads(out)
    assert output["facts"]["risk"]["previous_tier"] == "high"
    assert output["tier_state"]["clean_streak"] == 1
    assert output["tier_changed"] is False


def test_assess_bad_request_lists_every_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = sample()
    data["groups"]["gender"]["male"]["fp"] = -1
    data["drift"]["features"]["income"]["current"] = [1, 2]

    status, out, err = _run(capsys, _write(tmp_path, "r.json", data))

    assert status == 1 and out == ""
    assert "has 2 problems" in err
    assert "groups.gender.male.fp: Input should be greater than or equal to 0" in err
    assert "drift.features.income: reference and current must have the same bins" in err
    assert "Traceback" not in err


def test_assess_invalid_json_names_line_and_column(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, _, err = _run(capsys, _write(tmp_path, "r.json", '{"model": \n  {,}'))

    assert status == 1
    assert "r.json:2:4: not valid JSON" in err


def test_assess_missing_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, _, err = _run(capsys, str(tmp_path / "nope.json"))

    assert status == 1
    assert "cannot read" in err and "nope.json" in err


def test_assess_bad_previous_state(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, _, err = _run(
        capsys,
        _write(tmp_path, "r.json", sample()),
        "--previous",
        _write(tmp_path, "s.json", {"tier": "high"}),
    )

    assert status == 1
    assert "tier state: base_tier must be a tier name" in err
