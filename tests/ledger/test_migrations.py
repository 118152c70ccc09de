"""The Alembic migrations: they build exactly the tables the models describe."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from govsvc.cli import main
from govsvc.ledger import storage
from govsvc.store import migrate


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

    assert migrate.current(database_url) == "0002"


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
    assert "database at revision 0002" in capsys.readouterr().out
    assert main(["db", "current", "--url", url]) == 0
    assert capsys.readouterr().out.strip() == "0002"


def test_cli_db_upgrade_bad_url_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'missing-dir' / 'x.db'}"

    assert main(["db", "upgrade", "--url", url]) == 1
    assert "the database refused" in capsys.readouterr().err
