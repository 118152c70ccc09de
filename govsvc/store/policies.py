"""The policies in force, stored in the database so that every replica serves the same.

`bundle_state` holds one row: a version number that each publication increments and
the bundle's digest. A replica compares that number with the one it compiled before
each decision (one primary-key read) and recompiles only when it changed; the
sources themselves are in `policy_files`, in canonical text.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from govsvc.ledger.storage import on_driver
from govsvc.policy import Bundle, PolicyError, compile_sources
from govsvc.store.errors import BadRequest, NotFound, Unavailable, Unprocessable
from govsvc.store.tables import bundle_state, policy_files, policy_publications
from govsvc.store.time import now

log = logging.getLogger(__name__)

POLICY_SUFFIX = ".policy"
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,99}$")

Append = Callable[[dict[str, Any]], Any]


def filename_for(name: str) -> str:
    """`fairness` -> `fairness.policy`; a name is a plain lowercase file stem."""
    stem = name.removesuffix(POLICY_SUFFIX)
    if not _NAME.match(stem):
        raise BadRequest(
            f"a policy name is lowercase letters, digits, '-' and '_' (at most 100), "
            f"found {name!r}"
        )
    return stem + POLICY_SUFFIX


def sha256_text(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def read_directory(directory: Path) -> dict[str, str]:
    """The `*.policy` files of a directory, by file name."""
    if not directory.is_dir():
        raise Unavailable(
            f"the policies directory {directory} does not exist; set "
            "GOVSVC_POLICIES_DIR or create it"
        )
    return {
        path.name: path.read_text(encoding="utf-8")
        for path in sorted(directory.glob(f"*{POLICY_SUFFIX}"))
    }


def current_version(conn: sa.Connection) -> tuple[int, str] | None:
    # Read by every ledger batch of decisions, on the DB-API cursor: through
    # SQLAlchemy's execution context (`exec_driver_sql`) it cost four times as much.
    rows = on_driver(conn, "SELECT version, digest FROM bundle_state WHERE id = 1")
    return (int(rows[0][0]), str(rows[0][1])) if rows else None


def load_sources(conn: sa.Connection) -> dict[str, str]:
    rows = conn.execute(sa.select(policy_files.c.name, policy_files.c.source))
    return {row.name: row.source for row in rows}


def list_files(conn: sa.Connection) -> list[dict[str, Any]]:
    rows = conn.execute(
        sa.select(
            policy_files.c.name, policy_files.c.sha256, policy_files.c.updated_at
        ).order_by(policy_files.c.name)
    )
    return [
        {
            "name": row.name.removesuffix(POLICY_SUFFIX),
            "file": row.name,
            "sha256": row.sha256,
            "updated_at": row.updated_at,
        }
        for row in rows
    ]


def get_file(conn: sa.Connection, name: str) -> dict[str, Any]:
    filename = filename_for(name)
    row = conn.execute(
        sa.select(policy_files).where(policy_files.c.name == filename)
    ).first()
    if row is None:
        raise NotFound(f"no policy {name!r}; GET /v1/policies lists them")
    return {
        "name": filename.removesuffix(POLICY_SUFFIX),
        "file": filename,
        "sha256": row.sha256,
        "updated_at": row.updated_at,
        "source": row.source,
    }


def compile_or_reject(sources: Mapping[str, str]) -> Bundle:
    """Compile a whole bundle; any error rejects it with every diagnostic."""
    try:
        return compile_sources(dict(sources))
    except PolicyError as exc:
        diagnostics = [d.to_dict() for d in exc.diagnostics]
        raise Unprocessable(
            f"the policies have {len(diagnostics)} error(s); nothing was published "
            f"and the bundle in force is unchanged: {exc}",
            diagnostics=diagnostics,
        ) from exc


def _write(
    conn: sa.Connection,
    append: Append,
    bundle: Bundle,
    changed: list[str],
    *,
    version: int,
    author: str,
) -> list[dict[str, Any]]:
    # One ledger entry per file published: what changed, and the bundle it made.
    stamp = now()
    published = []
    for filename in changed:
        text = bundle.sources[filename]
        digest = sha256_text(text)
        values = {"source": text, "sha256": digest, "updated_at": stamp}
        updated = conn.execute(
            policy_files.update().where(policy_files.c.name == filename).values(values)
        )
        if updated.rowcount == 0:
            conn.execute(policy_files.insert().values(name=filename, **values))
        entry = {
            "type": "policy",
            "name": filename,
            "sha256": digest,
            "bundle_digest": bundle.digest,
            "bundle_version": version,
            "author": author,
            "time": stamp,
        }
        appended = append(entry)
        conn.execute(
            policy_publications.insert().values(
                name=filename,
                sha256=digest,
                bundle_version=version,
                bundle_digest=bundle.digest,
                author=author,
                created_at=stamp,
                ledger_index=appended.index,
            )
        )
        published.append({**entry, "ledger_index": appended.index})
    return published


def seed(
    conn: sa.Connection, append: Append, sources: Mapping[str, str]
) -> list[dict[str, Any]]:
    """On first start, publish the shipped policies; a no-op when a bundle exists.
    The `bundle_state` row's primary key makes a second seeder's insert fail."""
    if current_version(conn) is not None:
        return []
    if not sources:
        raise Unavailable(
            "there are no policies to seed from; put *.policy files in "
            "GOVSVC_POLICIES_DIR (default policies/)"
        )
    bundle = compile_or_reject(sources)
    conn.execute(
        bundle_state.insert().values(
            id=1, version=1, digest=bundle.digest, updated_at=now()
        )
    )
    return _write(
        conn, append, bundle, sorted(bundle.sources), version=1, author="seed"
    )


def publish(
    conn: sa.Connection, append: Append, name: str, text: str, author: str
) -> tuple[Bundle, list[dict[str, Any]]]:
    """Publish one file: the whole bundle with it must compile, or nothing changes."""
    filename = filename_for(name)
    row = conn.execute(
        sa.select(bundle_state.c.version)
        .where(bundle_state.c.id == 1)
        .with_for_update()
    ).first()
    if row is None:
        raise Unavailable("no bundle is published yet; start the service to seed one")

    sources = load_sources(conn)
    sources[filename] = text
    bundle = compile_or_reject(sources)

    version = int(row.version) + 1
    conn.execute(
        bundle_state.update()
        .where(bundle_state.c.id == 1)
        .values(version=version, digest=bundle.digest, updated_at=now())
    )
    published = _write(conn, append, bundle, [filename], version=version, author=author)
    return bundle, published


@dataclass
class _Compiled:
    version: int
    bundle: Bundle


class BundleCache:
    """The compiled bundle of this process, kept in step with `bundle_state`."""

    def __init__(self) -> None:
        self._compiled: _Compiled | None = None
        self._lock = threading.Lock()

    def current(self, conn: sa.Connection) -> Bundle:
        found = current_version(conn)
        if found is None:
            raise Unavailable(
                "no policy bundle is published; the service seeds one from "
                "GOVSVC_POLICIES_DIR on start"
            )
        version, _digest = found

        compiled = self._compiled
        if compiled is not None and compiled.version >= version:
            return compiled.bundle
        with self._lock:
            compiled = self._compiled
            if compiled is not None and compiled.version >= version:
                return compiled.bundle
            # The sources may already be newer than `version` (a publication
            # committed in between); then the next request sees a higher version
            # and compiles again. Versions only grow, so the reverse cannot happen.
            sources = load_sources(conn)
            bundle = compile_or_reject(sources)
            self._compiled = _Compiled(version, bundle)
            log.info("compiled policy bundle version %s (%s)", version, bundle.digest)
            return bundle

    @property
    def loaded(self) -> Bundle | None:
        return self._compiled.bundle if self._compiled is not None else None
