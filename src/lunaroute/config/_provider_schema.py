"""The schema of one upstream (`providers.<name>`): its type, HTTP client, body edits, Codex auth, engine
capabilities and cloud keys, and the built-in providers' defaults."""

from __future__ import annotations

from typing import Any, Literal

import msgspec

from lunaroute.config._strict import _Strict

__all__ = [
    "BUILTIN_PROVIDERS",
    "DEFAULT_BASE_URLS",
    "CapabilitiesConfig",
    "CodexAuthConfig",
    "HttpClientConfig",
    "MockConfig",
    "ProviderConfig",
    "ProviderType",
    "RequestBodyConfig",
    "ResponseBodyConfig",
    "default_providers",
    "vertex_base_url",
]

ProviderType = Literal[
    "openai", "anthropic", "mock", "bedrock", "azure", "openai_chat", "openai_responses", "gemini", "vertex"
]
"""`openai` serves Chat Completions and the Responses API natively; `openai_chat` only Chat Completions (Responses
requests are translated to it); `openai_responses` only the Responses API (chat and messages requests are translated
to it); `bedrock` (AWS Bedrock Converse), `azure` (Azure OpenAI), `gemini` (the Gemini API) and `vertex` (Gemini and
Claude on Vertex AI) are the cloud providers; `mock` answers locally."""


class HttpClientConfig(_Strict):
    """The pooled upstream client of one provider."""

    timeout_secs: float = 600.0
    """Read timeout: the default for both the first byte and the silence between stream chunks."""
    connect_timeout_secs: float = 10.0
    first_byte_timeout_secs: float | None = None
    """Longest wait for the response head (thinking models are slow); default `timeout_secs`."""
    idle_timeout_secs: float | None = None
    """Longest silence between two chunks of a response; default `timeout_secs`."""
    total_timeout_secs: float | None = None
    """Deadline for the whole exchange, retries included (None: no deadline)."""
    pool_idle_timeout_secs: float = 600.0
    pool_max_idle_per_host: int | None = None
    """Connections to one upstream host at most, busy and idle together (aiohttp's `limit_per_host`); a request
    past the cap waits for a free connection. None: no cap. (Rust: idle connections kept per host.)"""
    tcp_keepalive_secs: int | None = 60
    max_retries: int = 0
    """Retries of the same provider on connect errors, timeouts, 408/429/5xx/529 (never after the first byte);
    clamped to 10 as the Rust LunaRoute does."""
    enable_pool_metrics: bool = True
    """Export this provider's connection pool in `/metrics` (`lunaroute_upstream_pool_*`)."""
    retry_base_delay_ms: float = 250.0
    retry_max_delay_ms: float = 8000.0
    max_retry_after_secs: float = 60.0


class MockConfig(_Strict):
    """The built-in `mock` provider: deterministic answers in the client's dialect."""

    response_text: str = "This is a deterministic answer from the LunaRoute mock provider."
    latency_ms: float = 0.0
    chunk_delay_ms: float = 0.0
    stream_chunks: int = 8


class RequestBodyConfig(_Strict):
    """Edits of the chat completions requests sent to an OpenAI-dialect provider (translated ones always;
    passthrough ones too, then re-encoded)."""

    defaults: dict[str, Any] = msgspec.field(default_factory=dict)
    """Top-level keys set when the request has none of that name."""
    overrides: dict[str, Any] = msgspec.field(default_factory=dict)
    """Top-level keys set always, replacing the client's."""
    prepend_messages: list[dict[str, Any]] = msgspec.field(default_factory=list)
    """Messages put before the request's own (each a chat message object with a `role`)."""


class ResponseBodyConfig(_Strict):
    """Additions to the chat completions answers of an OpenAI-dialect provider (in a stream, to the chunk that
    carries the first `finish_reason`)."""

    enabled: bool = False
    metadata_namespace: str = "lunaroute"
    """Name of the top-level object that holds the rendered `fields`."""
    fields: dict[str, str] = msgspec.field(default_factory=dict)
    """Name → template (`${request_id}`, `${provider}`, `${model}`, `${session_id}`, `${timestamp}`,
    `${env.NAME}`), filled per answer."""
    extension_fields: dict[str, Any] = msgspec.field(default_factory=dict)
    """Top-level keys added to the answer where it has none of that name."""


class CodexAuthConfig(_Strict):
    """Send the Codex CLI's own ChatGPT token (from its `auth.json`) upstream instead of the client's credentials;
    the file is read again whenever it changes. Takes precedence over `api_key`."""

    enabled: bool = False
    auth_file: str = "~/.codex/auth.json"
    token_field: str = "tokens.access_token"
    """Dotted path of the token in the file."""
    account_id: str | None = None
    """When set, sent as `chatgpt-account-id`, replacing the client's."""
    client_version: str = "0.118.0"
    """The Codex CLI version named in the `User-Agent` sent upstream when the client's own is not the Codex CLI's
    (`LUNAROUTE_CODEX_UA_VERSION` sets it, as in the Rust LunaRoute)."""


class CapabilitiesConfig(_Strict):
    """What an OpenAI-compatible engine (vLLM, Ollama, llama.cpp, OpenRouter...) lacks or does differently; each
    flag says what happens to a chat completions request that needs it (README: "OpenAI-compatible engines")."""

    tools: bool = True
    """false: a request with tools, tool calls or tool results is refused with a 400."""
    images: bool = True
    """false: a request with an image part is refused with a 400."""
    stream_options: bool = True
    """false: `stream_options` is not sent (a stream then reports usage only if the engine does so by itself)."""
    parallel_tool_calls: bool = True
    """false: `parallel_tool_calls` is not sent."""
    developer_role: bool = True
    """false: `developer` messages are sent as `system` messages."""
    system_role: bool = True
    """false: `system` (and `developer`) messages are folded, in order, into the start of the first user message."""
    max_tokens_field: Literal["max_tokens", "max_completion_tokens"] | None = None
    """The token-limit key the engine reads; the request's limit is renamed to it (None: sent as it is)."""


class ProviderConfig(_Strict):
    """One upstream. `provider_type` may be omitted for the built-in `openai` and `anthropic` names."""

    enabled: bool = True
    provider_type: ProviderType | None = None
    api_key: str | None = None
    base_url: str | None = None
    model: str | None = None
    http_client: HttpClientConfig = msgspec.field(default_factory=HttpClientConfig)
    request_headers: dict[str, str] = msgspec.field(default_factory=dict)
    request_body: RequestBodyConfig | None = None
    response_body: ResponseBodyConfig = msgspec.field(default_factory=ResponseBodyConfig)
    codex_auth: CodexAuthConfig | None = None
    mock: MockConfig | None = None
    default_max_tokens: int = 4096
    """`max_tokens` sent to an Anthropic-dialect (or Bedrock, Gemini) provider when a translated request carries none."""
    region: str | None = None
    """`bedrock`: the AWS region (required); the endpoint is `https://bedrock-runtime.{region}.amazonaws.com`
    unless `base_url` overrides it."""
    aws_access_key_id: str | None = None
    """`bedrock`: static credentials (with `aws_secret_access_key`, optionally `aws_session_token`); when absent,
    the standard AWS chain (environment, `aws_profile` / shared files, web identity, container, instance)."""
    aws_secret_access_key: str | None = None
    aws_session_token: str | None = None
    aws_profile: str | None = None
    """`bedrock`: the profile of the shared AWS config files the credential chain reads."""
    api_version: str | None = None
    """`azure`: the `api-version` query parameter (required); `v1` selects the `{base_url}/openai/v1/` API."""
    deployments: dict[str, str] = msgspec.field(default_factory=dict)
    """`azure`: model name → deployment name (a model not listed is its own deployment)."""
    azure_ad_token: str | None = None
    """`azure`: a Microsoft Entra ID token sent as `Authorization: Bearer` (instead of `api_key`'s `api-key`)."""
    capabilities: CapabilitiesConfig | None = None
    """`openai`: what the engine behind `base_url` lacks; None: the full OpenAI API."""
    project: str | None = None
    """`vertex` only (required): the Google Cloud project id in the model's URL."""
    location: str | None = None
    """`vertex` only: the region (`us-east5`, `europe-west1`...) or `global` (the default)."""
    publisher: Literal["google", "anthropic"] | None = None
    """`vertex` only: whose models the provider serves: `google` (Gemini, the default) or `anthropic` (Claude)."""
    credentials_file: str | None = None
    """`vertex` only: a service-account JSON key file; without it, the Google default credentials are used."""


DEFAULT_BASE_URLS: dict[ProviderType, str] = {
    "openai": "https://api.openai.com/v1",
    "anthropic": "https://api.anthropic.com",
    "gemini": "https://generativelanguage.googleapis.com",
}
"""The public API of each provider type, used when a provider names no `base_url` (Vertex's depends on the
location: see `vertex_base_url`)."""

BUILTIN_PROVIDERS: dict[str, tuple[ProviderType, str]] = {
    name: (name, DEFAULT_BASE_URLS[name]) for name in ("openai", "anthropic")
}
"""The providers every config has unless it disables them: name → (type, public API)."""


def vertex_base_url(location: str) -> str:
    """Vertex AI's endpoint for `location` (`global` has no regional host)."""
    if location == "global":
        return "https://aiplatform.googleapis.com"
    return f"https://{location}-aiplatform.googleapis.com"


def default_providers() -> dict[str, ProviderConfig]:
    """The two built-in providers, forwarding the client's own credentials."""
    return {name: ProviderConfig(provider_type=ptype, base_url=url) for name, (ptype, url) in BUILTIN_PROVIDERS.items()}
