"""The `LUNAROUTE_*` environment variables of the Rust LunaRoute (`merge_env`): overrides of the config file.

They are applied to the parsed document before it is decoded, so a value from the environment goes through
the same typing and validation as one from the file, and wins over it. Booleans are read as the Rust server
reads them (true/false, 1/0, yes/no, on/off); unlike the Rust server, a value that does not parse is an error
naming the variable instead of being ignored.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from lunaroute.errors import ConfigError

__all__ = ["ENV_OVERRIDES", "SERVER_KEY_VARS", "UNSUPPORTED_ENV", "apply_env_overrides", "server_key_sources"]

_TRUE = frozenset({"true", "1", "yes", "on"})
_FALSE = frozenset({"false", "0", "no", "off"})


def _bool(text: str) -> bool:
    value = text.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError("expected true/false, 1/0, yes/no or on/off")


def _int(text: str) -> int:
    try:
        return int(text.strip())
    except ValueError:
        raise ValueError("expected a whole number") from None


def _float(text: str) -> float:
    try:
        return float(text.strip())
    except ValueError:
        raise ValueError("expected a number") from None


def _text(text: str) -> str:
    if not text:
        raise ValueError("must not be empty")
    return text


def _choice(*allowed: str) -> Callable[[str], str]:
    def parse(text: str) -> str:
        value = text.strip().lower()
        if value not in allowed:
            raise ValueError(f"expected one of {', '.join(allowed)}")
        return value

    return parse


@dataclass(frozen=True, slots=True)
class _Override:
    path: tuple[str, ...]
    parse: Callable[[str], Any]


def _provider_vars() -> dict[str, _Override]:
    out: dict[str, _Override] = {}
    for provider in ("openai", "anthropic"):
        prefix = f"LUNAROUTE_{provider.upper()}_"
        for suffix, key, parse in (
            ("TIMEOUT_SECS", "timeout_secs", _float),
            ("CONNECT_TIMEOUT_SECS", "connect_timeout_secs", _float),
            ("POOL_MAX_IDLE", "pool_max_idle_per_host", _int),
            ("POOL_IDLE_TIMEOUT_SECS", "pool_idle_timeout_secs", _float),
            ("TCP_KEEPALIVE_SECS", "tcp_keepalive_secs", _int),
            ("MAX_RETRIES", "max_retries", _int),
            ("ENABLE_POOL_METRICS", "enable_pool_metrics", _bool),
        ):
            out[prefix + suffix] = _Override(("providers", provider, "http_client", key), parse)
    return out


ENV_OVERRIDES: dict[str, _Override] = {
    "LUNAROUTE_DIALECT": _Override(("api_dialect",), _choice("openai", "anthropic", "both")),
    "LUNAROUTE_HOST": _Override(("host",), _text),
    "LUNAROUTE_PORT": _Override(("port",), _int),
    **_provider_vars(),
    "LUNAROUTE_ENABLE_SESSION_RECORDING": _Override(("session_recording", "enabled"), _bool),
    "LUNAROUTE_SESSIONS_DIR": _Override(("session_recording", "jsonl", "directory"), _text),
    "LUNAROUTE_ENABLE_JSONL_WRITER": _Override(("session_recording", "jsonl", "enabled"), _bool),
    "LUNAROUTE_SESSIONS_DB_PATH": _Override(("session_recording", "sqlite", "path"), _text),
    "LUNAROUTE_ENABLE_SQLITE_WRITER": _Override(("session_recording", "sqlite", "enabled"), _bool),
    "LUNAROUTE_LOG_REQUESTS": _Override(("logging", "log_requests"), _bool),
    "LUNAROUTE_LOG_SQL_QUERIES": _Override(("logging", "log_sql_queries"), _bool),
    "LUNAROUTE_LOG_LEVEL": _Override(
        ("logging", "level"), _choice("trace", "debug", "info", "warn", "warning", "error")
    ),
    "LUNAROUTE_UI_ENABLED": _Override(("ui", "enabled"), _bool),
    "LUNAROUTE_UI_HOST": _Override(("ui", "host"), _text),
    "LUNAROUTE_UI_PORT": _Override(("ui", "port"), _int),
    "LUNAROUTE_UI_DATABASE": _Override(("ui", "database"), _text),
    "LUNAROUTE_UI_LOG_REQUESTS": _Override(("ui", "log_requests"), _bool),
    # Documented by the Rust LunaRoute but never read there; read here.
    "LUNAROUTE_UI_REFRESH_INTERVAL": _Override(("ui", "refresh_interval"), _int),
    "LUNAROUTE_BYPASS_ENABLED": _Override(("bypass", "enabled"), _bool),
    "LUNAROUTE_BYPASS_PROVIDER": _Override(("bypass", "provider"), _text),
}
"""Variable → the config key it sets, and how its text is read. `LUNAROUTE_CONFIG`, `LUNAROUTE_BOOTSTRAP` and
`LUNAROUTE_HOME` choose files instead (`resolve_config_path`, `home_dir`)."""

SERVER_KEY_VARS: dict[str, str] = {"OPENAI_API_KEY": "openai", "ANTHROPIC_API_KEY": "anthropic"}
"""A non-empty value becomes the `api_key` of that built-in provider (server-key mode, as in the Rust
LunaRoute): client credentials are then replaced by it."""

UNSUPPORTED_ENV: dict[str, str] = {}
"""Rust variables refused when set, with the reason (none today)."""

CODEX_UA_VERSION = "LUNAROUTE_CODEX_UA_VERSION"
"""Sets `codex_auth.client_version` of every provider that has a `codex_auth` section."""


def apply_env_overrides(raw: dict[str, Any], env: Mapping[str, str], source: str) -> dict[str, Any]:
    """`raw` (the parsed document, already `${VAR}`-expanded) with every set variable applied over it."""
    for name, reason in UNSUPPORTED_ENV.items():
        if name in env:
            raise ConfigError(f"environment variable {name}: {reason}", source=source)
    for name, provider in SERVER_KEY_VARS.items():
        if env.get(name):
            _set(raw, ("providers", provider, "api_key"), env[name], name, source)
    version = env.get(CODEX_UA_VERSION)
    if version is not None:
        _set_codex_version(raw, version, source)
    for name, override in ENV_OVERRIDES.items():
        text = env.get(name)
        if text is None:
            continue
        try:
            value = override.parse(text)
        except ValueError as exc:
            raise ConfigError(f"environment variable {name}={text!r}: {exc}", source=source) from None
        _set(raw, override.path, value, name, source)
    return raw


def _set_codex_version(raw: dict[str, Any], version: str, source: str) -> None:
    """The Rust LunaRoute reads this variable wherever it builds a Codex `User-Agent`: here that is every provider
    with a `codex_auth` section (the value is then validated with the rest of the file)."""
    if not re.fullmatch(r"[0-9A-Za-z][0-9A-Za-z.+-]{0,39}", version.strip()):
        raise ConfigError(
            f"environment variable {CODEX_UA_VERSION}={version!r}: expected a version such as 0.118.0", source=source
        )
    providers = raw.get("providers")
    if not isinstance(providers, dict):
        return
    for pconf in providers.values():
        if isinstance(pconf, dict) and isinstance(pconf.get("codex_auth"), dict):
            pconf["codex_auth"]["client_version"] = version.strip()


def _set(raw: dict[str, Any], path: tuple[str, ...], value: Any, name: str, source: str) -> None:
    node = raw
    for i, key in enumerate(path[:-1]):
        child = node.get(key)
        if child is None:
            child = node[key] = {}
        elif not isinstance(child, dict):
            where = "$." + ".".join(path[: i + 1])
            raise ConfigError(f"is not a mapping, so {name} cannot set a key in it", source=source, path=where)
        node = child
    node[path[-1]] = value


def server_key_sources(env: Mapping[str, str] | None = None) -> list[tuple[str, str]]:
    """(variable, provider) for each provider key taken from the environment (default `os.environ`), for the
    start-up line of `serve`."""
    env = os.environ if env is None else env
    return [(name, provider) for name, provider in SERVER_KEY_VARS.items() if env.get(name)]
