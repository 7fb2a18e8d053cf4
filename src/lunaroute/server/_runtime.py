"""`Runtime`: what one config builds for the request path (providers, router, resilience, pipeline), swapped
whole by a config reload while requests that started on the previous one finish on it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping

from lunaroute.config import Config
from lunaroute.observability import Metrics
from lunaroute.pipeline import Pipeline
from lunaroute.providers._http import HttpProvider
from lunaroute.responses import ResponseStore
from lunaroute.routing._breaker import BreakerState
from lunaroute.server._wiring import build_resilience, build_router
from lunaroute.types import Provider

__all__ = ["Runtime", "build_runtime"]

_log = logging.getLogger("lunaroute.server")


class Runtime:
    """One config's request path. Handlers take `Gateway.runtime` once per request and hold it with `enter`
    and `leave`; once a reload `retire`s it, the providers it does not share with its successor are closed as
    soon as its last request has left."""

    __slots__ = ("_drained", "_retired", "_users", "config", "owned", "pipeline")

    def __init__(self, config: Config, pipeline: Pipeline) -> None:
        self.config = config
        self.pipeline = pipeline
        self.owned: dict[str, Provider] = dict(pipeline.router.providers)
        """The providers to close with this runtime: all at first; a successor that keeps one takes it over."""
        self._users = 0
        self._retired = False
        self._drained = asyncio.Event()

    @property
    def users(self) -> int:
        """Requests being served on this runtime now."""
        return self._users

    def enter(self) -> None:
        self._users += 1

    def leave(self) -> None:
        self._users -= 1
        if self._retired and self._users == 0:
            self._drained.set()

    def retire(self) -> None:
        """No new request will use this runtime (a successor was swapped in)."""
        self._retired = True
        if self._users == 0:
            self._drained.set()

    def report_secrets(self, learn: Callable[[str], None]) -> None:
        """Have `learn` (the gateway's scrubber) told every credential a provider reads at run time."""
        for provider in self.pipeline.router.providers.values():
            if isinstance(provider, HttpProvider):
                provider.on_secret(learn)

    async def drained(self) -> None:
        """Returns once the runtime is retired and its last request has left."""
        await self._drained.wait()

    async def aclose(self) -> None:
        """Close the providers this runtime still owns (their pools)."""
        owned, self.owned = self.owned, {}
        for provider in owned.values():
            await provider.aclose()


def build_runtime(
    config: Config,
    metrics: Metrics,
    env: Mapping[str, str] | None = None,
    *,
    previous: Runtime | None = None,
    responses: ResponseStore | None = None,
) -> Runtime:
    """The runtime of `config`. With `previous` (a reload), every enabled provider whose config is unchanged is
    taken over with its pool, breaker and health, and the in-flight counts carry on. `responses` is the store of
    translated Responses answers (the gateway's, kept across reloads)."""

    def on_transition(provider: str, old: BreakerState, new: BreakerState, reason: str) -> None:
        metrics.breaker_changed(provider, old.value, new.value)

    resilience = build_resilience(config, on_transition)
    keep: dict[str, Provider] = {}
    if previous is not None:
        before = previous.config.providers
        for name, pconf in config.providers.items():
            provider = previous.pipeline.router.providers.get(name)
            if pconf.enabled and provider is not None and before.get(name) == pconf:
                keep[name] = provider
        resilience.carry_over(previous.pipeline.resilience, keep)
    router = build_router(config, resilience, env, keep=keep)
    pipeline = Pipeline(
        router,
        metrics,
        resilience,
        notification=config.routing.provider_switch_notification,
        first_event_peek_s=config.routing.first_event_peek_ms / 1000.0,
    )
    pipeline.responses = responses
    runtime = Runtime(config, pipeline)
    if previous is not None:
        for name in keep:
            previous.owned.pop(name, None)
    return runtime
