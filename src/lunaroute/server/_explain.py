"""The router's decision for a request that is not sent: `lunaroute route` and `POST /admin/route`."""

from __future__ import annotations

import msgspec

from lunaroute.config import Config
from lunaroute.routing import PROVIDER_HEADER
from lunaroute.server._wiring import build_resilience, build_router
from lunaroute.types import Dialect

__all__ = ["RouteExplanation", "RouteStep", "explain_route"]


class RouteStep(msgspec.Struct, frozen=True):
    provider: str
    dialect: str
    translated: bool
    model_sent: str
    base_url: str | None = None
    """Where the provider's requests go (None for a mock provider)."""


class RouteExplanation(msgspec.Struct, frozen=True):
    dialect: str
    model: str
    reason: str
    rule: str | None
    chain: list[RouteStep]


def explain_route(
    config: Config, *, model: str, dialect: Dialect, headers: list[tuple[str, str]], path: str | None = None
) -> RouteExplanation:
    """The decision the gateway would make for a request: provider chain, reason, rule, translation.

    A router of its own is built from `config` (its providers open nothing until used), so a dry run never
    moves the running gateway's balancing or sticky state. Raises the router's `LunaRouteError` for no route."""
    resilience = build_resilience(config)
    router = build_router(config, resilience)
    requested = next((v for k, v in headers if k == PROVIDER_HEADER), None)
    upstream_path = path or ("/messages" if dialect == "anthropic" else "/chat/completions")
    decision = router.decide(
        dialect,
        model=model,
        bypass=False,
        requested=requested,
        marker=None,
        path=upstream_path,
        headers=headers,
        session_key=lambda: None,
    )
    chain = [
        RouteStep(
            p.name,
            p.dialect,
            p.dialect not in (dialect, "any"),
            router.models.get(p.name, model),
            config.providers[p.name].base_url if p.name in config.providers else None,
        )
        for p in decision.chain
    ]
    return RouteExplanation(dialect, model, decision.reason, decision.rule, chain)
