"""The channel between the supervisor of `serve --workers N` and each worker process: newline-delimited JSON over a
socket pair, and the worker's end of it (`SupervisorLink`), which stands in for the recorder process the worker
does not own.

Supervisor → worker: `Boot` (first, once: the config and the worker's lane), `RecorderState` (every second: the
shared recorder's counters), `SyncDone`. Worker → supervisor: `Listening` (the worker accepts on the port),
`SyncRequest`. When the channel closes (the supervisor is gone), the worker stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Callable

import msgspec

from lunaroute._aio import cancel_and_wait
from lunaroute.config import Config
from lunaroute.recording.worker._protocol import WorkerStats

__all__ = [
    "Boot",
    "FromWorker",
    "Listening",
    "RecorderState",
    "SupervisorLink",
    "SyncDone",
    "SyncRequest",
    "ToWorker",
    "decode_from_worker",
    "encode",
]

_log = logging.getLogger("lunaroute.server.workers")
_LINE_LIMIT = 16 << 20


class Boot(msgspec.Struct, frozen=True, tag="boot"):
    """Everything a worker needs to start: the loaded config (with `--host`/`--port` applied), which worker it is,
    and where its journal lane starts."""

    config: Config
    index: int
    workers: int
    first_segment: int
    """The first segment number of this worker's journal lane (what the shared recorder expects)."""
    run_dir: str
    """A private directory of the run: each process serves its metrics on `<run_dir>/<name>.sock`."""
    source_file: str | None = None
    """The config file a reload (SIGHUP, forwarded by the supervisor) reads again; None: reloads are refused."""
    source_host: str | None = None
    """`--host`, applied again by a reload."""
    source_port: int | None = None
    """`--port`, applied again by a reload."""


class RecorderState(msgspec.Struct, frozen=True, tag="state"):
    stats: WorkerStats
    restarts: int


class SyncDone(msgspec.Struct, frozen=True, tag="synced"):
    token: int


ToWorker = Boot | RecorderState | SyncDone


class Listening(msgspec.Struct, frozen=True, tag="listening"):
    pid: int


class SyncRequest(msgspec.Struct, frozen=True, tag="sync"):
    """Answer `SyncDone(token)` once everything journaled before it (by any worker) is recorded and flushed."""

    token: int


FromWorker = Listening | SyncRequest

_to_worker = msgspec.json.Decoder(ToWorker)
_from_worker = msgspec.json.Decoder(FromWorker)
_encoder = msgspec.json.Encoder()


def encode(message: msgspec.Struct) -> bytes:
    return _encoder.encode(message) + b"\n"


def decode_from_worker(line: bytes) -> FromWorker:
    message: FromWorker = _from_worker.decode(line)
    return message


class SupervisorLink:
    """A worker's end of the channel. Also the worker capture's recorder handle (`recording.RecorderHandle`): the
    stats are the shared recorder's as last relayed, and `sync` goes through the supervisor."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer
        self._stats = WorkerStats()
        self._restarts = 0
        self._token = 0
        self._waiters: dict[int, asyncio.Future[None]] = {}
        self._task: asyncio.Task[None] | None = None

    @classmethod
    async def connect(cls, fd: int) -> tuple[SupervisorLink, Boot]:
        """Open the channel inherited as descriptor `fd` and read the `Boot` message."""
        sock = socket.socket(fileno=fd)
        reader, writer = await asyncio.open_connection(sock=sock, limit=_LINE_LIMIT)
        line = await reader.readline()
        boot = _to_worker.decode(line)
        if not isinstance(boot, Boot):
            raise RuntimeError(f"the supervisor's first message is not a boot message: {line[:80]!r}")
        return cls(reader, writer), boot

    def follow(self, on_gone: Callable[[], None]) -> None:
        """Read the supervisor's messages in the background; `on_gone` runs when the channel closes."""
        self._task = asyncio.create_task(self._read(on_gone), name="lunaroute-supervisor-link")

    async def _read(self, on_gone: Callable[[], None]) -> None:
        try:
            while line := await self._reader.readline():
                try:
                    message = _to_worker.decode(line)
                except (msgspec.DecodeError, msgspec.ValidationError):
                    _log.warning("unreadable line from the supervisor: %r", line[:200])
                    continue
                if isinstance(message, RecorderState):
                    self._stats, self._restarts = message.stats, message.restarts
                elif isinstance(message, SyncDone):
                    for token in [t for t in self._waiters if t <= message.token]:
                        future = self._waiters.pop(token)
                        if not future.done():
                            future.set_result(None)
        except ConnectionError:
            pass
        finally:
            for future in self._waiters.values():
                if not future.done():
                    future.set_result(None)
            self._waiters.clear()
        on_gone()

    def _send(self, message: msgspec.Struct) -> None:
        if not self._writer.is_closing():
            self._writer.write(encode(message))

    def listening(self) -> None:
        self._send(Listening(pid=os.getpid()))

    @property
    def stats(self) -> WorkerStats:
        return self._stats

    @property
    def restarts(self) -> int:
        return self._restarts

    async def sync(self) -> None:
        """Wait until everything journaled so far, by every worker, is recorded and flushed."""
        self._token += 1
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters[self._token] = future
        self._send(SyncRequest(token=self._token))
        await future

    async def stop(self, drain_secs: float, grace_secs: float) -> None:
        """Nothing to stop here: the supervisor stops the shared recorder once every worker has exited, and it
        records what this worker's lane holds then (bounded by its own drain deadline)."""

    async def aclose(self) -> None:
        if self._task is not None:
            await cancel_and_wait(self._task)
        self._writer.close()
        with contextlib.suppress(ConnectionError):
            await self._writer.wait_closed()
