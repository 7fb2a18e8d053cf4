"""Load a config file: parse YAML/TOML/JSON, expand `${VAR}`, decode strictly, validate across sections.

Environment variables are read here and nowhere else in the package (see STYLE.md habit 7).
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

import msgspec
import yaml

from lunaroute.config._access import is_loopback, validate_auth, validate_limits
from lunaroute.config._advice import did_you_mean
from lunaroute.config._clouds import default_base_url, validate_cloud_keys
from lunaroute.config._env import apply_env_overrides
from lunaroute.config._recording_checks import (
    RECORDING_KEY_BYTES,
    decode_recording_key,
    recording_keys,
    validate_recording,
)
from lunaroute.config._schema import (
    BUILTIN_PROVIDERS,
    DEFAULT_BASE_URLS,
    Config,
    MockConfig,
    ProviderConfig,
    vertex_base_url,
)
from lunaroute.config._tenant import TenantConfig
from lunaroute.errors import ConfigError
from lunaroute.hosts import HOST_PATTERN

__all__ = [
    "RECORDING_KEY_BYTES",
    "REQUEST_TEMPLATE_VARS",
    "ConfigLocation",
    "config_from_mapping",
    "decode_recording_key",
    "load_config",
    "read_document",
    "recording_keys",
    "resolve_config_path",
]

_T = TypeVar("_T")
MAX_RETRIES = 10
"""`http_client.max_retries` above this is clamped to it, as in the Rust LunaRoute."""
_VAR = re.compile(r"\$\$|\$\{([^}]*)\}")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_UNKNOWN = re.compile(r"Object contains unknown field `([^`]*)`")
REQUEST_TEMPLATE_VARS = frozenset({"request_id", "provider", "model", "session_id", "client_ip"})
"""Variables `providers.*.request_headers` values may use; they are filled per request, not at load time."""
RESPONSE_TEMPLATE_VARS = REQUEST_TEMPLATE_VARS | {"timestamp"}
"""Variables `providers.*.response_body.fields` values may use (filled per response; `model` is the one that
answered, `timestamp` the RFC 3339 UTC time of the answer)."""
NOTICE_TEMPLATE_VARS = frozenset({"original_provider", "new_provider", "reason", "model"})
"""Variables of `routing.provider_switch_notification.default_message`."""
_NOTICE_PATH = "$.routing.provider_switch_notification.default_message"


ConfigLocation = Path | TenantConfig | None
"""Where a config comes from: a file, a tenant's row in a PostgreSQL config store, or nowhere (the defaults)."""


def resolve_config_path(explicit: str | None, env: Mapping[str, str] | None = None) -> ConfigLocation:
    """The config to load: `--config`, else `LUNAROUTE_CONFIG`, else what the bootstrap file names
    (`LUNAROUTE_BOOTSTRAP`, default `$LUNAROUTE_HOME/bootstrap.yaml`, as in the Rust LunaRoute): its `file_path`,
    or with `source: database` the tenant's config in PostgreSQL; else `$LUNAROUTE_HOME/config.yaml` if it
    exists. Raises `ConfigError` for a bootstrap file it cannot follow."""
    env = os.environ if env is None else env
    if explicit:
        return Path(explicit).expanduser()
    if env.get("LUNAROUTE_CONFIG"):
        return Path(env["LUNAROUTE_CONFIG"]).expanduser()
    bootstrap = Path(env["LUNAROUTE_BOOTSTRAP"]).expanduser() if env.get("LUNAROUTE_BOOTSTRAP") else None
    if bootstrap is None and (home_dir(env) / "bootstrap.yaml").exists():
        bootstrap = home_dir(env) / "bootstrap.yaml"
    if bootstrap is not None:
        from_bootstrap = _bootstrap_config_path(bootstrap)
        if from_bootstrap is not None:
            return from_bootstrap
    default = home_dir(env) / "config.yaml"
    return default if default.exists() else None


def _bootstrap_config_path(path: Path) -> ConfigLocation:
    """What a Rust bootstrap file names: its `file_path` (`source: file`) or a tenant's config in PostgreSQL
    (`source: database`, `database_url`, `tenant_id`)."""
    source = str(path)
    try:
        raw = _parse(path.read_text(encoding="utf-8"), path.suffix.lower(), source)
    except FileNotFoundError:
        raise ConfigError("bootstrap file not found", source=source) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read: {exc}", source=source) from None
    if raw is None:
        return None
    if not isinstance(raw, dict) or not set(raw) <= {"source", "file_path", "database_url", "tenant_id"}:
        raise ConfigError("expected the keys source, file_path, database_url, tenant_id", source=source, path="$")
    if raw.get("source", "file") == "database":
        return TenantConfig.parse(raw, path)
    if raw.get("source", "file") != "file":
        raise ConfigError("must be file or database", source=source, path="$.source")
    file_path = raw.get("file_path")
    if file_path is not None and not isinstance(file_path, str):
        raise ConfigError("must be a path", source=source, path="$.file_path")
    return Path(file_path).expanduser() if file_path else None


def home_dir(env: Mapping[str, str] | None = None) -> Path:
    """`LUNAROUTE_HOME`, default `~/.lunaroute`."""
    env = os.environ if env is None else env
    return Path(env.get("LUNAROUTE_HOME") or "~/.lunaroute").expanduser()


def load_config(path: ConfigLocation, env: Mapping[str, str] | None = None) -> Config:
    """Load `path` (None means the built-in defaults). Raises `ConfigError` naming the file, key path and reason."""
    env = os.environ if env is None else env
    if path is None:
        return config_from_mapping({}, source="<defaults>", env=env)
    return config_from_mapping(read_document(path), source=str(path), env=env)


def read_document(path: Path | TenantConfig) -> Any:
    """The parsed file (or tenant document), before any expansion or check. Raises `ConfigError` when it cannot
    be read or parsed."""
    if isinstance(path, TenantConfig):
        return path.read()
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError("file not found", source=source) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read: {exc}", source=source) from None
    return _parse(text, path.suffix.lower(), source)


def config_from_mapping(raw: object, *, source: str = "<config>", env: Mapping[str, str] | None = None) -> Config:
    """Expand variables in an already-parsed document, apply the `LUNAROUTE_*` overrides and the server keys
    of `env` (`lunaroute.config._env`), and decode it into a validated `Config`."""
    env = os.environ if env is None else env
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError("the top level must be a mapping", source=source, path="$")
    expanded = apply_env_overrides(_expand(raw, "$", env, source), env, source)
    providers_raw = expanded.pop("providers", None)
    config = _convert(expanded, Config, source, "$")
    if providers_raw is not None:
        if not isinstance(providers_raw, dict):
            raise ConfigError("must be a mapping of provider names", source=source, path="$.providers")
        config.providers = {
            str(name): _convert(value, ProviderConfig, source, f"$.providers.{name}")
            for name, value in providers_raw.items()
        }
    for name, (ptype, url) in BUILTIN_PROVIDERS.items():
        config.providers.setdefault(name, ProviderConfig(provider_type=ptype, base_url=url))
    _resolve_paths(config, env)
    _validate(config, source)
    return config


def _convert(raw: Any, kind: type[_T], source: str, root: str) -> _T:
    """`msgspec.convert` with its error turned into a `ConfigError` carrying the full key path."""
    try:
        return msgspec.convert(raw, kind, strict=True)
    except msgspec.ValidationError as exc:
        message, _, where = str(exc).rpartition(" - at `$")
        if not message:
            message, where = str(exc), "`"
        where = where.rstrip("`")
        unknown = _UNKNOWN.fullmatch(message)
        if unknown is not None:
            message += did_you_mean(kind, where, unknown.group(1))
        raise ConfigError(message, source=source, path=root + where) from None


def _parse(text: str, suffix: str, source: str) -> Any:
    try:
        if suffix == ".toml":
            return tomllib.loads(text)
        if suffix == ".json":
            return json.loads(text)
        return yaml.safe_load(text)
    except (yaml.YAMLError, tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"not valid {suffix.lstrip('.') or 'yaml'}: {exc}", source=source) from None


def _expand(node: Any, path: str, env: Mapping[str, str], source: str) -> Any:
    if isinstance(node, dict):
        return {key: _expand(value, f"{path}.{key}", env, source) for key, value in node.items()}
    if isinstance(node, list):
        return [_expand(value, f"{path}[{i}]", env, source) for i, value in enumerate(node)]
    if isinstance(node, str):
        return _expand_string(node, path, env, source, templates=_templates_at(path))
    return node


def _templates_at(path: str) -> frozenset[str] | None:
    """The per-request template variables a string at `path` keeps for later (None: a plain config string,
    whose every `${VAR}` is an environment variable)."""
    if ".request_headers." in path:
        return REQUEST_TEMPLATE_VARS
    if ".response_body.fields." in path:
        return RESPONSE_TEMPLATE_VARS
    if path == _NOTICE_PATH:
        return NOTICE_TEMPLATE_VARS
    return None


def _expand_string(
    value: str, path: str, env: Mapping[str, str], source: str, *, templates: frozenset[str] | None
) -> str:
    keep_templates = templates is not None
    notice = templates is NOTICE_TEMPLATE_VARS

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$$" if keep_templates and not notice else "$"
        name = match.group(1)
        if templates is not None and (name in templates or (not notice and name.startswith("env."))):
            if name.startswith("env.") and not _NAME.fullmatch(name[4:]):
                raise ConfigError(f"bad variable name ${{{name}}}", source=source, path=path)
            return match.group(0)
        if not _NAME.fullmatch(name):
            raise ConfigError(f"bad variable name ${{{name}}}", source=source, path=path)
        if name not in env:
            raise ConfigError(f"environment variable {name} is not set", source=source, path=path)
        return env[name]

    return _VAR.sub(replace, value)


def _validate(config: Config, source: str) -> None:
    """Checks that span keys: provider types, URLs, references, ranges."""
    if not 0 < config.port < 65536:
        raise ConfigError("must be between 1 and 65535", source=source, path="$.port")
    if config.session_stats_max_sessions < 0:
        raise ConfigError("must be >= 0 (0: no summary)", source=source, path="$.session_stats_max_sessions")
    if config.reload.debounce_ms < 0:
        raise ConfigError("must be >= 0", source=source, path="$.reload.debounce_ms")
    server = config.http_server
    if server.sse_keepalive_interval_secs <= 0:
        raise ConfigError("must be > 0", source=source, path="$.http_server.sse_keepalive_interval_secs")
    if server.max_request_body_bytes <= 0:
        raise ConfigError("must be > 0", source=source, path="$.http_server.max_request_body_bytes")
    if server.max_response_bytes is not None and server.max_response_bytes <= 0:
        raise ConfigError("must be > 0 (or null: no cap)", source=source, path="$.http_server.max_response_bytes")
    for key in ("header_timeout_secs", "idle_timeout_secs"):
        if not getattr(server, key) > 0:
            raise ConfigError("must be > 0", source=source, path=f"$.http_server.{key}")
    for key in ("max_connections", "max_connections_per_client", "max_in_flight_requests"):
        cap = getattr(server, key)
        if cap is not None and cap <= 0:
            raise ConfigError("must be > 0 (or null: no cap)", source=source, path=f"$.http_server.{key}")
    _validate_hosts(server.allowed_hosts, source, "$.http_server.allowed_hosts")
    _validate_hosts(config.ui.allowed_hosts, source, "$.ui.allowed_hosts")
    if not server.tcp_nodelay:
        raise ConfigError(
            "false is not supported: the listener always disables Nagle's algorithm for stream latency",
            source=source,
            path="$.http_server.tcp_nodelay",
        )
    for name, provider in config.providers.items():
        _validate_provider(name, provider, source)
    enabled = {name for name, p in config.providers.items() if p.enabled}
    if config.bypass.provider is not None and config.bypass.provider not in enabled:
        raise ConfigError(
            f"names provider {config.bypass.provider!r}, which is not configured and enabled",
            source=source,
            path="$.bypass.provider",
        )
    _validate_rules(config, enabled, source)
    validate_recording(config, source)
    _validate_ui(config, source)
    validate_auth(config, source)
    validate_limits(config, source)
    tracing = config.observability.tracing
    if not 0.0 <= tracing.ratio <= 1.0:
        raise ConfigError("must be between 0 and 1", source=source, path="$.observability.tracing.ratio")
    for i, pattern in enumerate(config.observability.metrics.model_label_allow):
        try:
            re.compile(pattern)
        except re.error as exc:
            where = f"$.observability.metrics.model_label_allow[{i}]"
            raise ConfigError(f"not a valid regex: {exc}", source=source, path=where) from None


def _validate_hosts(hosts: list[str], source: str, where: str) -> None:
    for i, host in enumerate(hosts):
        if not HOST_PATTERN.fullmatch(host):
            raise ConfigError(
                "not a host name, IP address or `*` (no port, no scheme)", source=source, path=f"{where}[{i}]"
            )


def _resolve_paths(config: Config, env: Mapping[str, str]) -> None:
    """Recording paths left unset live under `LUNAROUTE_HOME`; `~` is expanded everywhere."""
    rec = config.session_recording
    home = home_dir(env)
    rec.jsonl.directory = str(Path(rec.jsonl.directory or home / "sessions").expanduser())
    rec.sqlite.path = str(Path(rec.sqlite.path or home / "sessions.db").expanduser())
    rec.journal_directory = str(Path(rec.journal_directory or home / "journal").expanduser())
    if config.ui.sessions_dir:
        config.ui.sessions_dir = str(Path(config.ui.sessions_dir).expanduser())
    auth = config.auth
    if not auth.database or not auth.database.startswith(("postgresql://", "postgres://")):
        auth.database = str(Path(auth.database or home / "keys.db").expanduser())
    responses = config.responses
    if not responses.database or not responses.database.startswith(("postgresql://", "postgres://")):
        responses.database = str(Path(responses.database or home / "responses.db").expanduser())


def _validate_ui(config: Config, source: str) -> None:
    ui, rec = config.ui, config.session_recording
    postgres = ui.database == "postgres" or ui.database.startswith(("postgresql://", "postgres://"))
    if not postgres and ui.database != "sqlite":
        raise ConfigError(
            f"must be sqlite, postgres or a postgresql:// URL, not {ui.database!r}", source=source, path="$.ui.database"
        )
    has_store = postgres or (rec.enabled and rec.sqlite.enabled)
    if ui.enabled is None:
        ui.enabled = has_store
    elif ui.enabled and not has_store:
        raise ConfigError(
            "the UI reads the SQLite session store: enable session_recording and session_recording.sqlite, "
            "or set ui.database to the PostgreSQL store",
            source=source,
            path="$.ui.enabled",
        )
    if not 0 < ui.port < 65536:
        raise ConfigError("must be between 1 and 65535", source=source, path="$.ui.port")
    if ui.refresh_interval <= 0:
        raise ConfigError("must be > 0 (seconds)", source=source, path="$.ui.refresh_interval")
    if ui.enabled and not is_loopback(ui.host) and not ui.auth_token:
        raise ConfigError(
            f"the UI listens on {ui.host}, beyond this machine: set ui.auth_token", source=source, path="$.ui"
        )


def _validate_rules(config: Config, enabled: set[str], source: str) -> None:
    seen: set[str] = set()
    for i, rule in enumerate(config.routing.rules):
        where = f"$.routing.rules[{i}]"
        if rule.name in seen:
            raise ConfigError(f"duplicate rule name {rule.name!r}", source=source, path=f"{where}.name")
        seen.add(rule.name)
        if rule.model_pattern is not None:
            try:
                re.compile(rule.model_pattern)
            except re.error as exc:
                raise ConfigError(f"not a valid regex: {exc}", source=source, path=f"{where}.model_pattern") from None
        for key, name in [("primary", rule.primary), *(("fallbacks", f) for f in rule.fallbacks)]:
            if name not in enabled:
                raise ConfigError(
                    f"names provider {name!r}, which is not configured and enabled",
                    source=source,
                    path=f"{where}.{key}",
                )


def _validate_google(provider: ProviderConfig, source: str, where: str) -> None:
    """The Vertex keys: only on `vertex` providers, `project` required, names that fit in a URL path."""
    keys = {"project": provider.project, "location": provider.location, "publisher": provider.publisher}
    keys["credentials_file"] = provider.credentials_file
    if provider.provider_type != "vertex":
        for key in (k for k, v in keys.items() if v is not None):
            raise ConfigError("applies to vertex providers only", source=source, path=f"{where}.{key}")
        return
    if not provider.project:
        raise ConfigError("is required for a vertex provider", source=source, path=f"{where}.project")
    for key in ("project", "location"):
        value = keys[key]
        if value is not None and not re.fullmatch(r"[a-z0-9][a-z0-9.:-]*", str(value)):
            raise ConfigError("not a valid Google Cloud name", source=source, path=f"{where}.{key}")
    if provider.credentials_file is not None:
        provider.credentials_file = str(Path(provider.credentials_file).expanduser())
    if provider.api_key is not None:
        raise ConfigError(
            "vertex providers authenticate with credentials_file or the default credentials, not an api_key",
            source=source,
            path=f"{where}.api_key",
        )


def _validate_provider(name: str, provider: ProviderConfig, source: str) -> None:
    where = f"$.providers.{name}"
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", name):
        raise ConfigError("provider names use letters, digits, '_' and '-'", source=source, path=where)
    builtin = BUILTIN_PROVIDERS.get(name)
    if provider.provider_type is None:
        if builtin is None:
            raise ConfigError(
                "provider_type is required "
                "(openai, openai_chat, openai_responses, anthropic, bedrock, azure, gemini, vertex or mock)",
                source=source,
                path=where,
            )
        provider.provider_type = builtin[0]
    validate_cloud_keys(where, provider, source)
    if provider.provider_type == "mock":
        if provider.mock is None:
            provider.mock = MockConfig()
        return
    if provider.mock is not None:
        raise ConfigError("only a provider_type: mock provider takes a mock section", source=source, path=where)
    _validate_google(provider, source, where)
    if provider.base_url is None:
        # As in the Rust LunaRoute, a provider without base_url talks to its type's public API.
        if provider.provider_type == "vertex":
            provider.base_url = vertex_base_url(provider.location or "global")
        else:
            provider.base_url = default_base_url(provider) or DEFAULT_BASE_URLS.get(
                provider.provider_type, DEFAULT_BASE_URLS["openai"]
            )
    if not re.match(r"https?://[^/?#\s]+", provider.base_url) or any(c in provider.base_url for c in "?#\r\n "):
        raise ConfigError(
            "base_url must be an http(s) URL without query or fragment", source=source, path=f"{where}.base_url"
        )
    provider.base_url = provider.base_url.rstrip("/")
    if provider.api_key == "":
        provider.api_key = None
    for header, value in provider.request_headers.items():
        if any(c in header + value for c in "\r\n") or not re.fullmatch(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+", header):
            raise ConfigError("not a valid header", source=source, path=f"{where}.request_headers.{header}")
    kind = provider.provider_type
    chat = kind in ("openai", "openai_chat", "azure")  # chat completions: their bodies can be edited
    openai_family = kind in ("openai", "openai_chat", "openai_responses")
    used = {
        "request_body": provider.request_body is not None and not chat,
        "response_body": provider.response_body.enabled and not chat,
        "codex_auth": provider.codex_auth is not None and provider.codex_auth.enabled and not openai_family,
        "capabilities": provider.capabilities is not None and kind not in ("openai", "openai_chat"),
    }
    owners = {
        "request_body": "openai-dialect providers only",
        "response_body": "openai-dialect providers only",
        "codex_auth": "openai, openai_chat and openai_responses providers only",
        "capabilities": "openai and openai_chat providers only",
    }
    for key in (k for k, on in used.items() if on):
        raise ConfigError(f"applies to {owners[key]}", source=source, path=f"{where}.{key}")
    if provider.request_body is not None:
        for i, message in enumerate(provider.request_body.prepend_messages):
            if not isinstance(message.get("role"), str):
                raise ConfigError(
                    "each message needs a role", source=source, path=f"{where}.request_body.prepend_messages[{i}]"
                )
    codex = provider.codex_auth
    if codex is not None:
        codex.auth_file = str(Path(codex.auth_file).expanduser())
        if not re.fullmatch(r"[^.\s]+(\.[^.\s]+)*", codex.token_field):
            raise ConfigError("must be a dotted key path", source=source, path=f"{where}.codex_auth.token_field")
        if codex.account_id is not None and any(c in codex.account_id for c in "\r\n"):
            raise ConfigError("not a valid header value", source=source, path=f"{where}.codex_auth.account_id")
        if not re.fullmatch(r"[0-9A-Za-z][0-9A-Za-z.+-]{0,39}", codex.client_version):
            raise ConfigError(
                "must be a version such as 0.118.0", source=source, path=f"{where}.codex_auth.client_version"
            )
    if not provider.response_body.metadata_namespace:
        raise ConfigError("must not be empty", source=source, path=f"{where}.response_body.metadata_namespace")
    if provider.default_max_tokens <= 0:
        raise ConfigError("must be > 0", source=source, path=f"{where}.default_max_tokens")
    timeouts = provider.http_client
    for key in ("timeout_secs", "connect_timeout_secs", "pool_idle_timeout_secs"):
        if getattr(timeouts, key) <= 0:
            raise ConfigError("must be > 0", source=source, path=f"{where}.http_client.{key}")
    if timeouts.pool_max_idle_per_host is not None and timeouts.pool_max_idle_per_host <= 0:
        raise ConfigError(
            "must be > 0 (or null: no cap)", source=source, path=f"{where}.http_client.pool_max_idle_per_host"
        )
    if timeouts.max_retries < 0:
        raise ConfigError("must be >= 0", source=source, path=f"{where}.http_client.max_retries")
    # The Rust LunaRoute clamps rather than refuses (its backoff overflowed past 64 retries).
    timeouts.max_retries = min(timeouts.max_retries, MAX_RETRIES)
