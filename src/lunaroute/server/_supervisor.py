"""`serve --workers N`: the supervising process. It starts N worker processes (`_worker`) that accept on the one
port (each its own `SO_REUSEPORT` socket, so the kernel spreads connections among them), owns the one recorder
that records every worker's journal lane (`recording._lanes`), serves the UI, restarts a worker that dies, and on
SIGTERM or SIGINT drains them all: each worker stops accepting and lets its requests finish (up to 30 s), then
the recorder records what the lanes hold and stops.

The supervisor binds the port first (without listening, so it takes no connections), so a port in use fails at
once; it holds the journal directory's lock, so a second gateway on the same `LUNAROUTE_HOME` waits as it does for
a single-process one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import signal
import socket
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

import msgspec
from prometheus_client import Counter

from lunaroute._aio import cancel_and_wait
from lunaroute.config import Config, config_warnings
from lunaroute.errors import ConfigError
from lunaroute.observability import Metrics, ModelLabels, NullMetrics
from lunaroute.observability._collectors import RecorderCollector
from lunaroute.observability._usage import usage_counter
from lunaroute.recording._lanes import SharedRecorder
from lunaroute.server._channel import Boot, Listening, RecorderState, SyncDone, SyncRequest, decode_from_worker, encode
from lunaroute.server._peers import serve_exposition, socket_path
from lunaroute.server._reload import ConfigSource
from lunaroute.server._runner import SHUTDOWN_GRACE_SECS, start_ui, write_pid

__all__ = ["supervise"]

_log = logging.getLogger("lunaroute.server")
START_TIMEOUT_SECS = 60.0
RESTART_DELAY_SECS = 0.5
MAX_RESTART_DELAY_SECS = 30.0
STABLE_SECS = 30.0
"""A worker that ran this long before it died is restarted at once (its next failure starts the backoff over)."""
STOP_EXTRA_SECS = 15.0
"""How long past the drain grace a stopping worker may take to close its stores before it is killed."""
STATE_SECS = 1.0


def reserve_port(host: str, port: int) -> socket.socket:
    """Bind `host:port` with `SO_REUSEPORT` and do not listen: the workers' sockets join it, connections go only to
    theirs, and a port another program holds fails here with `EADDRINUSE` before anything starts."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
    except BaseException:
        sock.close()
        raise
    return sock


class _Slot:
    """Worker `index`: its process and its end of the channel, across restarts."""

    def __init__(self, index: int) -> None:
        self.index = index
        self.process: asyncio.subprocess.Process | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.listening: asyncio.Future[int] | None = None
        self.reader_task: asyncio.Task[None] | None = None
        self.started_at = 0.0

    def send(self, message: msgspec.Struct) -> None:
        if self.writer is not None and not self.writer.is_closing():
            self.writer.write(encode(message))


class _Supervisor:
    def __init__(
        self,
        config: Config,
        run_dir: Path,
        metrics: Metrics,
        shared: SharedRecorder | None,
        source: ConfigSource | None = None,
    ) -> None:
        self.config = config
        self.source = source
        self.run_dir = run_dir
        self.shared = shared
        self.slots = [_Slot(i) for i in range(config.workers)]
        self.stopping = False
        self.restarts = Counter(
            "lunaroute_worker_restarts",
            "Worker processes of `serve --workers N` that exited unexpectedly and were restarted.",
            registry=None if isinstance(metrics, NullMetrics) else metrics.registry,
        )

    async def spawn(self, slot: _Slot, first_segment: int) -> None:
        parent, child = socket.socketpair()
        try:
            slot.process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "lunaroute.server._worker", str(child.fileno()), pass_fds=(child.fileno(),)
            )
        finally:
            child.close()
        reader, slot.writer = await asyncio.open_connection(sock=parent)
        slot.listening = asyncio.get_running_loop().create_future()
        slot.started_at = time.monotonic()
        source = self.source
        boot = Boot(
            self.config,
            slot.index,
            self.config.workers,
            first_segment,
            str(self.run_dir),
            source_file=str(source.path) if source is not None and isinstance(source.path, Path) else None,
            source_host=source.host if source is not None else None,
            source_port=source.port if source is not None else None,
        )
        slot.send(boot)
        slot.reader_task = asyncio.create_task(self._read(slot, reader), name=f"lunaroute-worker-{slot.index}")

    async def _read(self, slot: _Slot, reader: asyncio.StreamReader) -> None:
        with contextlib.suppress(ConnectionError):
            while line := await reader.readline():
                try:
                    message = decode_from_worker(line)
                except (msgspec.DecodeError, msgspec.ValidationError):
                    _log.warning("unreadable line from worker %d: %r", slot.index, line[:200])
                    continue
                if isinstance(message, Listening):
                    if slot.listening is not None and not slot.listening.done():
                        slot.listening.set_result(message.pid)
                elif isinstance(message, SyncRequest):
                    if self.shared is not None:
                        await self.shared.sync()
                    slot.send(SyncDone(token=message.token))

    def first_segment(self, index: int) -> int:
        return self.shared.lane(index)[1] if self.shared is not None else 1

    async def start_all(self) -> None:
        """Start every worker and wait until each accepts; raise `ConfigError` if one exits first."""
        for slot in self.slots:
            await self.spawn(slot, self.first_segment(slot.index))
        for slot in self.slots:
            assert slot.process is not None
            assert slot.listening is not None
            exited = asyncio.ensure_future(slot.process.wait())
            done, _ = await asyncio.wait(
                {slot.listening, exited}, timeout=START_TIMEOUT_SECS, return_when="FIRST_COMPLETED"
            )
            if slot.listening not in done:
                exited.cancel()
                status = slot.process.returncode
                why = f"exited with status {status}" if status is not None else "did not start in time"
                raise ConfigError(f"worker {slot.index} {why} while starting (its log is above)")
            exited.cancel()

    async def watch(self, slot: _Slot) -> None:
        """Restart worker `slot` whenever it exits before the supervisor stops, with a growing delay."""
        delay = RESTART_DELAY_SECS
        while True:
            assert slot.process is not None
            status = await slot.process.wait()
            if self.stopping:
                return
            if time.monotonic() - slot.started_at >= STABLE_SECS:
                delay = RESTART_DELAY_SECS
            _log.error("worker %d (pid %d) exited with status %s; restarting it in %.1f s",
                       slot.index, slot.process.pid, status, delay)  # fmt: skip
            if slot.reader_task is not None:
                await cancel_and_wait(slot.reader_task)
            if slot.writer is not None:
                slot.writer.close()
            await asyncio.sleep(delay)
            if self.stopping:
                return
            first = self.shared.restart_lane(slot.index) if self.shared is not None else 1
            await self.spawn(slot, first)
            self.restarts.inc()
            delay = min(delay * 2, MAX_RESTART_DELAY_SECS)

    async def relay_state(self) -> None:
        """Every second, the shared recorder's counters to every worker (their capture metrics and backlog)."""
        while self.shared is not None:
            state = RecorderState(stats=self.shared.stats, restarts=self.shared.restarts)
            for slot in self.slots:
                slot.send(state)
            await asyncio.sleep(STATE_SECS)

    async def stop_all(self) -> None:
        """SIGTERM every worker and wait for each to drain; kill one still running past the grace."""
        self.stopping = True
        running = [slot.process for slot in self.slots if slot.process is not None and slot.process.returncode is None]
        for process in running:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)
        waits = [asyncio.ensure_future(process.wait()) for process in running]
        if waits:
            _, late = await asyncio.wait(waits, timeout=SHUTDOWN_GRACE_SECS + STOP_EXTRA_SECS)
            for process in running:
                if process.returncode is None:
                    _log.error("worker pid %d did not stop in time; killing it", process.pid)
                    with contextlib.suppress(ProcessLookupError):
                        process.kill()
            if late:
                await asyncio.wait(late)
        for slot in self.slots:
            if slot.reader_task is not None:
                await cancel_and_wait(slot.reader_task)
            if slot.writer is not None:
                slot.writer.close()

    def hang_up(self) -> None:
        """Forward SIGHUP to every worker: each reloads the config file on its own (`server._reload`)."""
        for slot in self.slots:
            if slot.process is not None and slot.process.returncode is None:
                slot.process.send_signal(signal.SIGHUP)


async def supervise(
    config: Config,
    *,
    env: Mapping[str, str] | None = None,
    pid_file: Path | None = None,
    source: ConfigSource | None = None,
) -> None:
    """Run `config.workers` workers until SIGINT/SIGTERM, then drain them and stop the recorder. SIGHUP is
    forwarded to the workers, which reload `source`."""
    reserved = reserve_port(config.host, config.port)
    for warning in config_warnings(config):
        _log.warning("config: %s", warning)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    mconf = config.observability.metrics
    metrics = Metrics(ModelLabels(mconf.model_label_allow, mconf.max_model_labels)) if mconf.enabled else NullMetrics()
    run_dir = Path(tempfile.mkdtemp(prefix="lunaroute-workers-"))
    shared: SharedRecorder | None = None
    supervisor: _Supervisor | None = None
    tasks: list[asyncio.Task[None]] = []
    exposition: asyncio.Server | None = None
    ui_runner = None
    try:
        if config.session_recording.enabled:
            shared = await SharedRecorder.start(
                config.session_recording,
                config.workers,
                on_usage=usage_counter(metrics),
                log_level=config.logging.level,
                log_format=config.logging.format,
                log_requests=config.logging.log_requests,
                log_sql_queries=config.logging.log_sql_queries,
                session_stats_max_sessions=config.session_stats_max_sessions,
            )
            if not isinstance(metrics, NullMetrics):
                metrics.registry.register(RecorderCollector(recorder=shared))
        exposition = await serve_exposition(socket_path(run_dir, "supervisor"), metrics.exposition)
        supervisor = _Supervisor(config, run_dir, metrics, shared, source)
        loop.add_signal_handler(signal.SIGHUP, supervisor.hang_up)
        await supervisor.start_all()
        tasks = [asyncio.create_task(supervisor.watch(slot), name=f"lunaroute-watch-{slot.index}")
                 for slot in supervisor.slots]  # fmt: skip
        tasks.append(asyncio.create_task(supervisor.relay_state(), name="lunaroute-recorder-state"))
        ui_runner = await start_ui(config)
        if pid_file is not None:
            write_pid(pid_file)
        _log.info("listening", extra={"host": config.host, "port": config.port, "workers": config.workers,
                                      "dialects": config.api_dialect})  # fmt: skip
        await stop.wait()
        _log.info("shutting down")
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            loop.remove_signal_handler(sig)
        if supervisor is not None:
            await supervisor.stop_all()
        for task in tasks:
            await cancel_and_wait(task)
        if ui_runner is not None:
            await ui_runner.cleanup()
        if exposition is not None:
            exposition.close()
        if shared is not None:
            await shared.aclose()
        shutil.rmtree(run_dir, ignore_errors=True)
        reserved.close()
        if pid_file is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(pid_file)
