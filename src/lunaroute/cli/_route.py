"""`lunaroute route`: a dry run of the real router for a request that is not sent."""

from __future__ import annotations

import json
import sys

import click
import msgspec

from lunaroute.config import Config
from lunaroute.errors import LunaRouteError
from lunaroute.server._explain import RouteExplanation, RouteStep, explain_route
from lunaroute.types import Dialect

__all__ = ["RouteExplanation", "RouteStep", "explain_route", "print_route"]


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
