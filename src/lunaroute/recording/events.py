"""The session-recording event vocabulary: the Rust LunaRoute JSONL events as typed msgspec structs.

Each event is one line of a session's JSONL file, tagged by `type` (snake_case) with every field at the top
level, exactly as the Rust code writes them (its nested stats structs are `#[serde(flatten)]`). Every event
carries `session_id`, `request_id` and `timestamp` (an RFC 3339 UTC instant). Two fields are ours and are
ignored by Rust readers: `outcome`, `provider`, `status` and `attempts` on `completed`, and `tokens_estimated` on
`response_recorded`.

`SessionEvent` is the tagged union; `lunaroute.recording.codec` encodes and decodes it without ever failing on
odd content.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any, Literal, TypeAlias

import msgspec

__all__ = [
    "EVENT_TYPES",
    "AttemptStats",
    "Completed",
    "CostEstimate",
    "JsonValue",
    "Outcome",
    "RequestRecorded",
    "ResponseRecorded",
    "SessionEvent",
    "Started",
    "StatsUpdated",
    "StreamStarted",
    "StreamingStats",
    "TokenStats",
    "TokenTotals",
    "ToolCallRecorded",
    "ToolCallStats",
    "ToolStats",
    "ToolUsageSummary",
    "is_valid_session_id",
    "utcnow",
    "validate_session_id",
]

JsonValue: TypeAlias = Any
"""A decoded JSON document (dict / list / str / int / float / bool / None): a request or response body."""

Outcome = Literal["ok", "upstream_error", "client_disconnected", "upstream_timeout", "rejected", "interrupted"]
"""How a request ended, on `completed`: the terminal state a capture-rate audit counts."""

_SESSION_ID = re.compile(r"[A-Za-z0-9_-]{1,255}")


def is_valid_session_id(session_id: str) -> bool:
    """True when `session_id` is 1-255 characters of `[A-Za-z0-9_-]` (safe in a file name and a URL)."""
    return _SESSION_ID.fullmatch(session_id) is not None


def validate_session_id(session_id: str) -> str:
    """Return `session_id` unchanged, or raise `ValueError` when `is_valid_session_id` is false."""
    if not is_valid_session_id(session_id):
        raise ValueError(f"invalid session id {session_id[:64]!r}: expected [A-Za-z0-9_-]{{1,255}}")
    return session_id


def utcnow() -> dt.datetime:
    """The current instant as an aware UTC datetime (the default `timestamp` of every event)."""
    return dt.datetime.now(dt.UTC)


class _Event(msgspec.Struct, tag_field="type", kw_only=True):
    """Fields every event carries. A naive `timestamp` is taken as UTC; any other zone is converted to UTC."""

    session_id: str
    request_id: str
    timestamp: dt.datetime = msgspec.field(default_factory=utcnow)

    def __post_init__(self) -> None:
        ts = self.timestamp
        if ts.tzinfo is None:
            self.timestamp = ts.replace(tzinfo=dt.UTC)
        elif ts.utcoffset() != dt.timedelta(0):
            self.timestamp = ts.astimezone(dt.UTC)


class _Part(msgspec.Struct, kw_only=True):
    """Base of the nested statistics structs."""


class TokenStats(_Part):
    """Token usage of one response (also the value type of `Completed.by_model`)."""

    input_tokens: int = 0
    output_tokens: int = 0
    total_tokens: int = 0
    thinking_tokens: int | None = None
    reasoning_tokens: int | None = None
    cache_read_tokens: int | None = None
    cache_creation_tokens: int | None = None
    audio_input_tokens: int | None = None
    audio_output_tokens: int | None = None
    thinking_percentage: float | None = None
    tokens_per_second: float | None = None


class ToolCallStats(_Part):
    """One tool call inside a `response_recorded` event."""

    tool_name: str
    tool_call_id: str | None = None
    execution_time_ms: int | None = None
    input_size_bytes: int = 0
    output_size_bytes: int | None = None
    success: bool | None = None


class ToolStats(_Part):
    """Per-tool aggregate inside `by_tool`."""

    call_count: int = 0
    total_execution_time_ms: int = 0
    avg_execution_time_ms: int = 0
    error_count: int = 0


class StreamingStats(_Part):
    """Streaming timings of one request (`Completed.streaming_stats`, stored as a `stream_metrics` row)."""

    time_to_first_token_ms: int = 0
    total_chunks: int = 0
    streaming_duration_ms: int = 0
    avg_chunk_latency_ms: float = 0.0
    p50_chunk_latency_ms: int | None = None
    p95_chunk_latency_ms: int | None = None
    p99_chunk_latency_ms: int | None = None
    max_chunk_latency_ms: int = 0
    min_chunk_latency_ms: int = 0


class AttemptStats(_Part):
    """An upstream attempt given up before the one that answered (`Completed.attempts`)."""

    provider: str
    status: int | None = None
    reason: str = ""


class CostEstimate(_Part):
    provider: str
    model: str
    input_cost_usd: float = 0.0
    output_cost_usd: float = 0.0
    thinking_cost_usd: float | None = None
    total_cost_usd: float = 0.0
    cost_per_1k_tokens: float = 0.0


class TokenTotals(_Part):
    """Token totals of a request (`StatsUpdated.token_updates`; flattened into `Completed`)."""

    total_input: int = 0
    total_output: int = 0
    total_thinking: int = 0
    total_reasoning: int = 0
    total_cached: int = 0
    total_cache_read: int = 0
    total_cache_creation: int = 0
    total_audio_input: int = 0
    total_audio_output: int = 0
    grand_total: int = 0
    by_model: dict[str, TokenStats] = msgspec.field(default_factory=dict)


class ToolUsageSummary(_Part):
    """Tool usage of a request (`StatsUpdated.tool_call_updates`; flattened into `Completed`)."""

    total_tool_calls: int = 0
    unique_tool_count: int = 0
    by_tool: dict[str, ToolStats] = msgspec.field(default_factory=dict)
    total_tool_time_ms: int = 0
    tool_error_count: int = 0


class Started(_Event, tag="started"):
    """A request of the session began; the first one of a session creates its `sessions` row."""

    model_requested: str
    provider: str
    listener: str
    is_streaming: bool = False
    client_ip: str | None = None
    user_agent: str | None = None
    api_version: str | None = None
    key_id: str | None = None
    """The gateway key of the request (`auth.mode: keys`), its name and team."""
    key_name: str | None = None
    team: str | None = None
    request_headers: dict[str, str] = msgspec.field(default_factory=dict)
    session_tags: list[str] = msgspec.field(default_factory=list)


class StreamStarted(_Event, tag="stream_started"):
    """The first streamed byte arrived from the upstream."""

    time_to_first_token_ms: int


class RequestRecorded(_Event, tag="request_recorded"):
    """The request body as sent upstream (after marker stripping)."""

    request_text: str = ""
    request_json: JsonValue = None
    estimated_tokens: int = 0
    pre_processing_ms: float = 0.0
    request_size_bytes: int = 0
    message_count: int = 0
    has_system_prompt: bool = False
    has_tools: bool = False
    tool_count: int = 0


class ResponseRecorded(_Event, tag="response_recorded"):
    """The assembled response with its token usage; `tokens_estimated` when usage was not reported."""

    response_text: str = ""
    response_json: JsonValue = None
    model_used: str = ""
    provider_latency_ms: int = 0
    post_processing_ms: float = 0.0
    total_proxy_overhead_ms: float = 0.0
    input_tokens: int = 0
    output_tokens: int = 0
    total_tokens: int = 0
    thinking_tokens: int | None = None
    reasoning_tokens: int | None = None
    cache_read_tokens: int | None = None
    cache_creation_tokens: int | None = None
    audio_input_tokens: int | None = None
    audio_output_tokens: int | None = None
    thinking_percentage: float | None = None
    tokens_per_second: float | None = None
    tool_calls: list[ToolCallStats] = msgspec.field(default_factory=list)
    response_size_bytes: int = 0
    content_blocks: int = 0
    has_refusal: bool = False
    is_streaming: bool = False
    chunk_count: int | None = None
    streaming_duration_ms: int | None = None
    tokens_estimated: bool = False


class ToolCallRecorded(_Event, tag="tool_call_recorded"):
    """One tool call (a tool_use in a response or a tool_result in a request)."""

    tool_name: str
    tool_call_id: str
    execution_time_ms: int | None = None
    input_size_bytes: int = 0
    output_size_bytes: int | None = None
    success: bool | None = None
    tool_arguments: str | None = None


class StatsUpdated(_Event, tag="stats_updated"):
    """Usage found by parsing a passthrough response after it was relayed."""

    token_updates: TokenTotals | None = None
    tool_call_updates: ToolUsageSummary | None = None
    model_used: str | None = None
    response_size_bytes: int = 0
    content_blocks: int = 0
    has_refusal: bool = False
    user_agent: str | None = None


class Completed(_Event, tag="completed"):
    """The terminal event of a request: status, totals, tool summary, performance and streaming stats."""

    success: bool
    error: str | None = None
    finish_reason: str | None = None
    total_duration_ms: int = 0
    provider_time_ms: int = 0
    proxy_overhead_ms: float = 0.0
    # TokenTotals, flattened
    total_input: int = 0
    total_output: int = 0
    total_thinking: int = 0
    total_reasoning: int = 0
    total_cached: int = 0
    total_cache_read: int = 0
    total_cache_creation: int = 0
    total_audio_input: int = 0
    total_audio_output: int = 0
    grand_total: int = 0
    by_model: dict[str, TokenStats] = msgspec.field(default_factory=dict)
    # ToolUsageSummary, flattened
    total_tool_calls: int = 0
    unique_tool_count: int = 0
    by_tool: dict[str, ToolStats] = msgspec.field(default_factory=dict)
    total_tool_time_ms: int = 0
    tool_error_count: int = 0
    # PerformanceMetrics, flattened
    avg_provider_latency_ms: float = 0.0
    p50_latency_ms: int | None = None
    p95_latency_ms: int | None = None
    p99_latency_ms: int | None = None
    max_latency_ms: int = 0
    min_latency_ms: int = 0
    avg_pre_processing_ms: float = 0.0
    avg_post_processing_ms: float = 0.0
    proxy_overhead_percentage: float = 0.0
    streaming_stats: StreamingStats | None = None
    estimated_cost: CostEstimate | None = None
    outcome: Outcome | None = None
    provider: str | None = None
    """The provider that gave the answer (after any fallback); `started` names the one first chosen."""
    status: int | None = None
    """The HTTP status the client got (None when none was sent: a disconnect, a failure before the head)."""
    attempts: list[AttemptStats] = msgspec.field(default_factory=list)
    """Attempts given up before it (retries, fallbacks), in order."""


SessionEvent: TypeAlias = (
    Started | StreamStarted | RequestRecorded | ResponseRecorded | ToolCallRecorded | StatsUpdated | Completed
)
"""Any recorded event; decode with `lunaroute.recording.codec.decode_event`."""

EVENT_TYPES: tuple[type[SessionEvent], ...] = (
    Started,
    StreamStarted,
    RequestRecorded,
    ResponseRecorded,
    ToolCallRecorded,
    StatsUpdated,
    Completed,
)
