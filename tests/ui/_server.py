"""`ui_server`: the UI listener of a gateway's config on a free loopback port, for tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiohttp import web

from lunaroute.server._admin_ops import provider_status
from lunaroute.server._gateway import GATEWAY
from lunaroute.testing import GatewayServer
from lunaroute.ui import build_ui_app


@asynccontextmanager
async def ui_server(gateway: GatewayServer) -> AsyncIterator[str]:
    """The UI listener of `gateway`'s config on a free loopback port, reading its providers' health as the
    gateway's own UI does; yields its base URL."""
    assert gateway.app is not None
    state = gateway.app[GATEWAY]
    runner = web.AppRunner(build_ui_app(gateway.config, lambda: provider_status(state.runtime)))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()
