"""The ledger writer process: one for all of `govsvc serve`'s workers on SQLite.

SQLite commits one transaction at a time. With a ledger writer thread in every
worker, the workers' batches took turns at the write lock: each waited for the
other's batch, and each held the lock longer than its own work took, since its
writer thread shared the GIL and a core with its worker's event loop. One process
that records every worker's decisions writes one stream of larger batches, and
nothing else runs in it while it holds the lock.

A worker assesses a request on its event loop as before, then sends the decision
(`_Pending.message`) over a Unix socket to the writer process, which concludes,
appends and commits it in its group-commit batches and sends back the answer with
its receipt. Reviews and policy publications, which are rare, are still written by
the worker that takes them, in their turn (`govsvc.ledger.turns`).

Frames are a 4-byte big-endian length and a pickle of a list of `(request id,
message)` pairs: a worker sends the decisions its event loop gathered in one pass
as one frame, and the writer process answers a batch's decisions of one worker as
one frame, so that a busy second costs a few hundred system calls, not thousands.
Pickle is safe here only because the socket lives in a directory that only the
serving user can enter: whoever can connect to it could read the signing key
already.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import multiprocessing
import multiprocessing.connection
import os
import pickle
import shutil
import signal
import struct
import tempfile
import threading
from concurrent.futures import Future
from functools import partial
from multiprocessing.synchronize import Event
from typing import Any

from govsvc.store.errors import Unavailable

log = logging.getLogger(__name__)

# Set for the workers by `govsvc serve`: where the writer process listens.
SOCKET_ENV = "GOVSVC_WRITER_SOCKET"
START_TIMEOUT_SECONDS = 60.0
STOP_TIMEOUT_SECONDS = 30.0
# A batch takes milliseconds; past this, the writer process is stuck (SQLite's own
# busy timeout, 30 s, has run out before).
ANSWER_TIMEOUT_SECONDS = 60.0
ORPHAN_CHECK_SECONDS = 1.0

_HEADER = struct.Struct(">I")

# A decision's answer body, and its facts' JSON, or None when they are the facts
# the worker sent with the risk added (the worker adds it: it has the rest).
Answer = tuple[dict[str, Any], str | None] | None


def _frame(value: Any) -> bytes:
    data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    return _HEADER.pack(len(data)) + data


async def _read_frame(reader: asyncio.StreamReader) -> Any:
    (size,) = _HEADER.unpack(await reader.readexactly(_HEADER.size))
    return pickle.loads(await reader.readexactly(size))


# -- in the workers ------------------------------------------------------------------


class WriterClient:
    """A worker's connection to the writer process, used on the worker's event loop.

    Connects on first use and again after the writer process restarts; requests
    waiting when the connection breaks fail with 503.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self._writer: asyncio.StreamWriter | None = None
        self._waiting: dict[int, asyncio.Future[tuple[str, Any]]] = {}
        # Sent together when the event loop's pass ends (`_send`).
        self._outbox: list[tuple[int, tuple[Any, ...]]] = []
        self._ids = itertools.count()
        self._connecting = asyncio.Lock()
        self._reading: asyncio.Task[None] | None = None  # kept, or it may be collected

    async def record(self, message: tuple[Any, ...]) -> Answer:
        """Have the writer process record a decision: what `Service.answer` gives
        for it there, or the error it failed with, raised here."""
        await self._connected()
        request_id = next(self._ids)
        future: asyncio.Future[tuple[str, Any]] = (
            asyncio.get_running_loop().create_future()
        )
        self._waiting[request_id] = future
        if not self._outbox:
            asyncio.get_running_loop().call_soon(self._send)
        self._outbox.append((request_id, message))

        try:
            async with asyncio.timeout(ANSWER_TIMEOUT_SECONDS):
                kind, value = await future
        except TimeoutError:
            self._waiting.pop(request_id, None)
            raise Unavailable(
                f"the ledger writer process did not answer in "
                f"{ANSWER_TIMEOUT_SECONDS:g} s; the decision may have been "
                "recorded: retry with the same Idempotency-Key to get it"
            ) from None
        if kind == "error":
            raise value
        answer: Answer = value
        return answer

    def _send(self) -> None:
        outbox, self._outbox = self._outbox, []
        # A request whose connection broke since it queued has failed already
        # (`_read`), and is not sent again on another.
        live = [
            (request_id, message)
            for request_id, message in outbox
            if (future := self._waiting.get(request_id)) and not future.done()
        ]
        writer = self._writer
        if live and writer is not None and not writer.is_closing():
            writer.write(_frame(live))

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    async def _connected(self) -> asyncio.StreamWriter:
        if self._writer is not None:
            return self._writer
        async with self._connecting:
            if self._writer is None:
                try:
                    reader, writer = await asyncio.open_unix_connection(self.path)
                except OSError as exc:
                    raise Unavailable(
                        "the ledger writer process is not reachable "
                        f"({exc.strerror or exc}); retry in a moment"
                    ) from exc
                self._writer = writer
                self._reading = asyncio.get_running_loop().create_task(
                    self._read(reader, writer)
                )
            return self._writer

    async def _read(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        try:
            while True:
                for request_id, payload in await _read_frame(reader):
                    future = self._waiting.pop(request_id, None)
                    if future is not None and not future.done():
                        future.set_result(payload)
        except (asyncio.IncompleteReadError, OSError, pickle.UnpicklingError):
            pass
        finally:
            if self._writer is writer:
                self._writer = None
            writer.close()
            waiting, self._waiting = self._waiting, {}
            for future in waiting.values():
                if not future.done():
                    future.set_exception(
                        Unavailable(
                            "the ledger writer process went away before answering; "
                            "the decision may have been recorded: retry with the "
                            "same Idempotency-Key to get it"
                        )
                    )


# -- in the writer process ------------------------------------------------------------


def _portable(exc: BaseException) -> BaseException:
    """`exc` if it survives pickling (the service's own errors do), else a 503 that
    names it."""
    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:
        return Unavailable(
            f"the ledger writer failed: {type(exc).__name__}: {exc}; retry the "
            "request, and see the server's log if it fails again"
        )
    return exc


class _Replies:
    """The answers to one worker's decisions, gathered as the ledger's writer thread
    finishes them and sent on the event loop, one frame per wake-up."""

    def __init__(self, service: Any, writer: asyncio.StreamWriter) -> None:
        self.service = service
        self.writer = writer
        self.loop = asyncio.get_running_loop()
        self._lock = threading.Lock()
        self._done: list[tuple[int, Any, Future[Any]]] = []

    def add(self, request_id: int, pending: Any, done: Future[Any]) -> None:
        """In the ledger's writer thread, as each decision's future is done."""
        with self._lock:
            self._done.append((request_id, pending, done))
            wake = len(self._done) == 1
        if wake:
            self.loop.call_soon_threadsafe(self._send)

    def _send(self) -> None:
        with self._lock:
            done, self._done = self._done, []
        answers = [
            (request_id, self._answer(pending, future))
            for request_id, pending, future in done
        ]
        if not self.writer.is_closing():
            self.writer.write(_frame(answers))

    def _answer(self, pending: Any, done: Future[Any]) -> tuple[str, Any]:
        try:
            answer = self.service.answer(pending, done)
        except Exception as exc:
            return "error", _portable(exc)
        # The facts' JSON is in the answer only when they were assessed again
        # here; the worker holds the ones it sent, and 10 kB less goes back.
        return "ok", answer


async def _connection(
    service: Any, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    """One worker's requests, in order; answers go back as their batches commit."""
    from govsvc.api.service import _Pending

    replies = _Replies(service, writer)
    try:
        while True:
            refused = []
            for request_id, message in await _read_frame(reader):
                try:
                    pending = _Pending.from_message(service, message)
                except Exception as exc:
                    refused.append((request_id, ("error", _portable(exc))))
                    continue
                future = service.ledger.submit_future(pending)
                future.add_done_callback(partial(replies.add, request_id, pending))
            if refused:
                writer.write(_frame(refused))
    except (asyncio.IncompleteReadError, ConnectionError):
        return  # the worker went away; its decisions in flight still commit
    finally:
        writer.close()


async def _listen(service: Any, path: str, ready: Event) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    watching = loop.create_task(_stop_when_orphaned(stop, path))

    server = await asyncio.start_unix_server(partial(_connection, service), path=path)
    ready.set()
    async with server:
        await stop.wait()
    watching.cancel()


async def _stop_when_orphaned(stop: asyncio.Event, path: str) -> None:
    # `govsvc serve` stops this process after its workers; if it was killed
    # instead, nothing would, and the process would hold the database open.
    parent = os.getppid()
    while os.getppid() == parent:
        await asyncio.sleep(ORPHAN_CHECK_SECONDS)
    log.warning("govsvc serve went away; the ledger writer process stops")
    # Nor would anyone remove the socket's directory. (Only here: after a crash,
    # `govsvc serve` starts another writer process on the same socket path.)
    shutil.rmtree(os.path.dirname(path), ignore_errors=True)
    stop.set()


def _main(path: str, ready: Event) -> None:
    """The writer process: settings from the environment, as the workers'."""
    from govsvc.api.app import build_service, settle_process
    from govsvc.settings import load_settings

    # Ctrl-C reaches every process of the terminal's group; this one stops when
    # `govsvc serve` tells it to, after the workers, so that their decisions in
    # flight are recorded and answered.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    settle_process()
    service = build_service(load_settings())
    try:
        service.bundle()  # loaded before the first decision compares with it
        asyncio.run(_listen(service, path, ready))
    finally:
        service.close()  # the ledger's queued work is committed first


class WriterProcess:
    """The writer process of one `govsvc serve`, started again if it dies."""

    def __init__(self) -> None:
        # A directory of its own, mode 0700: see the module docstring on pickle.
        # Short, too: a Unix socket's path has a limit of about 100 bytes.
        self._dir = tempfile.mkdtemp(prefix="govsvc-")
        self.path = os.path.join(self._dir, "writer.sock")
        self._context = multiprocessing.get_context("spawn")
        self._process: Any = None
        self._stopping = threading.Event()
        self._watcher: threading.Thread | None = None
        # Written to by `stop` to wake the watcher, which waits on the process's
        # sentinel and this, never on the process itself (see `_watch`).
        self._wake_read, self._wake_write = os.pipe()

    def start(self) -> WriterProcess:
        self._spawn()
        self._watcher = threading.Thread(
            target=self._watch, name="govsvc-writer-watch", daemon=True
        )
        self._watcher.start()
        return self

    def stop(self) -> None:
        if self._stopping.is_set():
            return
        self._stopping.set()
        os.write(self._wake_write, b"\0")
        if self._watcher is not None:
            self._watcher.join()
        os.close(self._wake_read)
        os.close(self._wake_write)

        process = self._process
        if process is not None and process.is_alive():
            process.terminate()
            process.join(STOP_TIMEOUT_SECONDS)
            if process.is_alive():
                log.error(
                    "the ledger writer process did not stop in %s s; killing it",
                    STOP_TIMEOUT_SECONDS,
                )
                process.kill()
                process.join()
        shutil.rmtree(self._dir, ignore_errors=True)

    def _spawn(self) -> None:
        ready = self._context.Event()
        process = self._context.Process(
            target=_main,
            args=(self.path, ready),
            name="govsvc-ledger-writer",
            daemon=True,
        )
        process.start()
        if not ready.wait(START_TIMEOUT_SECONDS):
            process.kill()
            raise RuntimeError(
                "the ledger writer process did not start listening in "
                f"{START_TIMEOUT_SECONDS:.0f} s; see its log lines above"
            )
        self._process = process
        log.info("ledger writer process %s listening", process.pid)

    def _watch(self) -> None:
        # Only one thread may wait for the process: when two did (this one and
        # `stop`), the one that lost the race for its exit status took it for
        # still running, logged that it did not stop and sent SIGKILL to its pid,
        # by then free for another process to take. So this thread waits for the
        # sentinel, which reaps nothing, and leaves the process to `stop` once
        # told to.
        while True:
            multiprocessing.connection.wait([self._process.sentinel, self._wake_read])
            if self._stopping.is_set():
                return
            self._process.join()
            log.error(
                "the ledger writer process exited with code %s; starting another",
                self._process.exitcode,
            )
            try:
                self._spawn()
            except Exception:
                log.exception("could not restart the ledger writer process")
                self._stopping.wait(1.0)
