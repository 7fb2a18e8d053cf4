"""`lunaroute ui`: the UI listener on its own, without a gateway — for N replicas recording into one database.

The replicas record into PostgreSQL (`session_recording.postgres`); one `lunaroute ui` process with
`ui.database: postgres` serves the pages and `/api/...` over all of them. It records nothing, opens no
provider and no journal. SIGINT/SIGTERM stop it.
"""

from __future__ import annotations

import asyncio
import logging
import signal

from aiohttp import web

from lunaroute.config import Config
from lunaroute.ui._serve import build_ui_app

__all__ = ["run_ui", "serve_ui"]

_log = logging.getLogger("lunaroute.ui")


async def serve_ui(config: Config, *, ready: asyncio.Event | None = None, stop: asyncio.Event | None = None) -> None:
    """Serve the UI on `ui.host:ui.port` until SIGINT/SIGTERM (or `stop` is set); `ready` is set once it listens.

    Raises `OSError` when the address cannot be bound."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    runner = web.AppRunner(build_ui_app(config), access_log=None, handle_signals=False)
    try:
        await runner.setup()
        await web.TCPSite(runner, config.ui.host, config.ui.port, reuse_address=True).start()
        _log.info(
            "ui listening",
            extra={"host": config.ui.host, "port": config.ui.port, "database": _database_kind(config)},
        )
        if ready is not None:
            ready.set()
        await stop.wait()
        _log.info("ui shutting down")
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        await runner.cleanup()


def _database_kind(config: Config) -> str:
    """`sqlite` or `postgres` (never the URL: it may hold a password)."""
    return "sqlite" if config.ui.database == "sqlite" else "postgres"


def run_ui(config: Config) -> None:
    """Blocking entry point of `lunaroute ui`."""
    asyncio.run(serve_ui(config))
