"""The REST service: a FastAPI application over the decision core and the ledger.

    from govsvc.api import create_app, prepare
    prepare(settings)            # migrations, key, first bundle, first admin token
    app = create_app(settings)   # routes, auth, problem+json errors, metrics

Modules: `app` (factory and start-up), `service` (decisions, reviews, publications,
each in one transaction with its ledger entries), `routes/` (one module per
resource), `auth` (bearer tokens and roles), `problems` (RFC 9457 errors),
`middleware` (request id, body limit, one log line per request), `metrics`.
docs/api.md describes the routes.
"""

from govsvc.api.app import build_service, create_app, prepare

__all__ = ["build_service", "create_app", "prepare"]
