"""`create_app(config)`: build and wire one gateway application; nothing happens at import time."""

from __future__ import annotations

from collections.abc import Mapping

from aiohttp import web

from lunaroute.config import Config
from lunaroute.observability import Metrics
from lunaroute.pipeline import Pipeline
from lunaroute.providers import build_router
from lunaroute.server._gateway import GATEWAY, Gateway
from lunaroute.server._handlers import handle_health, handle_metrics, handle_proxy, handle_ready, handle_root

__all__ = ["create_app"]


def create_app(config: Config, env: Mapping[str, str] | None = None) -> web.Application:
    """The aiohttp application for `config`. Providers open their pools lazily and close on cleanup."""
    metrics = Metrics()
    router = build_router(config, env)
    pipeline = Pipeline(router, metrics)
    server = config.http_server
    gateway = Gateway(
        config=config,
        pipeline=pipeline,
        metrics=metrics,
        keepalive_secs=server.sse_keepalive_interval_secs if server.sse_keepalive_enabled else None,
        log_requests=config.logging.log_requests,
    )
    # The body is read by the handlers within max_request_body_bytes; aiohttp's own cap must not cut in first.
    app = web.Application(client_max_size=server.max_request_body_bytes, handler_args=None)
    app[GATEWAY] = gateway
    app.router.add_get("/", handle_root)
    app.router.add_get("/healthz", handle_health)
    app.router.add_get("/readyz", handle_ready)
    app.router.add_get("/metrics", handle_metrics)
    app.router.add_route("*", "/{tail:.*}", handle_proxy)

    async def close_providers(_: web.Application) -> None:
        for provider in router.providers.values():
            await provider.aclose()

    app.on_cleanup.append(close_providers)
    return app
