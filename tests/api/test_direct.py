"""Routes answered by `DirectRoutes`, before FastAPI's router: same answers."""

from __future__ import annotations

import asyncio
import json

from starlette.requests import Request

from govsvc.api import problems
from govsvc.store.errors import Conflict, Unauthenticated

from .helpers import Api, request_for


def _request() -> Request:
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/v1/decisions",
        "headers": [],
        "query_string": b"",
        "state": {"request_id": "r-1"},
    }
    return Request(scope)


def test_respond_picks_the_handler_by_exception_class() -> None:
    conflict = asyncio.run(problems.respond(_request(), Conflict("used twice")))
    unauthenticated = asyncio.run(problems.respond(_request(), Unauthenticated("no")))
    unexpected = asyncio.run(problems.respond(_request(), KeyError("secret-value")))

    assert conflict.status_code == 409
    assert json.loads(conflict.body)["detail"] == "used twice"
    assert unauthenticated.headers["www-authenticate"] == "Bearer"
    assert unexpected.status_code == 500
    assert b"secret-value" not in unexpected.body  # no exception text leaks
    assert json.loads(unexpected.body)["request_id"] == "r-1"


def test_direct_route_and_router_routes_side_by_side(api: Api) -> None:
    created = api.decide(request_for(), **{"X-Request-ID": "pipeline-42"})
    listed = api.client.get("/v1/decisions", headers=api.headers("ci"))
    wrong_method = api.client.put("/v1/decisions", headers=api.headers("ci"))

    assert created.status_code == 201
    assert created.headers["x-request-id"] == "pipeline-42"
    assert listed.status_code == 200
    assert listed.json()["items"][0]["id"] == created.json()["id"]
    assert wrong_method.status_code == 405
    assert wrong_method.headers["content-type"] == "application/problem+json"
