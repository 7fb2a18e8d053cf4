"""Turn the config into live objects: providers, rules with their strategies, resilience state."""

from __future__ import annotations

import random
import re
from collections.abc import Mapping

from lunaroute.config import Config, MockConfig, RuleConfig
from lunaroute.providers import AzureProvider, BedrockProvider, GeminiProvider, HttpProvider, VertexProvider
from lunaroute.providers.mock import MockProvider
from lunaroute.routing import Router, Rule, RuleTable
from lunaroute.routing._breaker import BreakerConfig
from lunaroute.routing._health import HealthConfig
from lunaroute.routing._resilience import ProviderPolicy, Resilience, TransitionListener
from lunaroute.routing._retry import RetryPolicy
from lunaroute.routing._strategies import (
    LatencyAwareStrategy,
    LeastBusyStrategy,
    PriorityStrategy,
    RoundRobinStrategy,
    StickyStrategy,
    Strategy,
    WeightedRoundRobinStrategy,
)
from lunaroute.types import Dialect, Provider

__all__ = ["build_resilience", "build_router"]


def build_resilience(config: Config, on_transition: TransitionListener | None = None) -> Resilience:
    """Breakers, health and retry policies for every enabled provider."""
    policies = {}
    for name, pconf in config.providers.items():
        if not pconf.enabled:
            continue
        client = pconf.http_client
        retry = RetryPolicy(
            max_retries=client.max_retries,
            base_delay_s=client.retry_base_delay_ms / 1000.0,
            max_delay_s=client.retry_max_delay_ms / 1000.0,
            max_retry_after_s=client.max_retry_after_secs,
            rng=random.Random(),
        )
        policies[name] = ProviderPolicy(retry=retry, total_timeout_s=client.total_timeout_secs)
    routing = config.routing
    cb = routing.circuit_breaker
    breaker = (
        BreakerConfig(
            failure_threshold=cb.failure_threshold,
            success_threshold=cb.success_threshold,
            cooldown_secs=cb.cooldown_secs,
            half_open_max_probes=cb.half_open_max_probes,
            window_secs=cb.window_secs,
            failure_rate_threshold=cb.failure_rate_threshold,
            min_requests=cb.min_requests,
        )
        if cb.enabled
        else None
    )
    hc = routing.health
    health = HealthConfig(
        window_secs=hc.window_secs,
        min_requests=hc.min_requests,
        healthy_success_rate=hc.healthy_success_rate,
        unhealthy_success_rate=hc.unhealthy_success_rate,
    )
    return Resilience(policies, breaker=breaker, health=health, on_transition=on_transition)


def _strategy(rule: RuleConfig, resilience: Resilience) -> Strategy:
    base: Strategy
    match rule.strategy:
        case "round_robin":
            base = RoundRobinStrategy()
        case "weighted":
            base = WeightedRoundRobinStrategy(rule.weights)
        case "least_busy":
            base = LeastBusyStrategy(resilience.in_flight.get)
        case "latency":
            base = LatencyAwareStrategy(resilience.health.ewma_latency, random.Random())
        case _:
            base = PriorityStrategy()
    return StickyStrategy(base, ttl_secs=rule.sticky_ttl_secs) if rule.sticky_sessions else base


def _rule(rule: RuleConfig, resilience: Resilience) -> Rule:
    header = None
    if rule.header is not None:
        name, _, pattern = rule.header.partition(":")
        header = (name.strip().lower(), re.compile(pattern.strip()))
    return Rule(
        name=rule.name,
        model_pattern=re.compile(rule.model_pattern) if rule.model_pattern is not None else None,
        primary=rule.primary,
        fallbacks=tuple(rule.fallbacks),
        priority=rule.priority,
        listener=rule.listener,
        path_pattern=re.compile(rule.path_pattern) if rule.path_pattern is not None else None,
        header=header,
        strategy=_strategy(rule, resilience),
        sticky=rule.sticky_sessions,
    )


def build_router(
    config: Config,
    resilience: Resilience,
    env: Mapping[str, str] | None = None,
    *,
    keep: Mapping[str, Provider] | None = None,
) -> Router:
    """Instantiate every enabled provider, compile the rules and pick each dialect's default.

    The default for a dialect is the built-in provider of that name when enabled, else the first enabled
    provider (in file order) that speaks the dialect, a mock answering both. Connections open lazily. A provider
    in `keep` (a config reload: same name, same config) is used as it is, with its pool of connections.
    """
    providers: dict[str, Provider] = {}
    for name, pconf in config.providers.items():
        if not pconf.enabled:
            continue
        if keep is not None and name in keep:
            providers[name] = keep[name]
        elif pconf.provider_type == "mock":
            providers[name] = MockProvider(name, pconf.mock or MockConfig())
        elif pconf.provider_type == "bedrock":
            providers[name] = BedrockProvider(name, pconf, env)
        elif pconf.provider_type == "azure":
            providers[name] = AzureProvider(name, pconf, env)
        elif pconf.provider_type == "gemini":
            providers[name] = GeminiProvider(name, pconf, env)
        elif pconf.provider_type == "vertex":
            providers[name] = VertexProvider(name, pconf, env)
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
    enabled = {name: p for name, p in config.providers.items() if p.enabled}
    return Router(
        providers=providers,
        defaults=defaults,
        rules=RuleTable([_rule(r, resilience) for r in config.routing.rules]),
        bypass_provider=config.bypass.provider,
        models={name: p.model for name, p in enabled.items() if p.model},
        max_tokens={name: p.default_max_tokens for name, p in enabled.items()},
    )
