"""An app on a fresh database (SQLite and PostgreSQL), with a token per role."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from govsvc.api.app import create_app, prepare
from govsvc.store import tokens

from .helpers import ROLES, Api, make_settings


@pytest.fixture
def api(database_url: str, tmp_path: Path) -> Iterator[Api]:
    settings = make_settings(database_url, tmp_path)
    prepared = prepare(settings)
    assert prepared.admin_token is not None

    app = create_app(settings)
    with TestClient(app, raise_server_exceptions=False) as client:
        service = app.state.service
        secrets = {"admin": prepared.admin_token}
        with service.engine.begin() as conn:
            for role in ROLES[:-1]:
                secrets[role] = tokens.create(conn, [role], f"test {role}")[1]
        yield Api(client, settings, secrets)
