"""Run the gateway: a listening socket, uvloop, signals, graceful shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import signal
import socket
from collections.abc import Callable, Mapping
from pathlib import Path

from aiohttp import web

from lunaroute.config import Config, HttpServerConfig, config_warnings
from lunaroute.server._admin_ops import provider_status
from lunaroute.server._app import create_app
from lunaroute.server._connections import ConnectionCaps, GuardedRunner
from lunaroute.server._gateway import GATEWAY
from lunaroute.server._reload import RELOADER, ConfigSource

__all__ = ["loop_factory", "make_runner", "open_listener", "run", "serve", "settle_heap", "start_ui", "write_pid"]

_log = logging.getLogger("lunaroute.server")
SHUTDOWN_GRACE_SECS = 30.0


def open_listener(host: str, port: int, server: HttpServerConfig, *, reuse_port: bool = False) -> socket.socket:
    """A bound, listening socket with the configured options (accepted sockets inherit them on Linux).
    `reuse_port`: one of several sockets on the port (`serve --workers N`), among which the kernel spreads new
    connections."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    if server.tcp_keepalive_secs:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        if hasattr(socket, "TCP_KEEPIDLE"):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, server.tcp_keepalive_secs)
    if server.send_buffer_size:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, server.send_buffer_size)
    if server.recv_buffer_size:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, server.recv_buffer_size)
    sock.bind((host, port))
    sock.listen(1024)
    sock.setblocking(False)
    return sock


def make_runner(app: web.Application, server: HttpServerConfig) -> web.AppRunner:
    """An AppRunner whose handlers are cancelled when their client disconnects, with the connection caps and
    deadlines of `server` (`lunaroute.server._connections`)."""
    return GuardedRunner(
        app,
        ConnectionCaps(server, app[GATEWAY].metrics),
        handler_cancellation=True,
        access_log=None,
        handle_signals=False,
        shutdown_timeout=SHUTDOWN_GRACE_SECS,
        # Line, per-header and count limits are enforced by the handlers (414/431 in the caller's dialect); the
        # parser's own limits sit above them so it does not answer first with a plain-text 400.
        max_line_size=max(server.max_header_bytes, server.max_line_bytes),
        max_field_size=max(server.max_header_bytes, server.max_line_bytes),
        max_headers=server.max_header_count * 4,
        # aiohttp's own keep-alive timer is only a backstop: the guarded handler closes idle connections first.
        keepalive_timeout=server.header_timeout_secs + server.idle_timeout_secs,
    )


async def serve(
    config: Config,
    *,
    env: Mapping[str, str] | None = None,
    pid_file: Path | None = None,
    source: ConfigSource | None = None,
) -> None:
    """Serve until SIGINT/SIGTERM, then stop accepting, let requests finish and close the providers. SIGHUP
    reloads the config from `source` (`server._reload`).

    The signal handlers are in place before the listener opens, so a signal that follows the first answered
    request always gets a graceful shutdown. The port is bound before anything else starts (the recorder waits
    for the journal of a previous gateway), so a port in use fails at once with the `OSError` of `bind`.
    """
    sock = open_listener(config.host, config.port, config.http_server)
    for warning in config_warnings(config):
        _log.warning("config: %s", warning)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    ui_runner: web.AppRunner | None = None
    runner: web.AppRunner | None = None
    reloads: set[asyncio.Task[object]] = set()
    try:
        app = create_app(config, env, source)
        reloader = app[RELOADER]

        def on_hangup() -> None:
            task = loop.create_task(reloader.reload("signal"), name="lunaroute-reload")
            reloads.add(task)
            task.add_done_callback(reloads.discard)

        loop.add_signal_handler(signal.SIGHUP, on_hangup)
        runner = make_runner(app, config.http_server)
        await runner.setup()
        site = web.SockSite(runner, sock)
        await site.start()
        gateway = app[GATEWAY]
        ui_runner = await start_ui(config, lambda: provider_status(gateway.runtime))
        settle_heap()
        if pid_file is not None:
            write_pid(pid_file)
        _log.info("listening", extra={"host": config.host, "port": config.port, "dialects": config.api_dialect})
        await stop.wait()
        _log.info("shutting down")
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            loop.remove_signal_handler(sig)
        for task in reloads:
            await asyncio.gather(task, return_exceptions=True)
        if ui_runner is not None:
            await ui_runner.cleanup()
        if runner is not None:
            await runner.cleanup()
        sock.close()  # closed already when the site served it; not when start-up failed before
        if pid_file is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(pid_file)


def settle_heap() -> None:
    """Once everything is built: collect what start-up left behind, then move every surviving object into the
    collector's permanent generation (`gc.freeze`). The app, the config, the modules and the providers live as long
    as the process; without this each full collection walks all of them again."""
    gc.collect()
    gc.freeze()


async def start_ui(
    config: Config, providers: Callable[[], list[dict[str, object]]] | None = None
) -> web.AppRunner | None:
    """The UI listener (session API), started after the gateway so the session store exists."""
    if not config.ui.enabled:
        return None
    from lunaroute.ui import build_ui_app

    runner = web.AppRunner(build_ui_app(config, providers), access_log=None, handle_signals=False)
    await runner.setup()
    try:
        await web.TCPSite(runner, config.ui.host, config.ui.port, reuse_address=True).start()
    except OSError as exc:
        # The gateway serves without its UI rather than not at all (e.g. a second gateway on this machine).
        _log.error(
            "ui not started: cannot listen on %s:%s (%s)",
            config.ui.host,
            config.ui.port,
            exc.strerror or exc,
            extra={"host": config.ui.host, "port": config.ui.port},
        )
        await runner.cleanup()
        return None
    _log.info("ui listening", extra={"host": config.ui.host, "port": config.ui.port})
    return runner


def write_pid(pid_file: Path) -> None:
    os.makedirs(pid_file.parent, mode=0o700, exist_ok=True)
    fd = os.open(pid_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(f"{os.getpid()}\n")


def loop_factory() -> Callable[[], asyncio.AbstractEventLoop]:
    """uvloop's event loop when available, else asyncio's."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - platforms without uvloop
        return asyncio.new_event_loop
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory


def run(config: Config, *, pid_file: Path | None = None, source: ConfigSource | None = None) -> None:
    """Blocking entry point: run `serve` on uvloop when available; with `config.workers` above 1, the
    supervisor of that many worker processes (`lunaroute.server._supervisor`)."""
    with asyncio.Runner(loop_factory=loop_factory()) as loop_runner:
        if config.workers > 1:
            from lunaroute.server._supervisor import supervise

            loop_runner.run(supervise(config, pid_file=pid_file, source=source))
        else:
            loop_runner.run(serve(config, pid_file=pid_file, source=source))
