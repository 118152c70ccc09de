"""An app on a fresh database (SQLite and PostgreSQL), with a token per role.

A first start (migrations, key, seeding) costs a few hundred milliseconds; on SQLite
it is done once per session and each test gets a copy of that data directory.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from govsvc.api.app import create_app, prepare
from govsvc.store import tokens

from .helpers import ROLES, Api, make_settings


@pytest.fixture(scope="session")
def sqlite_first_start(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A data directory after the first start, and the admin token it printed."""
    root = tmp_path_factory.mktemp("first-start")
    settings = make_settings(f"sqlite:///{root / 'data' / 'govsvc.db'}", root)
    prepared = prepare(settings)
    assert prepared.admin_token is not None
    return root, prepared.admin_token


@pytest.fixture
def api(
    database_url: str, tmp_path: Path, sqlite_first_start: tuple[Path, str]
) -> Iterator[Api]:
    if database_url.startswith("sqlite"):
        template, admin = sqlite_first_start
        shutil.copytree(template, tmp_path, dirs_exist_ok=True)
        settings = make_settings(
            f"sqlite:///{tmp_path / 'data' / 'govsvc.db'}", tmp_path
        )
    else:
        settings = make_settings(database_url, tmp_path)
        prepared = prepare(settings)
        assert prepared.admin_token is not None
        admin = prepared.admin_token

    app = create_app(settings)
    with TestClient(app, raise_server_exceptions=False) as client:
        service = app.state.service
        secrets = {"admin": admin}
        with service.engine.begin() as conn:
            for role in ROLES[:-1]:
                secrets[role] = tokens.create(conn, [role], f"test {role}")[1]
        yield Api(client, settings, secrets)
