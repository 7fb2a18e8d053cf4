"""The typed configuration schema: strict structs, unknown keys rejected, defaults = the zero-config gateway."""

from __future__ import annotations

from typing import Literal

import msgspec

from lunaroute.config._provider_schema import (
    BUILTIN_PROVIDERS,
    DEFAULT_BASE_URLS,
    CapabilitiesConfig,
    CodexAuthConfig,
    HttpClientConfig,
    MockConfig,
    ProviderConfig,
    ProviderType,
    RequestBodyConfig,
    ResponseBodyConfig,
    default_providers,
    vertex_base_url,
)
from lunaroute.config._strict import _Strict

__all__ = [
    "BUILTIN_DETECTORS",
    "BUILTIN_PROVIDERS",
    "DEFAULT_BASE_URLS",
    "AuthConfig",
    "BuiltinDetector",
    "BypassConfig",
    "CapabilitiesConfig",
    "CodexAuthConfig",
    "Config",
    "HttpClientConfig",
    "HttpServerConfig",
    "LimitsConfig",
    "LoggingConfig",
    "MetricsConfig",
    "MockConfig",
    "ModelLimitConfig",
    "ObservabilityConfig",
    "PiiConfig",
    "PiiPatternConfig",
    "ProviderConfig",
    "ProviderType",
    "RecordingEncryptionConfig",
    "RedactionConfig",
    "RedactionPatternConfig",
    "ReloadConfig",
    "RequestBodyConfig",
    "ResponseBodyConfig",
    "ResponsesConfig",
    "RoutingConfig",
    "RuleConfig",
    "SessionRecordingConfig",
    "StateConfig",
    "SwitchNotificationConfig",
    "TeamConfig",
    "UiConfig",
    "default_providers",
    "vertex_base_url",
]


class HttpServerConfig(_Strict):
    """The listener: limits and stream keepalive."""

    tcp_nodelay: bool = True
    tcp_keepalive_secs: int | None = 60
    send_buffer_size: int | None = None
    recv_buffer_size: int | None = None
    sse_keepalive_enabled: bool = True
    sse_keepalive_interval_secs: float = 15.0
    max_request_body_bytes: int = 100 * 1024 * 1024
    max_response_bytes: int | None = 100 * 1024 * 1024
    """A streamed answer is cut once it would pass this many bytes: the client gets an error event (or the end of
    the body), the exchange is recorded `upstream_error` and the provider's breaker counts a failure (None: no
    cap)."""
    max_header_bytes: int = 60 * 1024
    max_header_count: int = 100
    max_line_bytes: int = 8 * 1024
    header_timeout_secs: float = 30.0
    """A connection must deliver complete request headers within this many seconds of opening (or of the first
    byte after an idle keep-alive pause); otherwise it gets 408 (when it sent anything) and is closed."""
    idle_timeout_secs: float = 75.0
    """A keep-alive connection with no request under way is closed after this many idle seconds."""
    max_connections: int | None = 4096
    """Open client connections at most; a connection past the cap is closed at once (None: no cap)."""
    max_connections_per_client: int | None = 1024
    """Open connections from one client address at most (None: no cap)."""
    max_in_flight_requests: int | None = 1024
    """API requests being answered at once; more get 503 with `retry-after` in the caller's dialect (None: no
    cap)."""
    allowed_hosts: list[str] = msgspec.field(default_factory=list)
    """`Host` names answered besides the loopback ones (`lunaroute.hosts`); `*` answers any."""


class RetentionConfig(_Strict):
    """Clean-up of recorded sessions, run at start and then every `cleanup_interval_minutes`."""

    max_age_days: int | None = 30
    max_total_size_gb: float | None = 10
    compress_after_days: int | None = 7
    cleanup_interval_minutes: float = 60


class JsonlConfig(_Strict):
    enabled: bool = True
    directory: str | None = None
    """Default `$LUNAROUTE_HOME/sessions`."""
    fsync: bool = False
    retention: RetentionConfig = msgspec.field(default_factory=RetentionConfig)


class SqliteConfig(_Strict):
    enabled: bool = True
    path: str | None = None
    """Default `$LUNAROUTE_HOME/sessions.db`."""
    synchronous: Literal["normal", "full"] = "normal"
    max_connections: int = 2
    """Read connections (one per thread) the UI opens on the session database at most; the
    writer always uses one of its own."""


class PostgresConfig(_Strict):
    enabled: bool = False
    connection_string: str = "postgresql://localhost/lunaroute"
    schema: str | None = None
    max_connections: int = 5
    min_connections: int = 1
    acquire_timeout_seconds: float = 30
    idle_timeout_seconds: float = 600
    max_lifetime_seconds: float | None = 1800
    """A connection is replaced once it has served this long (None: never)."""


class WorkerConfig(_Strict):
    batch_size: int = 100
    batch_timeout_ms: float = 100
    max_queue_events: int = 10_000
    nice: int = 19
    """Scheduling niceness added to the recorder process (0-19). At 19, recording only uses CPU that requests
    leave: when every core is busy it falls behind (the journal on disk holds the backlog) and catches up when
    the load drops; lower values make it keep pace at the cost of request throughput."""
    sched_idle: bool = True
    """Run the recorder process in Linux's idle scheduling class (`SCHED_IDLE`): it gets a core only when no
    request handling wants it and never preempts the gateway. Where the class does not exist, a warning is
    logged and `nice` alone applies. `false` keeps the normal class (with `nice`)."""


class RecordingEncryptionConfig(_Strict):
    """AES-256-GCM encryption of the JSONL session files, record by record (`lunaroute.recording._crypto`)."""

    enabled: bool = False
    key: str | None = None
    """The 32-byte key as 64 hex digits or base64, usually `${LUNAROUTE_RECORDING_KEY}`; or use `key_file`."""
    key_file: str | None = None
    """A file holding the key in the same form (surrounding whitespace ignored)."""
    previous_keys: list[str] = msgspec.field(default_factory=list)
    """Older keys, tried when reading records sealed before a key rotation; never used to write."""


BuiltinDetector = Literal["email", "phone", "credit_card", "ssn", "ipv4", "ipv6", "iban", "api_key", "jwt"]
BUILTIN_DETECTORS: tuple[BuiltinDetector, ...] = (
    "email",
    "phone",
    "credit_card",
    "ssn",
    "ipv4",
    "ipv6",
    "iban",
    "api_key",
    "jwt",
)


class RedactionPatternConfig(_Strict):
    """A custom detector: every match of `regex` in recorded text is replaced."""

    name: str
    """Letters, digits and `_`; shown in the replacement as `{name}`; must not repeat or be a built-in name."""
    regex: str
    """A Python regular expression, searched (not anchored)."""
    ignore_case: bool = False
    replacement: str | None = None
    """This pattern's replacement template (default: the section's `replacement`)."""


class RedactionConfig(_Strict):
    """PII redaction of recorded text before any store sees it (`lunaroute.recording._redact`)."""

    enabled: bool = False
    builtin: list[BuiltinDetector] = msgspec.field(default_factory=lambda: list(BUILTIN_DETECTORS))
    patterns: list[RedactionPatternConfig] = msgspec.field(default_factory=list)
    replacement: str = "[REDACTED:{name}]"
    """What a match becomes; `{name}` is replaced by the detector's name (no other placeholder)."""
    skip_json_keys: list[str] = msgspec.field(default_factory=lambda: ["signature", "encrypted_content"])
    """String values under these keys of request/response JSON are kept as they are (opaque blobs)."""


PiiMode = Literal["mask", "remove", "tokenize", "partial"]


class PiiPatternConfig(_Strict):
    """A custom detector of the Rust `pii` section."""

    name: str
    pattern: str
    """A regular expression, searched."""
    confidence: float = 0.9
    """Matches count only when this reaches the section's `min_confidence`."""
    redaction_mode: Literal["mask", "tokenize"] = "mask"
    placeholder: str | None = None
    """What a masked match becomes (default `[CUS:<name>]`)."""


class PiiConfig(_Strict):
    """The Rust LunaRoute's PII section, applied by the same redaction as `redaction` (one of the two)."""

    enabled: bool = False
    detect_email: bool = True
    detect_phone: bool = True
    detect_ssn: bool = True
    detect_credit_card: bool = True
    detect_ip_address: bool = True
    min_confidence: float = 0.7
    """Detectors whose confidence is below this are off (built-in confidences: `lunaroute.recording._pii`)."""
    redaction_mode: PiiMode = "mask"
    """mask: `[EMAIL]`-style labels; remove: nothing; tokenize: `[EM:<16 chars of HMAC>]` (needs `hmac_secret`;
    the same tokens as the Rust LunaRoute for the same secret); partial: `*` but the last `partial_show_chars`."""
    hmac_secret: str | None = None
    partial_show_chars: int = 4
    custom_patterns: list[PiiPatternConfig] = msgspec.field(default_factory=list)


class SessionRecordingConfig(_Strict):
    """What is recorded and where. On by default: JSONL files and SQLite under `~/.lunaroute/`."""

    enabled: bool = True
    required: bool = False
    """True: while recording is impossible (the journal cannot be written, or the stores and their spools are
    losing events), API requests are refused with 503 instead of served unrecorded."""
    jsonl: JsonlConfig = msgspec.field(default_factory=JsonlConfig)
    sqlite: SqliteConfig = msgspec.field(default_factory=SqliteConfig)
    postgres: PostgresConfig = msgspec.field(default_factory=PostgresConfig)
    worker: WorkerConfig = msgspec.field(default_factory=WorkerConfig)
    journal_directory: str | None = None
    """Default `$LUNAROUTE_HOME/journal`: exchanges not yet recorded, replayed after a crash."""
    capture_user_agent: bool = True
    max_user_agent_length: int = 255
    client_ip: Literal["none", "anonymized", "full"] = "none"
    sample_rate: float = 1.0
    max_capture_bytes: int = 8 * 1024 * 1024
    encryption: RecordingEncryptionConfig = msgspec.field(default_factory=RecordingEncryptionConfig)
    redaction: RedactionConfig = msgspec.field(default_factory=RedactionConfig)
    pii: PiiConfig = msgspec.field(default_factory=PiiConfig)


class RuleConfig(_Strict, kw_only=True):
    """One routing rule: requests whose model matches `model_pattern` (a regex, searched) go to `primary`,
    then to each of `fallbacks` in order when the one before fails before answering."""

    name: str
    model_pattern: str | None = None
    listener: Literal["openai", "anthropic"] | None = None
    path_pattern: str | None = None
    header: str | None = None
    """`NAME: REGEX` — the rule matches only when the request header NAME matches REGEX."""
    primary: str
    fallbacks: list[str] = msgspec.field(default_factory=list)
    priority: int = 10
    strategy: Literal["priority", "round_robin", "weighted", "least_busy", "latency"] = "priority"
    weights: dict[str, int] = msgspec.field(default_factory=dict)
    sticky_sessions: bool = False
    sticky_ttl_secs: float = 3600


class BreakerSettings(_Strict):
    """Circuit breaker per provider (see `lunaroute.routing` for the state machine)."""

    enabled: bool = True
    failure_threshold: int = 5
    success_threshold: int = 2
    cooldown_secs: float = 30
    half_open_max_probes: int = 1
    window_secs: float = 60
    failure_rate_threshold: float = 0.5
    min_requests: int = 20


class HealthSettings(_Strict):
    window_secs: float = 60
    min_requests: int = 10
    healthy_success_rate: float = 0.95
    unhealthy_success_rate: float = 0.75


class SwitchNotificationConfig(_Strict):
    """Tell the model (and so the user) that a fallback provider answered instead of the usual one."""

    enabled: bool = False
    default_message: str = (
        "IMPORTANT: Please inform the user that due to temporary service issues with ${original_provider}, "
        "this response is being served by ${new_provider} (${reason})."
    )


class RoutingConfig(_Strict):
    """Rules that pick providers by model; with no rules, each dialect goes to its default provider."""

    rules: list[RuleConfig] = msgspec.field(default_factory=list)
    circuit_breaker: BreakerSettings = msgspec.field(default_factory=BreakerSettings)
    health: HealthSettings = msgspec.field(default_factory=HealthSettings)
    provider_switch_notification: SwitchNotificationConfig = msgspec.field(default_factory=SwitchNotificationConfig)
    first_event_peek_ms: float = 2000
    """With retries or fallbacks left, wait this long for the first stream event (to fail over on an error
    event) before committing the stream to the client."""


class BypassConfig(_Strict):
    """Paths the gateway does not interpret (embeddings, files, ...): streamed to a provider of their dialect."""

    enabled: bool = True
    provider: str | None = None


class LoggingConfig(_Strict):
    level: Literal["trace", "debug", "info", "warn", "warning", "error"] = "info"
    log_requests: bool = False
    format: Literal["auto", "json", "text"] = "auto"
    log_sql_queries: bool = False
    """Log every SQL statement run on the SQLite session database (logger `lunaroute.sql`, at info)."""


class UiConfig(_Strict):
    """The second listener: the read-only session API (and, later, the web pages)."""

    enabled: bool | None = None
    """None: on whenever there is a store to read (SQLite being recorded, or `database` naming PostgreSQL);
    true without one is an error."""
    database: str = "sqlite"
    """The session store the UI reads: `sqlite` (`session_recording.sqlite.path`), `postgres`
    (`session_recording.postgres.connection_string` and `schema`), or a `postgresql://…` URL (tables in
    `session_recording.postgres.schema`) — the one database N replicas record into."""
    host: str = "127.0.0.1"
    port: int = 8082
    auth_token: str | None = None
    """Required (as `Authorization: Bearer`) when set; mandatory when `host` is not a loopback address."""
    export_enabled: bool = True
    delete_enabled: bool = False
    refresh_interval: int = 5
    """Seconds between two refreshes of the dashboard's live figures."""
    log_requests: bool = False
    """Log each UI request (method, path, status, milliseconds) on logger `lunaroute.ui` at info."""
    sessions_dir: str | None = None
    """Where the UI reads session JSONL files (raw requests and responses); default
    `session_recording.jsonl.directory`."""
    allowed_hosts: list[str] = msgspec.field(default_factory=list)
    """`Host` names the UI answers besides the loopback ones (`lunaroute.hosts`); `*` answers any."""


class MetricsConfig(_Strict):
    """Prometheus metrics at `/metrics`."""

    enabled: bool = True
    model_label_allow: list[str] = msgspec.field(default_factory=list)
    """Regexes: only matching model names become `model` label values (empty: any), the rest `other`."""
    max_model_labels: int = 64
    """At most this many distinct model label values; later models are counted as `other`."""


class TracingConfig(_Strict):
    """OpenTelemetry traces: a span per request with routing, translation and upstream children."""

    enabled: bool = False
    exporter: Literal["otlp_http", "otlp_grpc", "console", "none"] = "otlp_http"
    endpoint: str | None = None
    """OTLP/HTTP base URL (`/v1/traces` is added) or gRPC target; default the collector on localhost."""
    headers: dict[str, str] = msgspec.field(default_factory=dict)
    service_name: str = "lunaroute"
    sampler: Literal["always_on", "always_off", "ratio", "parent_based_ratio"] = "parent_based_ratio"
    ratio: float = 1.0
    timeout_secs: float = 10


class ObservabilityConfig(_Strict):
    metrics: MetricsConfig = msgspec.field(default_factory=MetricsConfig)
    tracing: TracingConfig = msgspec.field(default_factory=TracingConfig)


class AuthConfig(_Strict):
    """Who may call the gateway: `mode: keys` requires a gateway key (`lr-...`) on every API request."""

    mode: Literal["none", "keys"] = "none"
    allow_unauthenticated: bool = False
    """Let a gateway that listens beyond loopback run with `mode: none` (refused otherwise)."""
    admin_key: str | None = None
    """Bearer token of the admin API under `/admin/` (absent: the admin API answers 404)."""
    database: str | None = None
    """Where keys live: a SQLite file (default `$LUNAROUTE_HOME/keys.db`) or a `postgresql://` URL."""
    refresh_interval_ms: float = 500
    """How often each process reads key changes from the store (revocations take effect within this)."""
    max_failures_per_minute: int = 20
    """Bad or missing keys one client address may send in a minute before it gets 429."""


class LimitsConfig(_Strict):
    """Rate limits of one scope; None: no limit of that kind."""

    rpm: int | None = None
    """Requests per minute (any 60-second window)."""
    tpm: int | None = None
    """Tokens per minute: input + output, the input estimate reserved at the start and settled to the usage."""
    max_parallel: int | None = None
    """Requests in flight at once."""


class TeamConfig(LimitsConfig):
    """A team's limits and its spend cap (shared by all keys of the team)."""

    budget_usd: float | None = None
    """Spend cap in US dollars (list prices) per `budget_period`; None: no budget."""
    budget_period: Literal["day", "week", "month", "total"] = "month"
    budget_soft_limit: float | None = None
    """Share of the budget (0-1) past which answers carry `x-lunaroute-budget-remaining-usd`."""
    budget_reroute_model: str | None = None
    """Serve a request that does not fit the budget with this (cheaper) model instead of refusing it."""


class ModelLimitConfig(LimitsConfig):
    """Limits shared by every request for a model (a shell-style pattern on the requested model)."""

    model: str = ""


class PriceConfig(_Strict):
    """A model price in US dollars per million tokens."""

    input_usd_per_mtok: float
    output_usd_per_mtok: float


class BudgetsConfig(_Strict):
    """How budgets count what the shipped price table has no price for."""

    unpriced_model_price: PriceConfig | None = None
    """The price of a model with no known price, for requests under a budget; None (the default): such
    requests are refused with 403, since their spend could not be counted."""


class StateConfig(_Strict):
    """Where limit counters live: in each process (`memory`) or shared by every replica (`redis`)."""

    backend: Literal["memory", "redis"] = "memory"
    redis_url: str | None = None
    key_prefix: str = "lunaroute:"
    on_unavailable: Literal["fail_open", "fail_closed"] = "fail_closed"
    """With Redis unreachable: refuse with 503 (`fail_closed`) or serve without limits (`fail_open`)."""
    timeout_ms: float = 1000


class ReloadConfig(_Strict):
    """Config hot reload: besides SIGHUP and `POST /admin/reload`, a change of the config file reloads it."""

    watch: bool = True
    """Watch the config file (a gateway started without one has nothing to watch)."""
    debounce_ms: int = 300
    """Changes within this many milliseconds make one reload (an editor's save is often several writes)."""


class ResponsesConfig(_Strict):
    """Responses the gateway serves by translation, kept so a follow-up can name them in `previous_response_id`
    and `GET`/`DELETE /v1/responses/{id}` find them (a request with `store: false` is not kept)."""

    store: bool = True
    """Keep them at all; false: `previous_response_id` and `GET /v1/responses/{id}` answer 404 for them."""
    database: str | None = None
    """A SQLite file (default `$LUNAROUTE_HOME/responses.db`) or a `postgresql://` URL (shared by replicas)."""


class Config(_Strict):
    """The whole configuration file."""

    host: str = "127.0.0.1"
    port: int = 8081
    api_dialect: Literal["openai", "anthropic", "both"] = "both"
    http_server: HttpServerConfig = msgspec.field(default_factory=HttpServerConfig)
    providers: dict[str, ProviderConfig] = msgspec.field(default_factory=lambda: default_providers())
    routing: RoutingConfig = msgspec.field(default_factory=RoutingConfig)
    session_recording: SessionRecordingConfig = msgspec.field(default_factory=SessionRecordingConfig)
    bypass: BypassConfig = msgspec.field(default_factory=BypassConfig)
    ui: UiConfig = msgspec.field(default_factory=UiConfig)
    observability: ObservabilityConfig = msgspec.field(default_factory=ObservabilityConfig)
    logging: LoggingConfig = msgspec.field(default_factory=LoggingConfig)
    auth: AuthConfig = msgspec.field(default_factory=AuthConfig)
    teams: dict[str, TeamConfig] = msgspec.field(default_factory=dict)
    """Limits of each team (the `team` of gateway keys), shared by all its keys."""
    limits: list[ModelLimitConfig] = msgspec.field(default_factory=list)
    """Limits per requested model, shared by every caller."""
    state: StateConfig = msgspec.field(default_factory=StateConfig)
    reload: ReloadConfig = msgspec.field(default_factory=ReloadConfig)
    responses: ResponsesConfig = msgspec.field(default_factory=ResponsesConfig)
    workers: int = 1
    """Gateway processes accepting on the one port (`SO_REUSEPORT`), each with its own event loop and upstream
    pools, and one recorder for all of them (`serve --workers N`)."""
    budgets: BudgetsConfig = msgspec.field(default_factory=BudgetsConfig)
    session_stats_max_sessions: int = 100
    """When the gateway stops, the recorder logs the totals of this many most recently active sessions
    (logger `lunaroute.sessions`, at info); 0: no summary."""
