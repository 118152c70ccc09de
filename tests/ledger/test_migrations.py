"""The Alembic migrations: they build exactly the tables the models describe."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from govsvc.cli import main
from govsvc.ledger import storage
from govsvc.store import decisions as rows
from govsvc.store import migrate
from govsvc.store.packed import pack
from govsvc.store.tables import decisions

ROOT = Path(__file__).parents[2]
ALEMBIC = [sys.executable, "-m", "alembic", "-c", str(ROOT / "alembic.ini")]
FACTS = '{"fairness":{"gender":{"demographic_parity_difference":0.04}}}'


def test_upgrade_head_matches_models(database_url: str) -> None:
    migrate.upgrade(database_url)

    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(
                conn, opts={"compare_type": True, "compare_server_default": True}
            )
            diff = compare_metadata(context, migrate.target_metadata())
            head_rows = conn.execute(sa.select(storage.head)).all()
    finally:
        engine.dispose()

    assert diff == []
    assert [tuple(r) for r in head_rows] == [(1, 0)]


def test_upgrade_twice_is_a_no_op(database_url: str) -> None:
    migrate.upgrade(database_url)
    migrate.upgrade(database_url)

    assert migrate.current(database_url) == "0003"


def test_upgrade_ledger_revision_only(database_url: str) -> None:
    migrate.upgrade(database_url, "0001")

    engine = sa.create_engine(database_url)
    try:
        names = set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()
    assert {t.name for t in storage.metadata.sorted_tables} <= names
    assert "decisions" not in names
    assert migrate.current(database_url) == "0001"


def test_upgrade_unknown_revision_raises(database_url: str) -> None:
    with pytest.raises(migrate.MigrationError, match=r"cannot migrate .* to 9999"):
        migrate.upgrade(database_url, "9999")


def test_cli_db_upgrade(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"

    assert main(["db", "upgrade", "--url", url]) == 0
    assert "database at revision 0003" in capsys.readouterr().out
    assert main(["db", "current", "--url", url]) == 0
    assert capsys.readouterr().out.strip() == "0003"


def test_cli_db_upgrade_bad_url_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'missing-dir' / 'x.db'}"

    assert main(["db", "upgrade", "--url", url]) == 1
    assert "the database refused" in capsys.readouterr().err


def _decision(**facts: Any) -> dict[str, Any]:
    """A decision row's values, with its facts as given."""
    return {
        "id": "01a2-old",
        "created_at": "2026-12-01T09:00:00Z",
        "model": "credit-scorer",
        "model_version": "2.4.0",
        "stage": "staging",
        "verdict": "allow",
        "tier": "limited",
        "status": "final",
        "bundle_digest": "sha256:aa",
        "request_digest": "sha256:bb",
        "ledger_index": 0,
        "token_id": "t1",
        "body": {"id": "01a2-old", "risk": {"tier": "limited"}},
        **facts,
    }


def _insert(url: str, values: dict[str, Any]) -> None:
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(decisions.insert().values(values))
    finally:
        engine.dispose()


def _alembic(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    """The alembic command, as an operator runs it from the source tree."""
    return subprocess.run(
        [*ALEMBIC, "-x", f"url={url}", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )


def test_decisions_from_before_packing_read_as_they_were(database_url: str) -> None:
    migrate.upgrade(database_url, "0002")
    _insert(database_url, _decision(facts=FACTS))

    migrate.upgrade(database_url)

    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as conn:
            row = rows.get_decision(conn, "01a2-old")
    finally:
        engine.dispose()
    assert row.facts_zstd is None
    assert rows.facts_of(row) == FACTS


def test_packing_upgrade_rewrites_no_sqlite_table(tmp_path: Path) -> None:
    # A copied table would get a new root page (and need room for the copy).
    url = f"sqlite:///{tmp_path / 'old.db'}"
    migrate.upgrade(url, "0002")
    _insert(url, _decision(facts=FACTS))
    before = _root_pages(url)

    migrate.upgrade(url)

    assert _root_pages(url) == before


def _root_pages(url: str) -> dict[str, int]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            found = conn.exec_driver_sql("SELECT name, rootpage FROM sqlite_master")
            return {name: page for name, page in found if page}
    finally:
        engine.dispose()


def test_downgrade_refuses_to_lose_packed_facts(database_url: str) -> None:
    migrate.upgrade(database_url)
    _insert(database_url, _decision(facts="", facts_zstd=pack(FACTS)))

    refused = _alembic(database_url, "downgrade", "0002")

    assert refused.returncode != 0
    assert "1 decisions keep their facts packed" in refused.stderr
    assert migrate.current(database_url) == "0003"


def test_downgrade_without_packed_facts_restores_0002(database_url: str) -> None:
    migrate.upgrade(database_url)
    _insert(database_url, _decision(facts=FACTS))

    done = _alembic(database_url, "downgrade", "0002")

    assert done.returncode == 0, done.stderr
    assert migrate.current(database_url) == "0002"
    engine = sa.create_engine(database_url)
    try:
        columns = {c["name"]: c for c in sa.inspect(engine).get_columns("decisions")}
    finally:
        engine.dispose()
    assert "facts_zstd" not in columns
    assert columns["facts"]["nullable"] is False
