"""`WorkerProcess`: the gateway's handle on its recorder process — start it, restart it if it dies, ask it to
sync, read its reports, stop it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
from collections.abc import Callable

import msgspec

from lunaroute._aio import cancel_and_wait
from lunaroute.errors import ConfigError
from lunaroute.recording.worker._protocol import (
    Failed,
    LaneRestarted,
    Ready,
    Stop,
    Sync,
    Synced,
    UsageReport,
    WorkerSpec,
    WorkerStats,
    decode_from_worker,
    encode,
)

__all__ = ["WorkerProcess"]

_log = logging.getLogger("lunaroute.recording.worker")
_MAX_RESTART_DELAY_SECS = 30.0
_LINE_LIMIT = 1 << 20
STOP_DRAIN_SECS = 10.0
"""How long a stopping recorder records the journal before it leaves the rest for the next start."""
STOP_GRACE_SECS = 5.0
"""How long past its drain deadline a stopping recorder may take to close its stores before it is killed."""


def _hurry(pid: int) -> None:
    """Give a stopping recorder the normal scheduling class and priority (best effort: it may need a privilege
    the gateway lacks). In the idle class a recorder gets no CPU at all while others keep every core busy."""
    with contextlib.suppress(OSError, AttributeError):
        os.sched_setscheduler(pid, os.SCHED_OTHER, os.sched_param(0))
    with contextlib.suppress(OSError, AttributeError):
        os.setpriority(os.PRIO_PROCESS, pid, 0)


class WorkerProcess:
    """One recorder process at a time, restarted (with backoff) when it exits before `stop()`."""

    def __init__(
        self,
        spec: WorkerSpec,
        *,
        lock_fd: int,
        on_usage: Callable[[UsageReport], None] | None = None,
    ) -> None:
        self.spec = spec
        self.stats = WorkerStats()
        self.restarts = 0
        self._lock_fd = lock_fd
        self._on_usage = on_usage
        self._process: asyncio.subprocess.Process | None = None
        self._supervisor: asyncio.Task[None] | None = None
        self._reader: asyncio.Task[None] | None = None
        self._ready: asyncio.Future[None] | None = None
        self._stopping = False
        self._token = 0
        self._synced = 0
        self._waiters: list[tuple[int, asyncio.Future[None]]] = []

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    async def start(self, timeout_secs: float = 60.0) -> None:
        """Start the process and wait until its stores are open; raise `ConfigError` when they cannot be."""
        process = await self._spawn()
        try:
            await asyncio.wait_for(asyncio.shield(self._ready_future()), timeout_secs)
        except BaseException:
            process.kill()
            await process.wait()
            raise
        self._supervisor = asyncio.create_task(self._supervise(process), name="lunaroute-recorder-supervisor")

    def _ready_future(self) -> asyncio.Future[None]:
        assert self._ready is not None
        return self._ready

    async def _spawn(self) -> asyncio.subprocess.Process:
        self._ready = asyncio.get_running_loop().create_future()
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "lunaroute.recording.worker",
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            pass_fds=(self._lock_fd,), limit=_LINE_LIMIT,
        )  # fmt: skip
        self._process = process
        assert process.stdin is not None
        process.stdin.write(msgspec.json.encode(self.spec) + b"\n")
        self._reader = asyncio.create_task(self._read(process), name="lunaroute-recorder-reports")
        return process

    async def _read(self, process: asyncio.subprocess.Process) -> None:
        assert process.stdout is not None
        while line := await process.stdout.readline():
            try:
                message = decode_from_worker(line)
            except (msgspec.DecodeError, msgspec.ValidationError):
                _log.warning("unreadable line from the recorder process: %r", line[:200])
                continue
            if isinstance(message, UsageReport):
                if self._on_usage is not None:
                    self._on_usage(message)
            elif isinstance(message, WorkerStats):
                self.stats = message
            elif isinstance(message, Synced):
                self._synced = max(self._synced, message.token)
                self._release()
            elif isinstance(message, Ready):
                if self._ready is not None and not self._ready.done():
                    self._ready.set_result(None)
            elif isinstance(message, Failed) and self._ready is not None and not self._ready.done():
                self._ready.set_exception(
                    ConfigError(f"the recorder could not open its stores: {message.message}", path="session_recording")
                )
        code = await process.wait()
        if self._ready is not None and not self._ready.done():
            self._ready.set_exception(
                ConfigError(f"the recorder process exited with status {code} while starting", path="session_recording")
            )

    def _release(self) -> None:
        still = []
        for token, future in self._waiters:
            if token <= self._synced:
                if not future.done():
                    future.set_result(None)
            else:
                still.append((token, future))
        self._waiters = still

    async def _supervise(self, process: asyncio.subprocess.Process) -> None:
        delay = 0.5
        while True:
            if self._reader is not None:
                await self._reader
            if self._stopping:
                return
            _log.error(
                "the recorder process exited unexpectedly (status %s); restarting it in %.1f s",
                process.returncode,
                delay,
            )
            await asyncio.sleep(delay)
            delay = min(delay * 2, _MAX_RESTART_DELAY_SECS)
            if self._stopping:
                return
            try:
                process = await self._spawn()
                await self._ready_future()
            except (ConfigError, OSError) as exc:
                _log.error("the recorder process could not restart: %s", exc)
                continue
            self.restarts += 1
            delay = 0.5
            if self._waiters:
                self._send(Sync(token=self._token))

    def restart_lane(self, lane: int, first_live_segment: int) -> None:
        """A new process writes journal lane `lane` from `first_live_segment` on (its predecessor died): tell the
        recorder, and keep it in the spec so that a recorder restarted later knows it too."""
        lanes = list(self.spec.lanes)
        lanes[lane] = msgspec.structs.replace(lanes[lane], first_live_segment=first_live_segment)
        self.spec = msgspec.structs.replace(self.spec, lanes=lanes)
        self._send(LaneRestarted(lane=lane, first_live_segment=first_live_segment))

    def _send(self, message: msgspec.Struct) -> None:
        process = self._process
        if process is None or process.stdin is None or process.stdin.is_closing():
            return
        process.stdin.write(encode(message))

    async def sync(self) -> None:
        """Wait until everything journaled so far is recorded and flushed."""
        self._token += 1
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append((self._token, future))
        self._send(Sync(token=self._token))
        await future

    async def stop(self, drain_secs: float = STOP_DRAIN_SECS, grace_secs: float = STOP_GRACE_SECS) -> None:
        """Tell the process to record everything and exit; wait for it, boundedly.

        The process records the journal for at most `drain_secs` and leaves the rest for the next start; one still
        running `grace_secs` later is killed (the journal it did not finish stays for the next start, as after a
        crash). The process leaves the idle scheduling class first, so that busy cores cannot starve it.
        """
        self._stopping = True
        process = self._process
        if process is None:
            return
        _hurry(process.pid)
        self._send(Stop(drain_secs=drain_secs))
        try:
            if process.stdin is not None:
                with contextlib.suppress(ConnectionError, TimeoutError):
                    await asyncio.wait_for(process.stdin.drain(), drain_secs)
                process.stdin.close()
            try:
                await asyncio.wait_for(process.wait(), drain_secs + grace_secs)
            except TimeoutError:
                _log.error("the recorder process did not stop within %.0f s; killing it", drain_secs + grace_secs)
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                await process.wait()
            if self._reader is not None:
                await self._reader
        except asyncio.CancelledError:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            raise
        finally:
            supervisor, self._supervisor = self._supervisor, None
            if supervisor is not None:
                await cancel_and_wait(supervisor)
            for _, future in self._waiters:
                if not future.done():
                    future.set_result(None)
            self._waiters = []
        if process.returncode:
            _log.error("the recorder process exited with status %s", process.returncode)
