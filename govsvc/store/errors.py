"""The service's errors: what a caller asked for that cannot be done.

    GovsvcError
    └── ServiceError            a request the service refuses; `status` maps it to HTTP
        ├── BadRequest          the input is malformed or names something invalid (400)
        ├── Unauthenticated     no token, or one the service does not know (401)
        ├── Forbidden           a valid token without the role the route needs (403)
        ├── NotFound            no such decision, policy, token or ledger entry (404)
        ├── Conflict            the request contradicts what is stored (409)
        ├── Unprocessable       well-formed but rejected, such as a policy error (422)
        └── Unavailable         the service cannot answer now; retry (503)

The API turns each into an RFC 9457 problem document; the CLI prints its message.
"""

from __future__ import annotations

from typing import Any

from govsvc.errors import GovsvcError


class ServiceError(GovsvcError):
    """A request the service refuses. `detail` is the message; `extra` joins the
    problem document (for example a policy's diagnostics)."""

    status = 400
    title = "Bad request"

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra


class BadRequest(ServiceError):
    status = 400
    title = "Bad request"


class Unauthenticated(ServiceError):
    status = 401
    title = "Unauthenticated"


class Forbidden(ServiceError):
    status = 403
    title = "Forbidden"


class NotFound(ServiceError):
    status = 404
    title = "Not found"


class Conflict(ServiceError):
    status = 409
    title = "Conflict"


class Unprocessable(ServiceError):
    status = 422
    title = "Unprocessable content"


class Unavailable(ServiceError):
    status = 503
    title = "Service unavailable"
