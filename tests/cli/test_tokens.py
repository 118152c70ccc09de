from __future__ import annotations

from pathlib import Path

import pytest

from govsvc.cli import main


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("GOVSVC_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("GOVSVC_DATABASE_URL", raising=False)
    return tmp_path


def test_create_prints_token_alone_on_last_line(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["tokens", "create", "--role", "ci", "--role", "auditor"]) == 0

    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].endswith("with roles auditor, ci")
    assert lines[-1].startswith("gsv_")
    assert " " not in lines[-1]


def test_list_shows_ids_not_secrets(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["tokens", "create", "--role", "reviewer", "--name", "alice"])
    secret = capsys.readouterr().out.strip().splitlines()[-1]

    assert main(["tokens", "list"]) == 0

    listing = capsys.readouterr().out
    assert "reviewer" in listing and "alice" in listing
    assert secret not in listing


def test_revoke_unknown_id_fails_with_message(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["tokens", "revoke", "nope"]) == 1

    assert "no live token with id 'nope'" in capsys.readouterr().err


def test_unknown_role_is_refused_by_argparse(data_dir: Path) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["tokens", "create", "--role", "root"])

    assert exit_info.value.code == 2
