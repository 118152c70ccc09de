"""The FastAPI application and what it stands on.

    prepare(settings)    once per deployment start, before any worker: migrations,
                         the signing key, the first bundle, the first admin token
    build_service(s)     per process: engine, signer, ledger, bundle cache
    create_app(s)        per process: the app, its routes, errors and middleware

`govsvc serve` runs `prepare` and then uvicorn with `create_app` as a factory, so each
worker builds its own engine and ledger. With several workers on SQLite it also
runs one writer process that records every worker's decisions
(`govsvc.api.writer`); a worker finds it through `GOVSVC_WRITER_SOCKET`.
"""

from __future__ import annotations

import gc
import logging
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from fastapi import FastAPI

from govsvc import __version__, logs
from govsvc.api import problems, writer
from govsvc.api.direct import DirectRoutes
from govsvc.api.metrics import Metrics
from govsvc.api.middleware import RequestMiddleware
from govsvc.api.routes import decisions, health, ledger, policies, tokens
from govsvc.api.service import Service
from govsvc.settings import Settings, load_settings
from govsvc.store.engine import WalCheckpointer, make_engine

if TYPE_CHECKING:
    from govsvc.ledger.keys import Signer

log = logging.getLogger(__name__)

DESCRIPTION = """\
Governance for machine-learning models, written as policy as code.

A CI pipeline posts an evaluation request to `/v1/decisions` and gets a verdict
(allow, warn, review, deny) with its reasons, the model's risk tier and a receipt
from the audit ledger. Send `Authorization: Bearer <token>`; errors are RFC 9457
problem documents.
"""


def _signer(settings: Settings) -> Signer:
    from govsvc.ledger.keys import load_or_create_signer

    return load_or_create_signer(settings.signing_key_path, settings.signer_name)


def build_service(settings: Settings, *, checkpoint_wal: bool = True) -> Service:
    """The engine, the ledger and the bundle cache of one process. On SQLite, with
    `checkpoint_wal` it copies the write-ahead log into the database from a thread
    (`WalCheckpointer`): one process per database does, the one that writes most."""
    from govsvc.ledger.log import Ledger

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    sqlite = settings.resolved_database_url.startswith("sqlite")
    engine = make_engine(
        settings.resolved_database_url,
        pool_size=settings.pool_size,
        auto_checkpoint=not sqlite,
    )
    ledger = Ledger(engine, _signer(settings), settings.log_origin)
    checkpointer = (
        WalCheckpointer(engine).start() if sqlite and checkpoint_wal else None
    )
    return Service(settings, engine, ledger, checkpointer=checkpointer)


@dataclass(frozen=True)
class Prepared:
    seeded: int  # policy files published from the policies directory
    admin_token: str | None  # the first admin token, on the very first start only


def prepare(settings: Settings) -> Prepared:
    """Bring a deployment to a state where workers can serve: schema at head, the
    signing key present, a bundle published, and a pending checkpoint signed."""
    from govsvc.store import tokens as token_store
    from govsvc.store.migrate import upgrade

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings.resolved_database_url)

    service = build_service(settings)
    try:
        service.ledger.sign_pending()
        seeded = service.seed_policies()
        try:
            with service.engine.begin() as conn:
                admin = token_store.bootstrap_admin(conn)
        except sa.exc.IntegrityError:
            admin = None  # another replica bootstrapped at the same moment
    finally:
        service.close()
    return Prepared(seeded, admin)


def create_app(
    settings: Settings | None = None, service: Service | None = None
) -> FastAPI:
    """The application; with no arguments, settings from the environment."""
    settings = settings or load_settings()
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        writer_socket = os.environ.get(writer.SOCKET_ENV)
        if getattr(app.state, "service", None) is None:
            # With a writer process, it checkpoints the log: it writes nearly all.
            app.state.service = build_service(
                settings, checkpoint_wal=not writer_socket
            )
        settle_process()
        if writer_socket:
            app.state.service.writer = writer.WriterClient(writer_socket)
        try:
            yield
        finally:
            if app.state.service.writer is not None:
                await app.state.service.writer.close()
            app.state.service.close()

    # Looking up OpenTelemetry's providers cost an eighth of a /healthz request.
    otel = settings.opentelemetry
    app = FastAPI(
        title="govsvc",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        telemetry={
            "tracing": otel,
            "metrics": otel,
            "logs": otel,
            "operation_spans": otel,
        },
    )
    app.state.metrics = metrics
    app.state.service = service
    problems.install(app)
    for module in (health, decisions, policies, ledger, tokens):
        app.include_router(module.router)
    # Added first, so it runs inside RequestMiddleware (request id, body limit, log).
    app.add_middleware(
        DirectRoutes, routes={("POST", "/v1/decisions"): decisions.create_decision}
    )
    app.add_middleware(
        RequestMiddleware, max_body_bytes=settings.max_body_bytes, metrics=metrics
    )
    _describe_request_body(app)
    return app


# A decision allocates thousands of short-lived objects (the parsed request, the
# facts, rows); at the default threshold of 700 the collector ran every few
# requests, and each full pass walked every object the process had loaded
# (SQLAlchemy, FastAPI, the compiled bundle): a tenth of the server's CPU under load,
# measured with perf. The objects alive at start-up are frozen out of its passes,
# and young collections run less often. Reference counting still frees nearly all
# of a request's objects at once; only cycles wait for the collector.
GC_THRESHOLDS = (50_000, 20, 100)


# The ledger's writer thread makes many short database calls, each releasing the GIL;
# with the default 5 ms switch interval it may wait that long to get it back from the
# event loop's thread while that one assesses a request.
GIL_SWITCH_INTERVAL_SECONDS = 0.0005


_settled = False


def settle_process() -> None:
    """Once per serving process (each of uvicorn's workers starts afresh): logging
    as the `govsvc` command set it, the GIL's switch interval, the collector. Once,
    not per app: a process that builds many apps (the tests) would freeze each
    one's garbage out of the collector's reach."""
    global _settled
    if _settled:
        return
    _settled = True

    if not logging.getLogger().handlers:
        logs.configure()
    sys.setswitchinterval(GIL_SWITCH_INTERVAL_SECONDS)
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def _describe_request_body(app: FastAPI) -> None:
    """Add `EvaluationRequest` and the models it uses to the OpenAPI components.

    `POST /v1/decisions` parses its body itself (in the worker thread that decides,
    not on the event loop) and only refers to the schema, so FastAPI does not
    collect it."""
    from govsvc.assess import EvaluationRequest

    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = build()
            found = EvaluationRequest.model_json_schema(
                ref_template="#/components/schemas/{model}"
            )
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            components.update(found.pop("$defs", {}))
            components["EvaluationRequest"] = found
        return app.openapi_schema or build()

    app.openapi = openapi  # type: ignore[method-assign]
