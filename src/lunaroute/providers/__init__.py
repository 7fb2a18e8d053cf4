"""Providers: the upstreams a request can be sent to (HTTP providers and the built-in mock)."""

from __future__ import annotations

import re
from collections.abc import Mapping

from lunaroute.config import Config, MockConfig
from lunaroute.providers._http import HttpProvider, HttpUpstreamResponse
from lunaroute.providers.mock import MockProvider
from lunaroute.routing import Router, Rule, RuleTable
from lunaroute.types import Dialect, Provider

__all__ = ["HttpProvider", "HttpUpstreamResponse", "build_router"]


def build_router(config: Config, env: Mapping[str, str] | None = None) -> Router:
    """Instantiate every enabled provider, compile the rules and pick each dialect's default.

    The default for a dialect is the built-in provider of that name when enabled, else the first enabled
    provider (in file order) that speaks the dialect, a mock answering both. Connections open lazily.
    """
    providers: dict[str, Provider] = {}
    for name, pconf in config.providers.items():
        if not pconf.enabled:
            continue
        if pconf.provider_type == "mock":
            providers[name] = MockProvider(name, pconf.mock or MockConfig())
        else:
            providers[name] = HttpProvider(name, pconf, env)
    served: tuple[Dialect, ...] = ("openai", "anthropic") if config.api_dialect == "both" else (config.api_dialect,)
    defaults: dict[Dialect, str] = {}
    for dialect in served:
        if dialect in providers and providers[dialect].dialect in (dialect, "any"):
            defaults[dialect] = dialect
            continue
        for name, provider in providers.items():
            if provider.dialect in (dialect, "any"):
                defaults[dialect] = name
                break
    models = {name: p.model for name, p in config.providers.items() if p.enabled and p.model}
    rules = RuleTable(
        [
            Rule(
                name=r.name,
                model_pattern=re.compile(r.model_pattern) if r.model_pattern is not None else None,
                primary=r.primary,
                fallbacks=tuple(r.fallbacks),
                priority=r.priority,
                listener=r.listener,
            )
            for r in config.routing.rules
        ]
    )
    return Router(
        providers=providers,
        defaults=defaults,
        rules=rules,
        bypass_provider=config.bypass.provider,
        models=models,
        max_tokens={name: p.default_max_tokens for name, p in config.providers.items() if p.enabled},
    )
