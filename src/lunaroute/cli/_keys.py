"""`lunaroute keys create|list|show|update|revoke|rotate`: gateway keys in the configured store.

The store is `auth.database` of the config (`--config`, else the one `serve` would load): a SQLite file or a
PostgreSQL URL. Commands work while gateways are running; every gateway process sees a change within
`auth.refresh_interval_ms`. A secret is printed once, by `create` and `rotate`. Exit status: 0 on success,
1 for an unknown key id or an unreachable store, 2 for bad arguments or a config that does not load.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import sys
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import click
import msgspec

from lunaroute.config import load_config, resolve_config_path
from lunaroute.errors import ConfigError
from lunaroute.keys import (
    CreatedKey,
    KeyChanges,
    KeyManager,
    KeyNotFound,
    KeyRecord,
    KeySpec,
    open_key_store,
    parse_duration,
    period_key,
)

__all__ = ["keys_group"]

_T = TypeVar("_T")

_config_option = click.option(
    "--config", "config_path", type=click.Path(dir_okay=False), help="Config file naming the key store."
)
_json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON.")


def _store_url(config_path: str | None) -> str:
    try:
        config = load_config(resolve_config_path(config_path))
    except ConfigError as exc:
        click.echo(f"lunaroute: config error: {exc}", err=True)
        sys.exit(2)
    assert config.auth.database is not None
    return config.auth.database


def _run(config_path: str | None, action: Callable[[KeyManager], Awaitable[_T]]) -> _T:
    """Open the store, run `action`, close; unknown ids exit 1, bad values exit 2."""
    url = _store_url(config_path)

    async def main() -> _T:
        store = await open_key_store(url)
        try:
            return await action(KeyManager(store))
        finally:
            await store.aclose()

    try:
        return asyncio.run(main())
    except KeyNotFound as exc:
        click.echo(f"lunaroute: no key has the id {exc.args[0]!r}", err=True)
        sys.exit(1)
    except ValueError as exc:
        click.echo(f"lunaroute: {exc}", err=True)
        sys.exit(2)
    except OSError as exc:
        click.echo(f"lunaroute: cannot open the key store {url}: {exc}", err=True)
        sys.exit(1)


def parse_expiry(text: str, now: float | None = None) -> float | None:
    """`never`, a duration from now (`30d`, `12h`), or an ISO date/time (UTC unless it says otherwise)."""
    now = time.time() if now is None else now
    if text.strip().lower() == "never":
        return None
    try:
        return now + parse_duration(text)
    except ValueError:
        pass
    try:
        when = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter("use a duration (30d, 12h, 15m) or an ISO date/time, or never") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return when.timestamp()


def _metadata(pairs: tuple[str, ...]) -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{pair!r}: use KEY=VALUE", param_hint="--metadata")
        out[key] = value
    return out


def _when(epoch: float | None) -> str:
    if epoch is None:
        return "-"
    return dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def _record_json(record: KeyRecord) -> dict[str, object]:
    out: dict[str, object] = msgspec.to_builtins(record)
    out["status"] = record.status()
    return out


def _limits_text(record: KeyRecord) -> str:
    parts = [
        f"{value} {label}"
        for value, label in ((record.rpm, "rpm"), (record.tpm, "tpm"), (record.max_parallel, "parallel"))
        if value is not None
    ]
    return ", ".join(parts) or "none"


def _budget_text(record: KeyRecord, spend: tuple[float, float] | None) -> str:
    if record.budget_usd is None or record.budget_period is None:
        return "none"
    text = f"${record.budget_usd:.2f} per {record.budget_period}"
    if spend is not None:
        text += f"; spent ${spend[0]:.4f} this period (${spend[1]:.4f} reserved by requests under way)"
    if record.budget_soft_limit is not None:
        text += f"; warn past {record.budget_soft_limit:.0%}"
    if record.budget_reroute_model:
        text += f"; over budget: served by {record.budget_reroute_model}"
    return text


def _print_record(record: KeyRecord, as_json: bool, spend: tuple[float, float] | None = None) -> None:
    if as_json:
        out = _record_json(record)
        if spend is not None:
            out["spent_usd"], out["reserved_usd"] = spend
        click.echo(msgspec.json.encode(out).decode())
        return
    rows = [
        ("id", record.id),
        ("name", record.name),
        ("key", f"{record.prefix}..."),
        ("status", record.status()),
        ("team", record.team or "-"),
        ("models", ", ".join(record.models) or "all"),
        ("endpoints", ", ".join(record.endpoints) or "all"),
        ("metadata", ", ".join(f"{k}={v}" for k, v in record.metadata.items()) or "-"),
        ("limits", _limits_text(record)),
        ("budget", _budget_text(record, spend)),
        ("created", _when(record.created_at)),
        ("expires", _when(record.expires_at)),
        ("revoked", _when(record.revoked_at)),
        ("last used", _when(record.last_used_at)),
    ]
    if record.rotated_at is not None:
        rows.append(("rotated", _when(record.rotated_at)))
        rows.append(("old key valid until", _when(record.previous_valid_until)))
    for label, value in rows:
        click.echo(f"{label + ':':<21}{value}")


def _print_created(created: CreatedKey, as_json: bool) -> None:
    if as_json:
        click.echo(msgspec.json.encode({**_record_json(created.record), "key": created.secret}).decode())
        return
    _print_record(created.record, False)
    click.echo(f"\n{created.secret}")
    click.echo("This is the only time the key is shown: store it now.", err=True)


@click.group("keys")
def keys_group() -> None:
    """Manage gateway API keys (auth.mode: keys)."""


@keys_group.command("create")
@_config_option
@click.option("--name", required=True, help="What the key is for (shown in lists and recordings).")
@click.option("--team", help="The team the key belongs to.")
@click.option("--models", multiple=True, help="A model pattern the key may use, e.g. 'claude-*' (repeatable).")
@click.option("--endpoints", multiple=True, help="A path pattern the key may call, e.g. /v1/embeddings (repeatable).")
@click.option("--expires", help="30d, 12h, an ISO date/time, or never (default).")
@click.option("--metadata", multiple=True, help="KEY=VALUE kept with the key (repeatable).")
@click.option("--rpm", type=click.IntRange(min=1), help="Requests per minute.")
@click.option("--tpm", type=click.IntRange(min=1), help="Tokens per minute (input + output).")
@click.option("--max-parallel", type=click.IntRange(min=1), help="Requests in flight at once.")
@click.option("--budget", type=click.FloatRange(min=0), help="Spend cap in US dollars per --budget-period.")
@click.option(
    "--budget-period", type=click.Choice(["day", "week", "month", "total"]), default="month", show_default=True
)
@click.option("--budget-soft-limit", type=click.FloatRange(0, 1, min_open=True, max_open=True), help="e.g. 0.8")
@click.option("--budget-reroute-model", help="Serve requests over budget with this model instead of refusing them.")
@_json_option
def create(
    config_path: str | None,
    name: str,
    team: str | None,
    models: tuple[str, ...],
    endpoints: tuple[str, ...],
    expires: str | None,
    metadata: tuple[str, ...],
    rpm: int | None,
    tpm: int | None,
    max_parallel: int | None,
    budget: float | None,
    budget_period: str,
    budget_soft_limit: float | None,
    budget_reroute_model: str | None,
    as_json: bool,
) -> None:
    """Create a key and print its secret (the only time it is shown)."""
    spec = KeySpec(
        name=name,
        team=team,
        models=list(models),
        endpoints=list(endpoints),
        metadata=_metadata(metadata),
        expires_at=parse_expiry(expires) if expires else None,
        rpm=rpm,
        tpm=tpm,
        max_parallel=max_parallel,
        budget_usd=budget,
        budget_period=budget_period if budget is not None else None,  # type: ignore[arg-type]
        budget_soft_limit=budget_soft_limit,
        budget_reroute_model=budget_reroute_model,
    )
    _print_created(_run(config_path, lambda keys: keys.create(spec)), as_json)


@keys_group.command("list")
@_config_option
@click.option("--team", help="Only this team's keys.")
@_json_option
def list_keys(config_path: str | None, team: str | None, as_json: bool) -> None:
    """Every key, oldest first (never the secrets)."""
    records = _run(config_path, lambda keys: keys.list_keys(team))
    if as_json:
        click.echo(msgspec.json.encode([_record_json(r) for r in records]).decode())
        return
    if not records:
        click.echo("no keys")
        return
    click.echo(f"{'ID':<21}  {'NAME':<20}  {'KEY':<14}  {'TEAM':<12}  {'STATUS':<8}  {'EXPIRES':<20}  LAST USED")
    for r in records:
        click.echo(
            f"{r.id:<21}  {r.name[:20]:<20}  {r.prefix + '...':<14}  {(r.team or '-')[:12]:<12}  "
            f"{r.status():<8}  {_when(r.expires_at):<20}  {_when(r.last_used_at)}"
        )


@keys_group.command("show")
@_config_option
@click.argument("key_id")
@_json_option
def show(config_path: str | None, key_id: str, as_json: bool) -> None:
    """One key, with its spend in the current budget period."""

    async def load(keys: KeyManager) -> tuple[KeyRecord, tuple[float, float] | None]:
        record = await keys.get(key_id)
        if record.budget_period is None:
            return record, None
        now = time.time()
        return record, await keys.store.spend(f"key:{record.id}", period_key(record.budget_period, now), now)

    record, spend = _run(config_path, load)
    _print_record(record, as_json, spend)


@keys_group.command("update")
@_config_option
@click.argument("key_id")
@click.option("--name", help="A new name.")
@click.option("--team", help="A new team ('' for none).")
@click.option("--models", multiple=True, help="Replace the model patterns (repeatable).")
@click.option("--all-models", is_flag=True, help="Allow every model again.")
@click.option("--endpoints", multiple=True, help="Replace the path patterns (repeatable).")
@click.option("--all-endpoints", is_flag=True, help="Allow every endpoint again.")
@click.option("--expires", help="30d, 12h, an ISO date/time, or never.")
@click.option("--metadata", multiple=True, help="Replace the metadata with these KEY=VALUE pairs (repeatable).")
@click.option("--rpm", type=click.IntRange(min=0), help="Requests per minute (0: no limit).")
@click.option("--tpm", type=click.IntRange(min=0), help="Tokens per minute (0: no limit).")
@click.option("--max-parallel", type=click.IntRange(min=0), help="Requests in flight at once (0: no limit).")
@click.option("--budget", type=click.FloatRange(min=0), help="Spend cap in US dollars per period.")
@click.option("--no-budget", is_flag=True, help="Remove the key's budget.")
@click.option("--budget-period", type=click.Choice(["day", "week", "month", "total"]))
@click.option("--budget-soft-limit", type=click.FloatRange(0, 1, min_open=True, max_open=True))
@click.option("--budget-reroute-model", help="Model for requests over budget ('' to refuse them again).")
@_json_option
def update(
    config_path: str | None,
    key_id: str,
    name: str | None,
    team: str | None,
    models: tuple[str, ...],
    all_models: bool,
    endpoints: tuple[str, ...],
    all_endpoints: bool,
    expires: str | None,
    metadata: tuple[str, ...],
    rpm: int | None,
    tpm: int | None,
    max_parallel: int | None,
    budget: float | None,
    no_budget: bool,
    budget_period: str | None,
    budget_soft_limit: float | None,
    budget_reroute_model: str | None,
    as_json: bool,
) -> None:
    """Change a key's name, team, scopes, metadata or expiry (takes effect on running gateways)."""
    changes = KeyChanges()
    if name is not None:
        changes.name = name
    if team is not None:
        changes.team = team or None
    if models or all_models:
        changes.models = [] if all_models else list(models)
    if endpoints or all_endpoints:
        changes.endpoints = [] if all_endpoints else list(endpoints)
    if expires is not None:
        changes.expires_at = parse_expiry(expires)
    if metadata:
        changes.metadata = _metadata(metadata)
    if rpm is not None:
        changes.rpm = rpm or None
    if tpm is not None:
        changes.tpm = tpm or None
    if max_parallel is not None:
        changes.max_parallel = max_parallel or None
    if budget is not None or no_budget:
        changes.budget_usd = None if no_budget else budget
        if no_budget:
            changes.budget_period = None
    if budget_period is not None:
        changes.budget_period = budget_period  # type: ignore[assignment]
    elif budget is not None:
        changes.budget_period = "month"
    if budget_soft_limit is not None:
        changes.budget_soft_limit = budget_soft_limit
    if budget_reroute_model is not None:
        changes.budget_reroute_model = budget_reroute_model or None
    _print_record(_run(config_path, lambda keys: keys.update(key_id, changes)), as_json)


@keys_group.command("revoke")
@_config_option
@click.argument("key_id")
@_json_option
def revoke(config_path: str | None, key_id: str, as_json: bool) -> None:
    """Revoke a key: every gateway refuses it within auth.refresh_interval_ms."""
    _print_record(_run(config_path, lambda keys: keys.revoke(key_id)), as_json)


@keys_group.command("rotate")
@_config_option
@click.argument("key_id")
@click.option("--grace", default="0s", show_default=True, help="How long the old secret keeps working (1h, 30m).")
@_json_option
def rotate(config_path: str | None, key_id: str, grace: str, as_json: bool) -> None:
    """Give a key a new secret (printed once); the old one works for the grace period."""
    try:
        grace_secs = parse_duration(grace)
    except ValueError:
        raise click.BadParameter("use a duration such as 1h, 30m or 0s", param_hint="--grace") from None
    _print_created(_run(config_path, lambda keys: keys.rotate(key_id, grace_secs=grace_secs)), as_json)
