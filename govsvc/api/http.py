"""uvicorn's HTTP protocol (httptools), with each connection's writes of one pass of
the event loop sent together.

uvicorn writes a response's status line and headers, then its body, each at once:
two system calls, and two segments on the wire that the client's reader may wake
for twice. Here the writes a connection makes while the event loop runs one round
of callbacks are sent as one, when the round ends; nothing waits longer than that.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


class _GatheredWrites:
    """A transport whose `write`s are sent together at the end of the loop's round;
    everything else is the transport's own."""

    def __init__(self, transport: asyncio.Transport) -> None:
        self._transport = transport
        self._pending: list[bytes] = []

    def write(self, data: bytes) -> None:
        if not self._pending:
            asyncio.get_running_loop().call_soon(self._send)
        self._pending.append(data)

    def close(self) -> None:
        self._send()
        self._transport.close()

    def _send(self) -> None:
        pending, self._pending = self._pending, []
        if pending and not self._transport.is_closing():
            self._transport.writelines(pending)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class GatheredWritesProtocol(HttpToolsProtocol):
    """`govsvc serve`'s HTTP protocol (uvicorn's `http` setting).

    Known shortcoming: this leans on a detail of uvicorn's, that the protocol keeps
    the transport `connection_made` gave it and writes only through it; a release
    that changed that would bypass the gathering (the end-to-end tests would still
    pass, every response still whole). `tests/api/test_http.py` checks the
    gathering itself.
    """

    def connection_made(  # type: ignore[override]
        self, transport: asyncio.Transport
    ) -> None:
        gathered: Any = _GatheredWrites(transport)
        super().connection_made(gathered)
