"""Every error the API answers is an RFC 9457 problem document.

RFC 9457 section 3.1 defines the members: `type` (here always `about:blank`, so
`title` is the HTTP status phrase), `title`, `status`, `detail` (what went wrong and
what to do) and `instance`; we add `request_id` and, where they help, extension
members such as `errors` (one per invalid field) or `diagnostics` (a policy's
checker messages). A 500 says only that the server failed and which request it was:
the traceback goes to the log, never to the client.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from govsvc.errors import GovsvcError
from govsvc.store.errors import ServiceError

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"


def problem_body(
    status: int, detail: str, *, instance: str = "", request_id: str = "", **extra: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
    }
    if instance:
        body["instance"] = instance
    if request_id:
        body["request_id"] = request_id
    body.update(extra)
    return body


def problem_response(
    status: int,
    detail: str,
    *,
    request: Request | None = None,
    headers: Mapping[str, str] | None = None,
    **extra: Any,
) -> Response:
    instance = request.url.path if request is not None else ""
    request_id = request_id_of(request) if request is not None else ""
    body = problem_body(
        status, detail, instance=instance, request_id=request_id, **extra
    )
    return Response(
        json.dumps(body, default=str),
        status_code=status,
        media_type=PROBLEM_JSON,
        headers=headers,
    )


def request_id_of(request: Request) -> str:
    return str(request.scope.get("state", {}).get("request_id", ""))


def _field(loc: tuple[Any, ...] | list[Any]) -> str:
    # ("body", "model", "name") -> "model.name"; a list index reads as [0]
    parts: list[str] = []
    for part in loc:
        if part == "body" and not parts:
            continue
        if isinstance(part, int):
            parts.append(f"[{part}]")
        else:
            parts.append(("." if parts else "") + str(part))
    return "".join(parts) or "body"


def validation_errors(errors: Any) -> list[dict[str, str]]:
    """Pydantic's errors as `{"field", "message"}`, the input values left out: a
    request body may carry data that does not belong in an answer or a log."""
    return [
        {"field": _field(err.get("loc", ())), "message": str(err.get("msg", ""))}
        for err in errors
    ]


def _validation_detail(errors: list[dict[str, str]]) -> str:
    shown = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5])
    more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
    return f"the request is invalid: {shown}{more}; fix the named fields and resend"


async def _on_service_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ServiceError)
    headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
    if exc.status == 503:
        headers = {"Retry-After": "1"}
    return problem_response(
        exc.status, exc.detail, request=request, headers=headers, **exc.extra
    )


async def _on_validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = validation_errors(exc.errors())
    return problem_response(
        422, _validation_detail(errors), request=request, errors=errors
    )


async def _on_http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    detail = str(exc.detail)
    if exc.status_code == 404 and detail == "Not Found":
        detail = f"no route {request.url.path}; the API is described at /openapi.json"
    elif exc.status_code == 405:
        detail = f"{request.method} is not allowed on {request.url.path}"
    return problem_response(
        exc.status_code, detail, request=request, headers=exc.headers
    )


async def _on_govsvc_error(request: Request, exc: Exception) -> Response:
    # An error from a core package (an assessment that cannot be made, a policy that
    # does not compile) is about the request's content.
    extra: dict[str, Any] = {}
    diagnostics = getattr(exc, "diagnostics", None)
    if diagnostics:
        extra["diagnostics"] = [d.to_dict() for d in diagnostics]
    return problem_response(422, str(exc), request=request, **extra)


async def _on_unexpected(request: Request, exc: Exception) -> Response:
    log.error(
        "request %s failed: %s",
        request_id_of(request),
        type(exc).__name__,
        exc_info=exc,
    )
    return problem_response(
        500,
        "the server failed to answer this request; it has been logged under the "
        "request id, which the operator can look up",
        request=request,
    )


Handler = Callable[[Request, Exception], Awaitable[Response]]

HANDLERS: dict[type[Exception], Handler] = {
    ServiceError: _on_service_error,
    RequestValidationError: _on_validation_error,
    StarletteHTTPException: _on_http_error,
    GovsvcError: _on_govsvc_error,
    Exception: _on_unexpected,
}


def install(app: FastAPI) -> None:
    for kind, handler in HANDLERS.items():
        app.add_exception_handler(kind, handler)


async def respond(request: Request, exc: Exception) -> Response:
    """The problem document for `exc`, chosen as Starlette chooses a handler: the
    first class in the exception's method resolution order that has one."""
    for kind in type(exc).__mro__:
        handler = HANDLERS.get(kind)
        if handler is not None:
            return await handler(request, exc)
    return await _on_unexpected(request, exc)
