"""Routes served straight from the middleware stack, without FastAPI's router.

`POST /v1/decisions` is the route a pipeline waits on, at thousands of requests a
second; matching it against every route, building its dependency graph and
wrapping it in the exception middleware cost more than its own HTTP handling. It is
still declared on its router (for the OpenAPI document and for anything that calls
the app another way); this middleware answers it first, with the same errors.

A route served here must do all its own work from the request: FastAPI's
dependencies, and anything added to the router or its exception middleware, never
run for it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from govsvc.api import problems

Endpoint = Callable[[Request], Awaitable[Response]]


@dataclass(frozen=True)
class DirectRoute:
    """What `scope["route"]` holds for a route served here: its path template, which
    the request's log line and metrics read, as they read a router's route."""

    path: str


class DirectRoutes:
    """Answer the given `(method, path)` pairs by calling their endpoints, each a
    function of the request alone (no parameters or dependencies to resolve)."""

    def __init__(
        self, app: ASGIApp, *, routes: Mapping[tuple[str, str], Endpoint]
    ) -> None:
        self.app = app
        self.routes = {
            key: (DirectRoute(key[1]), endpoint) for key, endpoint in routes.items()
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        found = None
        if scope["type"] == "http":
            found = self.routes.get((scope["method"], scope["path"]))
        if found is None:
            await self.app(scope, receive, send)
            return

        route, endpoint = found
        scope["route"] = route
        request = Request(scope, receive)
        try:
            response = await endpoint(request)
        except Exception as exc:
            response = await problems.respond(request, exc)
        await response(scope, receive, send)
