"""The typed configuration schema: strict structs, unknown keys rejected, defaults = the zero-config gateway."""

from __future__ import annotations

from typing import Literal

import msgspec

__all__ = [
    "BUILTIN_PROVIDERS",
    "BypassConfig",
    "Config",
    "HttpClientConfig",
    "HttpServerConfig",
    "LoggingConfig",
    "MockConfig",
    "ProviderConfig",
    "ProviderType",
    "RoutingConfig",
    "RuleConfig",
    "default_providers",
]

ProviderType = Literal["openai", "anthropic", "mock"]


class _Strict(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, omit_defaults=False):
    """Base for every config section: unknown keys are errors."""


class HttpServerConfig(_Strict):
    """The listener: limits and stream keepalive."""

    tcp_nodelay: bool = True
    tcp_keepalive_secs: int | None = 60
    send_buffer_size: int | None = None
    recv_buffer_size: int | None = None
    sse_keepalive_enabled: bool = True
    sse_keepalive_interval_secs: float = 15.0
    max_request_body_bytes: int = 100 * 1024 * 1024
    max_header_bytes: int = 60 * 1024
    max_header_count: int = 100
    max_line_bytes: int = 8 * 1024


class HttpClientConfig(_Strict):
    """The pooled upstream client of one provider."""

    timeout_secs: float = 600.0
    connect_timeout_secs: float = 10.0
    pool_idle_timeout_secs: float = 600.0
    tcp_keepalive_secs: int | None = 60


class MockConfig(_Strict):
    """The built-in `mock` provider: deterministic answers in the client's dialect."""

    response_text: str = "This is a deterministic answer from the LunaRoute mock provider."
    latency_ms: float = 0.0
    chunk_delay_ms: float = 0.0
    stream_chunks: int = 8


class ProviderConfig(_Strict):
    """One upstream. `provider_type` may be omitted for the built-in `openai` and `anthropic` names."""

    enabled: bool = True
    provider_type: ProviderType | None = None
    api_key: str | None = None
    base_url: str | None = None
    model: str | None = None
    http_client: HttpClientConfig = msgspec.field(default_factory=HttpClientConfig)
    request_headers: dict[str, str] = msgspec.field(default_factory=dict)
    mock: MockConfig | None = None
    default_max_tokens: int = 4096
    """`max_tokens` sent to an Anthropic-dialect provider when a translated request carries none."""


class RuleConfig(_Strict, kw_only=True):
    """One routing rule: requests whose model matches `model_pattern` (a regex, searched) go to `primary`,
    then to each of `fallbacks` in order when the one before fails before answering."""

    name: str
    model_pattern: str | None = None
    listener: Literal["openai", "anthropic"] | None = None
    primary: str
    fallbacks: list[str] = msgspec.field(default_factory=list)
    priority: int = 10


class RoutingConfig(_Strict):
    """Rules that pick providers by model; with no rules, each dialect goes to its default provider."""

    rules: list[RuleConfig] = msgspec.field(default_factory=list)


class BypassConfig(_Strict):
    """Paths the gateway does not interpret (embeddings, files, ...): streamed to a provider of their dialect."""

    enabled: bool = True
    provider: str | None = None


class LoggingConfig(_Strict):
    level: Literal["trace", "debug", "info", "warn", "warning", "error"] = "info"
    log_requests: bool = False
    format: Literal["auto", "json", "text"] = "auto"


class Config(_Strict):
    """The whole configuration file."""

    host: str = "127.0.0.1"
    port: int = 8081
    api_dialect: Literal["openai", "anthropic", "both"] = "both"
    http_server: HttpServerConfig = msgspec.field(default_factory=HttpServerConfig)
    providers: dict[str, ProviderConfig] = msgspec.field(default_factory=lambda: default_providers())
    routing: RoutingConfig = msgspec.field(default_factory=RoutingConfig)
    bypass: BypassConfig = msgspec.field(default_factory=BypassConfig)
    logging: LoggingConfig = msgspec.field(default_factory=LoggingConfig)


BUILTIN_PROVIDERS: dict[str, tuple[ProviderType, str]] = {
    "openai": ("openai", "https://api.openai.com/v1"),
    "anthropic": ("anthropic", "https://api.anthropic.com"),
}


def default_providers() -> dict[str, ProviderConfig]:
    """The two built-in providers, forwarding the client's own credentials."""
    return {name: ProviderConfig(provider_type=ptype, base_url=url) for name, (ptype, url) in BUILTIN_PROVIDERS.items()}
