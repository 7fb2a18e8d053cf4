"""`lunaroute route`: a dry run of the real router for a request that is not sent."""

from __future__ import annotations

import json
import sys

import click
import msgspec

from lunaroute.config import Config
from lunaroute.errors import LunaRouteError
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
    """The decision the gateway would make for a request: provider chain, reason, rule, translation."""
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


def print_route(config: Config, model: str, header: tuple[str, ...], dialect: Dialect, as_json: bool) -> None:
    headers = []
    for item in header:
        name, sep, value = item.partition("=")
        if not sep:
            raise click.BadParameter(f"{item!r} is not NAME=VALUE", param_hint="--header")
        headers.append((name.strip().lower(), value.strip()))
    try:
        result = explain_route(config, model=model, dialect=dialect, headers=headers)
    except LunaRouteError as exc:
        click.echo(f"no route: {exc.message}", err=True)
        sys.exit(1)
    if as_json:
        click.echo(json.dumps(msgspec.to_builtins(result), indent=2))
        return
    rule = f" (rule {result.rule})" if result.rule else ""
    click.echo(f"{dialect} request for model {model!r}: {result.reason}{rule}")
    for position, step in enumerate(result.chain):
        role = "primary " if position == 0 else "fallback"
        how = "translated" if step.translated else "passthrough"
        url = f" -> {step.base_url}" if step.base_url else ""
        click.echo(f"  {role} {step.provider} ({step.dialect}, {how}, model {step.model_sent!r}){url}")
