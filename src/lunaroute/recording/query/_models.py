"""The typed results of session queries: frozen msgspec structs, encodable to JSON as they are.

Timestamps are aware UTC datetimes (`None` when the database holds none or one that does not parse). Token
counts of a session or a day are sums over its per-request `session_stats` rows; a session without such rows
falls back to the columns of its `sessions` row. Costs are `None` when no pricing hook is configured or the
hook knows none of the models involved.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Literal, TypeAlias

import msgspec

__all__ = [
    "ClientUsage",
    "CostStats",
    "HourOfDay",
    "KeyUsage",
    "ModelSpending",
    "ModelUsage",
    "Order",
    "OverviewStats",
    "PriceFn",
    "RequestRow",
    "SessionDetail",
    "SessionFilter",
    "SessionPage",
    "SessionSummary",
    "SessionToolStats",
    "SpendingHour",
    "SpendingStats",
    "StreamMetricRow",
    "TimelineEntry",
    "TimelinePage",
    "TokenCounts",
    "TokensPerDay",
    "ToolBreakdown",
    "ToolCallRow",
    "ToolStatRow",
    "ToolUsage",
]

Order = Literal["asc", "desc"]


class _Frozen(msgspec.Struct, frozen=True, kw_only=True):
    """Base of every result struct."""


class TokenCounts(_Frozen, frozen=True):
    """Token usage by kind; `total` is the sum of all eight."""

    input: int = 0
    output: int = 0
    thinking: int = 0
    reasoning: int = 0
    cache_read: int = 0
    cache_creation: int = 0
    audio_input: int = 0
    audio_output: int = 0

    @property
    def total(self) -> int:
        return (
            self.input
            + self.output
            + self.thinking
            + self.reasoning
            + self.cache_read
            + self.cache_creation
            + self.audio_input
            + self.audio_output
        )

    def plus(self, other: TokenCounts) -> TokenCounts:
        """Both counts added kind by kind."""
        return TokenCounts(
            input=self.input + other.input,
            output=self.output + other.output,
            thinking=self.thinking + other.thinking,
            reasoning=self.reasoning + other.reasoning,
            cache_read=self.cache_read + other.cache_read,
            cache_creation=self.cache_creation + other.cache_creation,
            audio_input=self.audio_input + other.audio_input,
            audio_output=self.audio_output + other.audio_output,
        )


PriceFn: TypeAlias = Callable[[str, str, TokenCounts], float | None]
"""`price(provider, model, tokens)`: the cost in USD of `tokens` on that model, or `None` when unknown.

Called in the caller's thread with per-(provider, model) token sums; it must not block on I/O."""


class SessionFilter(_Frozen, frozen=True):
    """Filters of a session listing; every set field must match (AND).

    - `since` / `until`: the session's `started_at` is in `[since, until)`;
    - `model`: equals its `model_used` or `model_requested`, or the model of one of its requests;
    - `provider`: equals its provider; `user_agent`: equals it, or starts with it when it ends in `*`;
    - `success`: its last completed request succeeded (True) or failed (False);
    - `min_tokens`: its total tokens are at least this;
    - `search`: a case-insensitive substring of its request or response text;
    - `key`: the gateway key's id or name; `team`: the key's team;
    - `tool`: one of its requests called this tool.
    """

    since: dt.datetime | None = None
    until: dt.datetime | None = None
    model: str | None = None
    provider: str | None = None
    user_agent: str | None = None
    success: bool | None = None
    min_tokens: int | None = None
    search: str | None = None
    key: str | None = None
    team: str | None = None
    tool: str | None = None


SortKey = Literal["started", "session", "client", "model", "duration", "status"]
"""What a session listing can be ordered by (the `sessions` columns a listing shows)."""
SORT_KEYS: tuple[SortKey, ...] = ("started", "session", "client", "model", "duration", "status")


class SessionSummary(_Frozen, frozen=True):
    """One row of a session listing."""

    session_id: str
    started_at: dt.datetime | None
    completed_at: dt.datetime | None
    provider: str
    listener: str
    model_requested: str
    model_used: str | None
    success: bool | None
    error_message: str | None
    finish_reason: str | None
    total_duration_ms: int | None
    user_agent: str | None
    is_streaming: bool
    request_count: int
    tokens: TokenCounts
    total_tokens: int
    cost_usd: float | None = None
    failed_requests: int = 0
    """Requests of the session that failed (whatever the last one did)."""
    fallback_requests: int = 0
    """Requests answered only after an attempt was given up (a retry or a fallback provider)."""
    fallback_provider: str | None = None
    """A provider that answered such a request (shown beside `provider`, the one first chosen)."""
    prompt_preview: str | None = None
    """The start of the latest prompt (listings only; at most `PREVIEW_CHARS` characters)."""


class SessionPage(_Frozen, frozen=True):
    """A page of sessions, newest first; `total` counts every session matching the filter."""

    sessions: tuple[SessionSummary, ...]
    offset: int
    limit: int
    total: int

    @property
    def has_more(self) -> bool:
        return self.offset + len(self.sessions) < self.total


class AttemptRow(_Frozen, frozen=True):
    """An upstream attempt given up before the one that answered: provider, status (None: no answer), reason."""

    provider: str
    status: int | None = None
    reason: str = ""

    def describe(self) -> str:
        """`anthropic 503 (status_503)`, `spare no answer (connect_error: ...)`."""
        status = "no answer" if self.status is None else str(self.status)
        return f"{self.provider} {status} ({self.reason})" if self.reason else f"{self.provider} {status}"


class RequestRow(_Frozen, frozen=True):
    """One request of a session (a `session_stats` row); `provider` answered it, after `attempts`."""

    request_id: str | None
    model_name: str
    created_at: dt.datetime | None
    tokens: TokenCounts
    total_tokens: int
    pre_processing_ms: float | None
    post_processing_ms: float | None
    proxy_overhead_ms: float | None
    tokens_per_second: float | None
    thinking_percentage: float | None
    request_size_bytes: int | None
    response_size_bytes: int | None
    message_count: int | None
    content_blocks: int | None
    has_tools: bool
    has_refusal: bool
    user_agent: str | None
    provider: str | None = None
    success: bool | None = None
    attempts: tuple[AttemptRow, ...] = ()


class ToolStatRow(_Frozen, frozen=True):
    """Per-request totals of one tool (a `tool_stats` row)."""

    request_id: str | None
    model_name: str | None
    tool_name: str
    call_count: int
    error_count: int
    avg_execution_time_ms: int | None
    tool_arguments: str | None


class ToolCallRow(_Frozen, frozen=True):
    """One tool call (a `tool_call_executions` row)."""

    request_id: str
    tool_call_id: str
    tool_name: str
    tool_arguments: str | None
    execution_time_ms: int | None
    input_size_bytes: int | None
    output_size_bytes: int | None
    success: bool | None
    created_at: dt.datetime | None


class StreamMetricRow(_Frozen, frozen=True):
    """Streaming timings of one request (a `stream_metrics` row)."""

    request_id: str
    time_to_first_token_ms: int
    total_chunks: int
    streaming_duration_ms: int
    avg_chunk_latency_ms: float | None
    p50_chunk_latency_ms: int | None
    p95_chunk_latency_ms: int | None
    p99_chunk_latency_ms: int | None
    max_chunk_latency_ms: int | None
    min_chunk_latency_ms: int | None


class SessionDetail(_Frozen, frozen=True):
    """One session: its summary, the remaining `sessions` columns and every child row."""

    summary: SessionSummary
    request_id: str | None
    request_text: str | None
    response_text: str | None
    client_ip: str | None
    provider_latency_ms: int | None
    time_to_first_token_ms: int | None
    chunk_count: int | None
    streaming_duration_ms: int | None
    requests: tuple[RequestRow, ...]
    tools: tuple[ToolStatRow, ...]
    tool_calls: tuple[ToolCallRow, ...]
    stream_metrics: tuple[StreamMetricRow, ...]


class TimelineEntry(_Frozen, frozen=True):
    """One request in a session's timeline; `index` is its 1-based position in request order."""

    index: int
    request_id: str | None
    created_at: dt.datetime | None
    model_name: str
    tokens: TokenCounts
    total_tokens: int
    tool_calls: int
    time_to_first_token_ms: int | None
    response_size_bytes: int | None
    has_refusal: bool


class TimelinePage(_Frozen, frozen=True):
    entries: tuple[TimelineEntry, ...]
    offset: int
    limit: int
    order: Order
    total: int


class ToolBreakdown(_Frozen, frozen=True):
    tool_name: str
    call_count: int
    error_count: int
    percentage: float


class SessionToolStats(_Frozen, frozen=True):
    """Tool use of one session; `tool_usage_percentage` is the share of its requests that called a tool."""

    total_tool_calls: int
    tool_usage_percentage: float
    by_tool: tuple[ToolBreakdown, ...]


class OverviewStats(_Frozen, frozen=True):
    """Activity of the last `hours`.

    Request counts, tokens and TTFT come from the requests recorded in the window; `sessions` counts the
    sessions that started in it, `completed_sessions` / `failed_sessions` those whose last request completed in
    it. `avg_ttft_ms` / `p95_ttft_ms` are over the streamed requests; `avg_duration_ms` is the mean session
    duration.
    """

    hours: int
    requests: int
    sessions: int
    active_sessions: int
    completed_sessions: int
    failed_sessions: int
    success_rate: float
    tokens: TokenCounts
    total_tokens: int
    avg_duration_ms: float | None
    avg_ttft_ms: float | None
    p95_ttft_ms: int | None
    total_cost_usd: float | None


class TokensPerDay(_Frozen, frozen=True):
    date: dt.date
    requests: int
    tokens: TokenCounts
    total_tokens: int


class ToolUsage(_Frozen, frozen=True):
    tool_name: str
    call_count: int
    error_count: int
    success_count: int
    success_rate: float
    avg_time_ms: float | None


class ModelUsage(_Frozen, frozen=True):
    model_name: str
    request_count: int
    percentage: float
    tokens: TokenCounts
    total_tokens: int
    cost_usd: float | None


class ClientUsage(_Frozen, frozen=True):
    """The requests of one client (the user agent of their sessions) in a window, priced per model."""

    user_agent: str
    request_count: int
    tokens: TokenCounts
    total_tokens: int
    cost_usd: float | None


class KeyUsage(_Frozen, frozen=True):
    """The requests of one gateway key in a window, priced per model; `team` is the key's team."""

    key_id: str
    key_name: str
    team: str | None
    request_count: int
    tokens: TokenCounts
    total_tokens: int
    cost_usd: float | None


class CostStats(_Frozen, frozen=True):
    """Spending by calendar period (UTC), with a monthly projection from the last 30 days' daily average."""

    today: float | None
    this_week: float | None
    this_month: float | None
    total: float | None
    projection_monthly: float | None


class ModelLatency(_Frozen, frozen=True):
    """How long the requests of a model took (start to end, as the client saw it), in a window."""

    model_name: str
    requests: int
    p50_ms: int
    p95_ms: int


class StatusCount(_Frozen, frozen=True):
    """Failed requests of a window by the HTTP status the client got (None: no status was sent)."""

    status: int | None
    requests: int


class ActivityBucket(_Frozen, frozen=True):
    """Requests started in `minutes` minutes from `start` (UTC), their tokens and list-price cost."""

    start: dt.datetime
    minutes: int
    requests: int
    total_tokens: int
    cost_usd: float | None


class SpendingHour(_Frozen, frozen=True):
    """One UTC hour: `hour` is its start."""

    hour: dt.datetime
    requests: int
    total_tokens: int
    cost_usd: float | None


class ModelSpending(_Frozen, frozen=True):
    model_name: str
    provider: str
    request_count: int
    session_count: int
    total_tokens: int
    cost_usd: float | None


class SpendingStats(_Frozen, frozen=True):
    hours: int
    total_cost_usd: float | None
    avg_cost_per_session: float | None
    by_model: tuple[ModelSpending, ...]
    by_hour: tuple[SpendingHour, ...]


class HourOfDay(_Frozen, frozen=True):
    """Requests recorded in one hour of the day (0-23, UTC) over the window."""

    hour: int
    request_count: int
    session_count: int
