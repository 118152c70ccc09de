"""`govsvc ledger audit` and `govsvc ledger proof` against a real database."""

from __future__ import annotations

import base64
import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "ledger"))
from ledger_helpers import fresh_ledger, make_signer

from govsvc.cli import main
from govsvc.ledger import merkle, storage
from govsvc.ledger.log import Ledger

SIZE = 11


@pytest.fixture
def ledger(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Ledger]:
    # The commands read GOVSVC_* settings: point them at nothing in particular.
    monkeypatch.setenv("GOVSVC_DATA_DIR", str(tmp_path / "data"))
    ledger = fresh_ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    for i in range(SIZE):
        ledger.submit(lambda _s, append, i=i: append({"i": i}))
    yield ledger
    ledger.close()
    ledger.engine.dispose()


def _url(ledger: Ledger) -> str:
    return ledger.engine.url.render_as_string(hide_password=False)


def test_audit_clean_ledger_exits_0(
    ledger: Ledger, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(
        ["ledger", "audit", "--database", _url(ledger), "--key", ledger.verifier_key]
    )

    out, err = capsys.readouterr()
    assert status == 0, err
    assert out == (
        f"ledger OK: {SIZE} entries, 3 tree nodes, {SIZE} checkpoints signed by "
        "1 trusted key(s)\n"
    )
    assert f"audit: {SIZE}/{SIZE} entries (100%)" in err


def test_audit_tampered_entry_exits_1(
    ledger: Ledger, capsys: pytest.CaptureFixture[str]
) -> None:
    with ledger.engine.begin() as conn:
        conn.execute(
            sa.update(storage.entries)
            .where(storage.entries.c.idx == 4)
            .values(body=b'{"i":40}')
        )

    status = main(
        ["ledger", "audit", "--database", _url(ledger), "--key", ledger.verifier_key]
    )

    assert status == 1
    assert (
        "ledger audit FAILED: entry 4: its stored leaf hash does not match"
        in capsys.readouterr().err
    )


def test_audit_without_keys_warns_and_trusts_stored(
    ledger: Ledger, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(["ledger", "audit", "--database", _url(ledger)])

    assert status == 0
    assert (
        "trusting the verifier keys stored in the database" in capsys.readouterr().err
    )


def test_audit_other_key_exits_1(
    ledger: Ledger, capsys: pytest.CaptureFixture[str]
) -> None:
    other = make_signer(seed=b"\x09" * 32).verifier_key

    assert main(["ledger", "audit", "--database", _url(ledger), "--key", other]) == 1
    assert "FAILED: checkpoint of size 1:" in capsys.readouterr().err


def test_proof_inclusion_prints_json(
    ledger: Ledger, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        main(
            [
                "ledger",
                "proof",
                "--database",
                _url(ledger),
                "--index",
                "3",
                "--size",
                "7",
            ]
        )
        == 0
    )

    out = json.loads(capsys.readouterr().out)
    assert (out["index"], out["size"]) == (3, 7)
    proof = [base64.b64decode(h) for h in out["hashes"]]
    assert proof == ledger.inclusion_proof(3, 7)
    merkle.verify_inclusion(
        base64.b64decode(out["leaf_hash"]), 3, 7, proof, ledger.root(7)
    )
    assert out["checkpoint"] == ledger.checkpoint(7).text  # type: ignore[union-attr]


def test_proof_inclusion_defaults_to_latest_checkpoint(
    ledger: Ledger, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["ledger", "proof", "--database", _url(ledger), "--index", "0"]) == 0

    assert json.loads(capsys.readouterr().out)["size"] == SIZE


def test_proof_consistency_prints_json(
    ledger: Ledger, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        main(
            ["ledger", "proof", "--database", _url(ledger), "--from", "3", "--to", "10"]
        )
        == 0
    )

    out = json.loads(capsys.readouterr().out)
    assert (out["from"], out["to"]) == (3, 10)
    assert [base64.b64decode(h) for h in out["hashes"]] == ledger.consistency_proof(
        3, 10
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--index", "3", "--size", "99"],
            "no tree of size 99: expected 0 <= size <= 11",
        ),
        (["--index", "8", "--size", "5"], "no proof for entry 8 in the tree of size 5"),
        (["--from", "9", "--to", "4"], "no proof for size 9 in the tree of size 4"),
    ],
)
def test_proof_bad_sizes_exit_1(
    ledger: Ledger, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    assert main(["ledger", "proof", "--database", _url(ledger), *args]) == 1
    assert message in capsys.readouterr().err


def test_proof_needs_one_form(
    ledger: Ledger, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exc:
        main(
            [
                "ledger",
                "proof",
                "--database",
                _url(ledger),
                "--index",
                "1",
                "--from",
                "0",
            ]
        )

    assert exc.value.code == 2
    assert (
        "give either --index I [--size N], or --from M --to N"
        in capsys.readouterr().err
    )


def test_audit_missing_sqlite_file_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "none.db"

    assert main(["ledger", "audit", "--database", f"sqlite:///{missing}"]) == 1
    assert f"no SQLite database at {missing}" in capsys.readouterr().err
    assert not missing.exists()


def test_proof_database_without_tables_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "empty.db"
    sa.create_engine(f"sqlite:///{empty}").connect().close()

    assert (
        main(["ledger", "proof", "--database", f"sqlite:///{empty}", "--index", "0"])
        == 1
    )
    err = capsys.readouterr().err
    assert "cannot read the ledger at sqlite:///" in err
    assert "no such table: ledger_head" in err


def test_proof_output_feeds_ledger_verify(
    ledger: Ledger, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A receipt against size 5, checked against the checkpoint of size 11 with the
    # consistency proof `govsvc ledger proof` prints.
    receipt = tmp_path / "receipt.json"
    receipt.write_text(json.dumps(ledger.receipt(2, size=5)))
    later = tmp_path / "later.note"
    later.write_text(ledger.checkpoint(SIZE).text)  # type: ignore[union-attr]
    url = _url(ledger)
    assert (
        main(["ledger", "proof", "--database", url, "--from", "5", "--to", "11"]) == 0
    )
    proof = tmp_path / "proof.json"
    proof.write_text(capsys.readouterr().out)

    status = main(
        [
            "ledger",
            "verify",
            str(receipt),
            "--key",
            ledger.verifier_key,
            "--checkpoint",
            str(later),
            "--consistency-proof",
            str(proof),
        ]
    )

    out, err = capsys.readouterr()
    assert status == 0, err
    assert "consistency" in out
