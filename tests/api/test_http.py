"""`govsvc serve`'s HTTP protocol: a connection's writes in one round of the event
loop leave together, in order, on a real socket."""

from __future__ import annotations

import asyncio
import socket

import pytest

from govsvc.api.http import _GatheredWrites


async def _pair() -> tuple[_GatheredWrites, socket.socket]:
    ours, peer = socket.socketpair()
    transport, _ = await asyncio.get_running_loop().connect_accepted_socket(
        asyncio.Protocol, ours
    )
    peer.setblocking(False)
    return _GatheredWrites(transport), peer  # type: ignore[arg-type]


def test_writes_of_one_round_leave_together_when_it_ends() -> None:
    async def main() -> None:
        gathered, peer = await _pair()

        gathered.write(b"HTTP/1.1 201 Created\r\ncontent-length: 2\r\n\r\n")
        gathered.write(b"{}")
        with pytest.raises(BlockingIOError):
            peer.recv(1024)  # nothing sent yet: the round has not ended

        await asyncio.sleep(0)
        assert peer.recv(1024) == (
            b"HTTP/1.1 201 Created\r\ncontent-length: 2\r\n\r\n{}"
        )
        gathered.close()
        peer.close()

    asyncio.run(main())


def test_close_sends_what_is_pending_first() -> None:
    async def main() -> None:
        gathered, peer = await _pair()

        gathered.write(b"last words")
        gathered.close()
        await asyncio.sleep(0.01)

        assert peer.recv(1024) == b"last words"
        assert peer.recv(1024) == b""  # then the end of the stream
        peer.close()

    asyncio.run(main())


def test_everything_else_is_the_transports_own() -> None:
    async def main() -> None:
        gathered, peer = await _pair()

        assert gathered.get_extra_info("socket") is not None
        assert not gathered.is_closing()
        gathered.close()
        assert gathered.is_closing()
        peer.close()

    asyncio.run(main())
