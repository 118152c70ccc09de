"""`govsvc serve`: run the REST service."""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import tempfile

log = logging.getLogger(__name__)


EPILOG = """\
examples:
  govsvc serve                              SQLite in ./.govsvc/, policies/ seeded
  govsvc serve --host 0.0.0.0 --port 8080 --workers 4
  GOVSVC_DATABASE_URL=postgresql+psycopg://govsvc@db/govsvc govsvc serve

On start: migrations are applied, the signing key is created (mode 0600) if there
is none, the policies directory is published when the database has no bundle, and
on the very first start an admin token is printed once. Keep it: it is stored only
hashed. Settings come from GOVSVC_* variables (see docs/api.md).
"""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "serve",
        help="run the REST service",
        description="Run the REST service under uvicorn.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--host", help="address to bind (GOVSVC_HOST, 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port to bind (GOVSVC_PORT, 8080)")
    parser.add_argument(
        "--workers", type=int, help="worker processes (GOVSVC_WORKERS, 1)"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import uvicorn

    from govsvc import logs
    from govsvc.api.app import prepare
    from govsvc.settings import load_settings

    # Flags override the environment; workers are separate processes that read
    # their settings from it, so the overrides go there too.
    for flag in ("host", "port", "workers"):
        value = getattr(args, flag)
        if value is not None:
            os.environ[f"GOVSVC_{flag.upper()}"] = str(value)
    settings = load_settings()
    os.environ[logs.VERBOSE_ENV] = "1" if args.verbose else "0"

    prepared = prepare(settings)
    if prepared.seeded:
        log.info(
            "published %s policy files from %s", prepared.seeded, settings.policies_dir
        )
    if prepared.admin_token is not None:
        print(
            "First start: this admin token is shown once and stored only hashed.\n"
            "Create other tokens with it (POST /v1/tokens) or with "
            "`govsvc tokens create --role ROLE`.\n"
            f"{prepared.admin_token}",
            flush=True,
        )

    log.info(
        "serving on http://%s:%s with %s worker(s), database %s",
        settings.host,
        settings.port,
        settings.workers,
        _safe_url(settings.resolved_database_url),
    )
    # Several workers on one SQLite file: one process records all their decisions
    # (govsvc.api.writer). One worker records its own, as every replica does on
    # PostgreSQL.
    writer = None
    if settings.workers > 1 and settings.resolved_database_url.startswith("sqlite"):
        from govsvc.api.writer import SOCKET_ENV, WriterProcess

        writer = WriterProcess().start()
        os.environ[SOCKET_ENV] = writer.path
    metrics_dir = None
    if settings.workers > 1:
        from govsvc.api.metrics import MULTIPROC_ENV

        # Every worker keeps its counts in a file here, and a scrape of any worker
        # adds them all up (govsvc.api.metrics). A new directory each start: what
        # an earlier run left would be counted again.
        metrics_dir = tempfile.mkdtemp(prefix="govsvc-metrics-")
        os.environ[MULTIPROC_ENV] = metrics_dir
        log.info("the workers' metrics are added up in %s", metrics_dir)
    try:
        uvicorn.run(
            "govsvc.api.app:create_app",
            factory=True,
            host=settings.host,
            port=settings.port,
            workers=settings.workers,
            log_config=None,  # keep the govsvc command's logging
            access_log=False,  # the app logs one line per request itself
            server_header=False,
            http="govsvc.api.http:GatheredWritesProtocol",
        )
    finally:
        if writer is not None:
            writer.stop()  # after the workers: their decisions in flight finish
        if metrics_dir is not None:
            shutil.rmtree(metrics_dir, ignore_errors=True)
    return 0


def _safe_url(url: str) -> str:
    import sqlalchemy as sa

    return sa.make_url(url).render_as_string(hide_password=True)
