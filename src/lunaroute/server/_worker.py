"""One worker of `serve --workers N`: `python -m lunaroute.server._worker FD`, started by the supervisor
(`_supervisor`), which hands it the channel as descriptor FD.

A worker is a whole gateway on its own event loop (its own upstream pools, breakers and health, key cache and
limiter) accepting on the shared port through a socket of its own (`SO_REUSEPORT`), except for two things it
takes from the supervisor: recording (it journals to its own lane; the supervisor's one recorder records every
lane) and `/metrics` (it answers with every process's exposition merged). SIGTERM or SIGINT, or the supervisor
going away, stop it gracefully as they stop `serve`.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from pathlib import Path

from aiohttp import web

from lunaroute.errors import ConfigError
from lunaroute.observability import Metrics, configure_logging
from lunaroute.recording._capture import Capture
from lunaroute.recording._lanes import open_lane_capture
from lunaroute.scrub import Scrubber
from lunaroute.server._app import WorkerWiring, create_app
from lunaroute.server._channel import Boot, SupervisorLink
from lunaroute.server._gateway import GATEWAY
from lunaroute.server._peers import gather_expositions, serve_exposition, socket_path
from lunaroute.server._reload import RELOADER, ConfigSource
from lunaroute.server._runner import loop_factory, make_runner, open_listener, settle_heap

__all__ = ["main"]

_log = logging.getLogger("lunaroute.server")
EXIT_CONFIG = 2
"""A worker that cannot start for a reason a restart would not change (a store that refuses it)."""


def _wiring(boot: Boot, link: SupervisorLink) -> WorkerWiring:
    config = boot.config
    run_dir = Path(boot.run_dir)
    names = ["supervisor", *(f"worker-{i}" for i in range(boot.workers) if i != boot.index)]
    peers = [socket_path(run_dir, name) for name in names]

    async def open_capture(scrub: Scrubber) -> Capture:
        return await open_lane_capture(config.session_recording, boot.index, boot.first_segment, link, scrub=scrub)

    async def gather(metrics: Metrics) -> bytes:
        return await gather_expositions(metrics.exposition() or b"", peers)

    return WorkerWiring(open_capture=open_capture, gather_metrics=gather)


async def _serve(fd: int) -> int:
    link, boot = await SupervisorLink.connect(fd)
    config = boot.config
    configure_logging(config.logging.level, config.logging.format)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    # Ctrl-C in a terminal reaches the whole process group: the supervisor decides when workers stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    link.follow(stop.set)
    source = (
        ConfigSource(Path(boot.source_file), host=boot.source_host, port=boot.source_port)
        if boot.source_file is not None
        else None
    )
    reloads: set[asyncio.Task[object]] = set()
    sock = open_listener(config.host, config.port, config.http_server, reuse_port=True)
    runner: web.AppRunner | None = None
    exposition: asyncio.Server | None = None
    try:
        app = create_app(config, source=source, worker=_wiring(boot, link))
        reloader = app[RELOADER]

        def on_hangup() -> None:
            task = loop.create_task(reloader.reload("signal"), name="lunaroute-reload")
            reloads.add(task)
            task.add_done_callback(reloads.discard)

        loop.add_signal_handler(signal.SIGHUP, on_hangup)
        runner = make_runner(app, config.http_server)
        try:
            await runner.setup()
        except ConfigError as exc:
            _log.error("worker %d cannot start: %s", boot.index, exc)
            return EXIT_CONFIG
        await web.SockSite(runner, sock).start()
        metrics = app[GATEWAY].metrics
        exposition = await serve_exposition(socket_path(Path(boot.run_dir), f"worker-{boot.index}"), metrics.exposition)
        settle_heap()
        link.listening()
        await stop.wait()
        return 0
    finally:
        loop.remove_signal_handler(signal.SIGTERM)
        loop.remove_signal_handler(signal.SIGHUP)
        for task in reloads:
            await asyncio.gather(task, return_exceptions=True)
        if exposition is not None:
            exposition.close()
        if runner is not None:
            await runner.cleanup()
        sock.close()
        await link.aclose()


def main() -> int:
    if len(sys.argv) != 2 or not sys.argv[1].isdigit():
        sys.stderr.write("usage: python -m lunaroute.server._worker FD (started by `lunaroute serve --workers N`)\n")
        return 2
    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        return runner.run(_serve(int(sys.argv[1])))


if __name__ == "__main__":
    sys.exit(main())
