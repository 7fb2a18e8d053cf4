"""`create_app(config)`: build and wire one gateway application; nothing happens at import time."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from aiohttp import web

from lunaroute._aio import cancel_and_wait
from lunaroute.config import Config
from lunaroute.hosts import HostCheck
from lunaroute.keys import KeyCache, KeyManager, open_key_store
from lunaroute.observability import Metrics, ModelLabels, NullMetrics
from lunaroute.observability._collectors import PoolCollector, PoolSnapshot, RecorderCollector, ResilienceCollector
from lunaroute.observability._usage import usage_counter
from lunaroute.observability.tracing import Tracing, TracingSettings
from lunaroute.policies import Authenticator, Budgets, Limiter, StateStore
from lunaroute.providers import HttpProvider
from lunaroute.recording._capture import Capture
from lunaroute.recording._setup import RecordingStack, open_recording
from lunaroute.responses import LazyResponseStore
from lunaroute.scrub import Scrubber
from lunaroute.server._admin import add_admin_routes
from lunaroute.server._admission import admitted
from lunaroute.server._gateway import GATEWAY, Gateway
from lunaroute.server._handlers import handle_health, handle_metrics, handle_proxy, handle_ready, handle_root
from lunaroute.server._recording_health import RecordingHealth
from lunaroute.server._reload import RELOADER, ConfigSource, Reloader
from lunaroute.server._responses import add_response_routes
from lunaroute.server._runtime import Runtime, build_runtime
from lunaroute.server._trusted_host import host_checked
from lunaroute.server._websocket import responses_socket
from lunaroute.state import MemoryState, RedisState

__all__ = ["WorkerWiring", "create_app"]


@dataclass(frozen=True, slots=True)
class WorkerWiring:
    """What a worker of `serve --workers N` takes from its supervisor instead of making it itself."""

    open_capture: Callable[[Scrubber], Awaitable[Capture]]
    """Open this worker's journal lane, recorded by the supervisor's one recorder."""
    gather_metrics: Callable[[Metrics], Awaitable[bytes]]
    """The whole gateway's exposition, given this process's metrics."""


def create_app(
    config: Config,
    env: Mapping[str, str] | None = None,
    source: ConfigSource | None = None,
    *,
    worker: WorkerWiring | None = None,
) -> web.Application:
    """The aiohttp application for `config`. Providers open their pools lazily and close on cleanup.

    `source` is where `config` was loaded from: with it the gateway can reload (`server._reload`); without it
    (a config built in memory) a reload is refused. `worker`: the app of one worker of several
    (`serve --workers N`)."""
    mconf = config.observability.metrics
    metrics = Metrics(ModelLabels(mconf.model_label_allow, mconf.max_model_labels)) if mconf.enabled else NullMetrics()
    responses: LazyResponseStore | None = None
    if config.responses.store:
        assert config.responses.database is not None
        responses = LazyResponseStore(config.responses.database)
    runtime = build_runtime(config, metrics, env, responses=responses)
    server = config.http_server
    tconf = config.observability.tracing
    tracing = Tracing(
        TracingSettings(
            enabled=tconf.enabled,
            exporter=tconf.exporter,
            endpoint=tconf.endpoint,
            headers=dict(tconf.headers),
            service_name=tconf.service_name,
            sampler=tconf.sampler,
            ratio=tconf.ratio,
            timeout_secs=tconf.timeout_secs,
        )
    )
    gateway = Gateway(
        runtime=runtime,
        metrics=metrics,
        keepalive_secs=server.sse_keepalive_interval_secs if server.sse_keepalive_enabled else None,
        log_requests=config.logging.log_requests,
        tracing=tracing,
        scrubber=Scrubber.for_providers((p.api_key, p.request_headers) for p in config.providers.values()),
    )
    runtime.report_secrets(gateway.scrubber.add)
    # The body is read by the handlers within max_request_body_bytes; aiohttp's own cap must not cut in first.
    if worker is not None and not isinstance(metrics, NullMetrics):
        gather = worker.gather_metrics
        gateway.gather_metrics = lambda: gather(metrics)
    app = web.Application(client_max_size=server.max_request_body_bytes, handler_args=None)
    app[GATEWAY] = gateway
    reloader = Reloader(gateway, source, env)
    app[RELOADER] = reloader
    # Read at scrape time from the runtime of the moment, so a reload's providers are what /metrics shows.
    metrics.registry.register(ResilienceCollector(lambda: gateway.runtime.pipeline.resilience))
    metrics.registry.register(PoolCollector(lambda: _pool_snapshots(gateway.runtime)))
    hosts = HostCheck(config.host, server.allowed_hosts)
    app.router.add_get("/", host_checked(handle_root, hosts))
    app.router.add_get("/healthz", host_checked(handle_health, hosts))
    app.router.add_get("/readyz", host_checked(handle_ready, hosts))
    app.router.add_get("/metrics", host_checked(handle_metrics, hosts))
    add_admin_routes(app)
    proxy = admitted(handle_proxy, server.max_in_flight_requests, metrics)
    if config.responses.store:
        add_response_routes(app, hosts, proxy)
    for path in ("/v1/responses", "/responses"):
        app.router.add_get(path, host_checked(responses_socket(proxy), hosts), allow_head=False)
    app.router.add_route("*", "/{tail:.*}", host_checked(proxy, hosts))

    recording: list[RecordingStack] = []
    watchers: list[asyncio.Task[None]] = []
    key_caches: list[KeyCache] = []

    async def open_keys() -> None:
        auth = config.auth
        if auth.mode != "keys" and auth.admin_key is None:
            return
        assert auth.database is not None
        store = await open_key_store(auth.database)
        cache = KeyCache(store, refresh_s=auth.refresh_interval_ms / 1000.0)
        try:
            await cache.start()
        except BaseException:
            await store.aclose()
            raise
        key_caches.append(cache)
        gateway.keys = KeyManager(store)
        if auth.mode == "keys":
            gateway.policies.auth = Authenticator(
                cache, max_failures_per_minute=auth.max_failures_per_minute, on_refused=metrics.auth_refused
            )

    async def open_limits() -> None:
        if config.auth.mode != "keys" and not config.teams and not config.limits:
            return
        sconf = config.state
        state: StateStore = MemoryState()
        if sconf.backend == "redis":
            assert sconf.redis_url is not None
            state = await RedisState.open(
                sconf.redis_url, prefix=sconf.key_prefix, timeout_s=sconf.timeout_ms / 1000, require=False
            )
        budgets = None
        if gateway.keys is not None and config.auth.mode == "keys":
            budgets = Budgets(
                gateway.keys.store,
                config.teams,
                on_spend=metrics.spent,
                on_soft=metrics.budget_soft_limit,
                on_refused=lambda scope: metrics.limited(scope, "budget"),
                on_utilisation=metrics.budget_utilisation,
                unpriced_model_price=config.budgets.unpriced_model_price,
            )
        gateway.policies.limiter = Limiter(
            state,
            teams=config.teams,
            models=config.limits,
            budgets=budgets,
            on_unavailable=sconf.on_unavailable,
            on_limited=metrics.limited,
            on_state_error=metrics.limit_state_failed,
        )

    async def open_stores(_: web.Application) -> None:
        tracing.start()
        if config.reload.watch:
            reloader.start_watching(config.reload.debounce_ms)
        await open_keys()
        await open_limits()
        if config.session_recording.enabled and worker is not None:
            capture = await worker.open_capture(gateway.scrubber)
            recording.append(RecordingStack(capture))
            gateway.capture = capture
            if not isinstance(metrics, NullMetrics):
                metrics.registry.register(RecorderCollector(capture))
        elif config.session_recording.enabled:
            stack = await open_recording(
                config.session_recording,
                on_usage=usage_counter(metrics),
                log_level=config.logging.level,
                log_format=config.logging.format,
                log_requests=config.logging.log_requests,
                log_sql_queries=config.logging.log_sql_queries,
                session_stats_max_sessions=config.session_stats_max_sessions,
                scrub=gateway.scrubber,
                owner=(config.host, config.port),
            )
            recording.append(stack)
            gateway.capture = stack.capture
            health = RecordingHealth(stack.capture, metrics, required=config.session_recording.required)
            gateway.recording_health = health
            watchers.append(asyncio.get_running_loop().create_task(health.watch(), name="lunaroute-recording-health"))
            if not isinstance(metrics, NullMetrics):
                metrics.registry.register(RecorderCollector(stack.capture, stack.capture.worker))

    async def close_everything(_: web.Application) -> None:
        # Runs after the listener stopped and in-flight requests finished: record what they left, then close.
        gateway.capture = None
        gateway.recording_health = None
        for task in watchers:
            await cancel_and_wait(task)
        for stack in recording:
            await stack.aclose()
        await reloader.aclose()
        await gateway.runtime.aclose()
        if gateway.policies.limiter is not None:
            await gateway.policies.limiter.aclose()
        for cache in key_caches:
            await cache.aclose()
        if gateway.keys is not None:
            await gateway.keys.store.aclose()
        await tracing.aclose()
        if responses is not None:
            await responses.aclose()

    app.on_startup.append(open_stores)
    app.on_cleanup.append(close_everything)
    return app


def _pool_snapshots(runtime: Runtime) -> list[PoolSnapshot]:
    """The pools of the runtime's HTTP providers that have `enable_pool_metrics`."""
    providers = runtime.config.providers
    return [
        p.pool_snapshot()
        for name, p in runtime.pipeline.router.providers.items()
        if isinstance(p, HttpProvider) and providers[name].http_client.enable_pool_metrics
    ]
