"""Validation of who may call the gateway and how much: `auth`, `teams`, `limits`, `state` (also against
`workers`), `budgets`, and the refusal to listen beyond loopback without keys."""

from __future__ import annotations

import ipaddress

from lunaroute.config._schema import Config, LimitsConfig
from lunaroute.errors import ConfigError

__all__ = ["MAX_WORKERS", "check_exposure", "check_workers", "is_loopback", "validate_auth", "validate_limits"]

MAX_WORKERS = 256


def validate_auth(config: Config, source: str) -> None:
    auth = config.auth
    if auth.refresh_interval_ms <= 0:
        raise ConfigError("must be > 0", source=source, path="$.auth.refresh_interval_ms")
    if auth.max_failures_per_minute <= 0:
        raise ConfigError("must be > 0", source=source, path="$.auth.max_failures_per_minute")
    if auth.admin_key is not None and len(auth.admin_key) < 16:
        raise ConfigError("must be at least 16 characters (use ${VAR})", source=source, path="$.auth.admin_key")
    check_exposure(config, source)


def validate_limits(config: Config, source: str) -> None:
    scopes: list[tuple[str, LimitsConfig]] = [(f"$.teams.{name}", limits) for name, limits in config.teams.items()]
    scopes += [(f"$.limits[{i}]", limits) for i, limits in enumerate(config.limits)]
    for where, limits in scopes:
        for kind in ("rpm", "tpm", "max_parallel"):
            value = getattr(limits, kind)
            if value is not None and value <= 0:
                raise ConfigError("must be > 0 (omit it for no limit)", source=source, path=f"{where}.{kind}")
    for name, team in config.teams.items():
        where = f"$.teams.{name}"
        if team.budget_usd is not None and team.budget_usd < 0:
            raise ConfigError("must be >= 0", source=source, path=f"{where}.budget_usd")
        if team.budget_soft_limit is not None and not 0 < team.budget_soft_limit < 1:
            raise ConfigError("must be between 0 and 1 (e.g. 0.8)", source=source, path=f"{where}.budget_soft_limit")
    for i, limit in enumerate(config.limits):
        if not limit.model:
            raise ConfigError("must be a model pattern", source=source, path=f"$.limits[{i}].model")
    state = config.state
    if state.backend == "redis" and not state.redis_url:
        raise ConfigError("backend redis needs redis_url (redis://host:6379/0)", source=source, path="$.state")
    if state.redis_url and not state.redis_url.startswith(("redis://", "rediss://", "unix://")):
        raise ConfigError("must be a redis://, rediss:// or unix:// URL", source=source, path="$.state.redis_url")
    if state.timeout_ms <= 0:
        raise ConfigError("must be > 0", source=source, path="$.state.timeout_ms")
    fallback = config.budgets.unpriced_model_price
    if fallback is not None:
        for field in ("input_usd_per_mtok", "output_usd_per_mtok"):
            if getattr(fallback, field) < 0:
                raise ConfigError("must be >= 0", source=source, path=f"$.budgets.unpriced_model_price.{field}")
    check_workers(config, source)


def check_workers(config: Config, source: str = "<config>") -> None:
    """`workers` is in range, and limits stay exact with several workers: the in-process (`memory`) counters of
    N workers would each let the whole limit through, so they are refused in favour of `state.backend: redis`.

    Runs at load and again at `serve` (after `--workers`). Raises `ConfigError`.
    """
    if not 1 <= config.workers <= MAX_WORKERS:
        raise ConfigError(f"must be between 1 and {MAX_WORKERS}", source=source, path="$.workers")
    limited = config.auth.mode == "keys" or bool(config.teams) or bool(config.limits)
    if config.workers > 1 and limited and config.state.backend == "memory":
        raise ConfigError(
            f"with {config.workers} workers, state.backend: memory would keep rate limits in each worker, letting "
            f"{config.workers} times each limit through; set state.backend: redis (with state.redis_url), which "
            "keeps them exact across workers and replicas",
            source=source,
            path="$.state.backend",
        )


def check_exposure(config: Config, source: str = "<config>") -> None:
    """Refuse a gateway that listens beyond loopback without keys, unless that is asked for explicitly.

    Runs at load and again at `serve` (after `--host`). Raises `ConfigError`.
    """
    auth = config.auth
    if auth.mode == "none" and not auth.allow_unauthenticated and not is_loopback(config.host):
        raise ConfigError(
            f"the gateway listens on {config.host}, beyond this machine, and anyone who reaches it could spend "
            "the configured provider keys: set auth.mode: keys (and create keys with `lunaroute keys create`), "
            "or auth.allow_unauthenticated: true to accept that",
            source=source,
            path="$.auth.mode",
        )


def is_loopback(host: str) -> bool:
    """Whether `host` names only this machine (127.0.0.0/8, ::1, localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
