"""How each event changes the SQLite session tables: the Rust LunaRoute write rules, made idempotent.

Every function runs inside the writer's open transaction, with bound parameters only (the few column names
spliced into SQL are literals of this module). The rules of the Rust writer hold:

- `started` inserts the session row; on conflict nothing changes (the first request wins);
- `request_recorded` sets `request_text`, `stream_started` the TTFT, `response_recorded` the response and
  tokens (overwrite);
- `completed` and `stats_updated` raise token columns to `MAX(existing, new)`, never sum them;
- `session_stats` holds one row per request, `tool_stats` one per (session, request, tool),
  `tool_call_executions` one per (session, request, tool-call id), `stream_metrics` one per streamed request.

Replaying an event changes nothing more: per-request rows are updated in place when they exist, and a tool
call raises `tool_stats.call_count` / `error_count` only when its execution row is new / newly failed.
Child rows of a session whose `started` never arrived get a placeholder session row (empty provider,
listener and model) that a later `started` fills in, so a foreign key can never fail a batch.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from lunaroute.recording.events import (
    Completed,
    RequestRecorded,
    ResponseRecorded,
    SessionEvent,
    Started,
    StatsUpdated,
    StreamingStats,
    StreamStarted,
    ToolCallRecorded,
    ToolStats,
)

__all__ = ["Batch", "apply_event"]

_I64_MAX = 2**63 - 1
_TOKENS = (
    "input_tokens",
    "output_tokens",
    "thinking_tokens",
    "reasoning_tokens",
    "cache_read_tokens",
    "cache_creation_tokens",
    "audio_input_tokens",
    "audio_output_tokens",
)


def _i(value: int | None) -> int | None:
    """Clamp to SQLite's 64-bit integer range (a bigger count must not fail the batch)."""
    if value is None or -_I64_MAX <= value <= _I64_MAX:
        return value
    return _I64_MAX if value > 0 else -_I64_MAX


def _ts(event: SessionEvent) -> str:
    return event.timestamp.isoformat()


class Batch:
    """Per-transaction memo: session rows known to exist in this transaction (saves no-op INSERTs)."""

    __slots__ = ("conn", "sessions")

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.sessions: set[str] = set()


def _ensure_session(b: Batch, ev: SessionEvent) -> None:
    if ev.session_id in b.sessions:
        return
    b.sessions.add(ev.session_id)
    b.conn.execute(
        "INSERT INTO sessions (session_id, request_id, started_at, provider, listener, model_requested) "
        "VALUES (?, ?, ?, '', '', '') ON CONFLICT(session_id) DO NOTHING",
        (ev.session_id, ev.request_id, _ts(ev)),
    )


def _started(b: Batch, ev: Started) -> None:
    b.sessions.add(ev.session_id)
    b.conn.execute(
        "INSERT INTO sessions (session_id, request_id, started_at, model_requested, provider, listener, "
        "client_ip, user_agent, is_streaming) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT(session_id) DO UPDATE SET request_id = excluded.request_id, "
        "started_at = excluded.started_at, model_requested = excluded.model_requested, "
        "provider = excluded.provider, listener = excluded.listener, client_ip = excluded.client_ip, "
        "user_agent = excluded.user_agent, is_streaming = excluded.is_streaming "
        "WHERE sessions.provider = '' AND sessions.listener = '' AND sessions.model_requested = ''",
        (
            ev.session_id,
            ev.request_id,
            _ts(ev),
            ev.model_requested,
            ev.provider,
            ev.listener,
            ev.client_ip,
            ev.user_agent,
            ev.is_streaming,
        ),
    )


def _upsert_request_stats(b: Batch, ev: SessionEvent, values: dict[str, object]) -> None:
    """Merge `values` into the request's `session_stats` row: tokens by MAX, other columns when not null."""
    sets = ", ".join(
        f"{c} = MAX(COALESCE({c}, 0), COALESCE(?, 0))" if c in _TOKENS else f"{c} = COALESCE(?, {c})" for c in values
    )
    cur = b.conn.execute(
        f"UPDATE session_stats SET {sets} WHERE session_id = ? AND request_id = ?",
        (*values.values(), ev.session_id, ev.request_id),
    )
    if cur.rowcount == 0:
        _ensure_session(b, ev)
        cols = ", ".join(values)
        marks = ", ".join("?" for _ in values)
        b.conn.execute(
            f"INSERT INTO session_stats (session_id, request_id, {cols}) VALUES (?, ?, {marks})",
            (ev.session_id, ev.request_id, *values.values()),
        )


_RAISE_TOKENS = ", ".join(f"{c} = MAX(COALESCE({c}, 0), ?)" for c in _TOKENS)


def _raise_tokens(
    b: Batch, ev: SessionEvent, tokens: Sequence[int], *, also: str = "", params: tuple[object, ...] = ()
) -> None:
    """Raise the session's token columns to at least `tokens` (and apply the `also` assignments)."""
    b.conn.execute(
        f"UPDATE sessions SET {also}{_RAISE_TOKENS} WHERE session_id = ?",
        (*params, *map(_i, tokens), ev.session_id),
    )


def _tool_call(
    b: Batch,
    ev: SessionEvent,
    *,
    tool_name: str,
    tool_call_id: str,
    execution_time_ms: int | None,
    input_size_bytes: int | None,
    output_size_bytes: int | None,
    success: bool | None,
    tool_arguments: str | None,
    model_name: str | None = None,
) -> None:
    _ensure_session(b, ev)
    key = (ev.session_id, ev.request_id, tool_call_id)
    inserted = b.conn.execute(
        "INSERT INTO tool_call_executions (session_id, request_id, tool_call_id, tool_name, tool_arguments, "
        "execution_time_ms, input_size_bytes, output_size_bytes, success) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT(session_id, request_id, tool_call_id) DO NOTHING",
        (*key, tool_name, tool_arguments, _i(execution_time_ms), _i(input_size_bytes), _i(output_size_bytes), success),
    ).rowcount
    prior: tuple[object, ...] | None = None
    if not inserted:  # seen before (a replay, or the result of an earlier tool_use): merge
        prior = b.conn.execute(
            "SELECT success FROM tool_call_executions WHERE session_id = ? AND request_id = ? AND tool_call_id = ?",
            key,
        ).fetchone()
        b.conn.execute(
            "UPDATE tool_call_executions SET execution_time_ms = COALESCE(?, execution_time_ms), "
            "output_size_bytes = COALESCE(?, output_size_bytes), success = COALESCE(?, success), "
            "tool_arguments = COALESCE(tool_arguments, ?) "
            "WHERE session_id = ? AND request_id = ? AND tool_call_id = ?",
            (_i(execution_time_ms), _i(output_size_bytes), success, tool_arguments, *key),
        )
    new_call = 1 if inserted else 0
    new_error = 1 if success is False and (prior is None or prior[0] != 0) else 0
    b.conn.execute(
        "INSERT INTO tool_stats (session_id, request_id, model_name, tool_name, call_count, "
        "avg_execution_time_ms, error_count, tool_arguments) VALUES (?, ?, ?, ?, 1, ?, ?, ?) "
        "ON CONFLICT(session_id, request_id, tool_name) DO UPDATE SET call_count = call_count + ?, "
        "avg_execution_time_ms = COALESCE(excluded.avg_execution_time_ms, avg_execution_time_ms), "
        "error_count = error_count + ?, model_name = COALESCE(model_name, excluded.model_name), "
        "tool_arguments = COALESCE(tool_arguments, excluded.tool_arguments)",
        (
            ev.session_id,
            ev.request_id,
            model_name,
            tool_name,
            _i(execution_time_ms),
            1 if success is False else 0,
            tool_arguments,
            new_call,
            new_error,
        ),
    )


def _tool_summary(b: Batch, ev: SessionEvent, by_tool: dict[str, ToolStats], merge: str) -> None:
    """Upsert per-tool totals: `merge` is `set` (completed) or `max` (stats_updated)."""
    if not by_tool:
        return
    _ensure_session(b, ev)
    if merge == "set":
        update = "call_count = excluded.call_count, error_count = excluded.error_count"
    else:
        update = (
            "call_count = MAX(call_count, excluded.call_count), error_count = MAX(error_count, excluded.error_count)"
        )
    for name, stats in by_tool.items():
        b.conn.execute(
            "INSERT INTO tool_stats (session_id, request_id, tool_name, call_count, avg_execution_time_ms, "
            "error_count) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(session_id, request_id, tool_name) DO UPDATE SET "
            f"{update}, avg_execution_time_ms = excluded.avg_execution_time_ms",
            (
                ev.session_id,
                ev.request_id,
                name,
                _i(stats.call_count),
                _i(stats.avg_execution_time_ms),
                _i(stats.error_count),
            ),
        )


def _stream_metrics(b: Batch, ev: Completed, s: StreamingStats) -> None:
    values = (
        _i(s.time_to_first_token_ms),
        _i(s.total_chunks),
        _i(s.streaming_duration_ms),
        s.avg_chunk_latency_ms,
        _i(s.p50_chunk_latency_ms),
        _i(s.p95_chunk_latency_ms),
        _i(s.p99_chunk_latency_ms),
        _i(s.max_chunk_latency_ms),
        _i(s.min_chunk_latency_ms),
    )
    cols = (
        "time_to_first_token_ms, total_chunks, streaming_duration_ms, avg_chunk_latency_ms, "
        "p50_chunk_latency_ms, p95_chunk_latency_ms, p99_chunk_latency_ms, max_chunk_latency_ms, "
        "min_chunk_latency_ms"
    )
    sets = ", ".join(f"{c.strip()} = ?" for c in cols.split(","))
    cur = b.conn.execute(
        f"UPDATE stream_metrics SET {sets} WHERE session_id = ? AND request_id = ?",
        (*values, ev.session_id, ev.request_id),
    )
    if cur.rowcount == 0:
        _ensure_session(b, ev)
        b.conn.execute(
            f"INSERT INTO stream_metrics (session_id, request_id, {cols}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (ev.session_id, ev.request_id, *values),
        )


def _response(b: Batch, ev: ResponseRecorded) -> None:
    b.conn.execute(
        "UPDATE sessions SET response_text = ?, model_used = ?, output_tokens = ?, thinking_tokens = ?, "
        "reasoning_tokens = ?, input_tokens = ?, cache_read_tokens = ?, cache_creation_tokens = ?, "
        "audio_input_tokens = ?, audio_output_tokens = ?, provider_latency_ms = ?, chunk_count = ?, "
        "streaming_duration_ms = ? WHERE session_id = ?",
        (
            ev.response_text,
            ev.model_used,
            _i(ev.output_tokens),
            _i(ev.thinking_tokens),
            _i(ev.reasoning_tokens),
            _i(ev.input_tokens),
            _i(ev.cache_read_tokens),
            _i(ev.cache_creation_tokens),
            _i(ev.audio_input_tokens),
            _i(ev.audio_output_tokens),
            _i(ev.provider_latency_ms),
            _i(ev.chunk_count),
            _i(ev.streaming_duration_ms),
            ev.session_id,
        ),
    )
    _upsert_request_stats(
        b,
        ev,
        {
            "model_name": ev.model_used,
            "post_processing_ms": ev.post_processing_ms,
            "proxy_overhead_ms": ev.total_proxy_overhead_ms,
            "input_tokens": _i(ev.input_tokens),
            "output_tokens": _i(ev.output_tokens),
            "thinking_tokens": _i(ev.thinking_tokens),
            "reasoning_tokens": _i(ev.reasoning_tokens),
            "cache_read_tokens": _i(ev.cache_read_tokens),
            "cache_creation_tokens": _i(ev.cache_creation_tokens),
            "audio_input_tokens": _i(ev.audio_input_tokens),
            "audio_output_tokens": _i(ev.audio_output_tokens),
            "tokens_per_second": ev.tokens_per_second,
            "thinking_percentage": ev.thinking_percentage,
            "response_size_bytes": _i(ev.response_size_bytes),
            "content_blocks": _i(ev.content_blocks),
            "has_refusal": ev.has_refusal,
        },
    )
    for call in ev.tool_calls:
        if call.tool_call_id:  # without an id a call cannot be stored idempotently
            _tool_call(
                b,
                ev,
                tool_name=call.tool_name,
                tool_call_id=call.tool_call_id,
                execution_time_ms=call.execution_time_ms,
                input_size_bytes=call.input_size_bytes,
                output_size_bytes=call.output_size_bytes,
                success=call.success,
                tool_arguments=None,
                model_name=ev.model_used,
            )


def _completed(b: Batch, ev: Completed) -> None:
    error = ev.error
    if error is None and ev.outcome not in (None, "ok"):
        error = ev.outcome
    ts = _ts(ev)
    _raise_tokens(
        b,
        ev,
        (
            ev.total_input,
            ev.total_output,
            ev.total_thinking,
            ev.total_reasoning,
            ev.total_cache_read,
            ev.total_cache_creation,
            ev.total_audio_input,
            ev.total_audio_output,
        ),
        also="completed_at = ?, success = ?, error_message = ?, finish_reason = ?, total_duration_ms = "
        "MAX(COALESCE(CAST((julianday(?) - julianday(started_at)) * 86400000 AS INTEGER), 0), ?), ",
        params=(ts, ev.success, error, ev.finish_reason, ts, _i(ev.total_duration_ms)),
    )
    if ev.total_tool_calls:
        _tool_summary(b, ev, ev.by_tool, "set")
    if ev.streaming_stats is not None:
        _stream_metrics(b, ev, ev.streaming_stats)


def _stats_updated(b: Batch, ev: StatsUpdated) -> None:
    t = ev.token_updates
    if t is not None:
        cache_read = t.total_cache_read or t.total_cached
        _raise_tokens(
            b,
            ev,
            (
                t.total_input,
                t.total_output,
                t.total_thinking,
                t.total_reasoning,
                cache_read,
                t.total_cache_creation,
                t.total_audio_input,
                t.total_audio_output,
            ),
            also="model_used = COALESCE(model_used, ?), ",
            params=(ev.model_used,),
        )
    elif ev.model_used is not None:
        b.conn.execute(
            "UPDATE sessions SET model_used = COALESCE(model_used, ?) WHERE session_id = ?",
            (ev.model_used, ev.session_id),
        )
    tools = ev.tool_call_updates
    if tools is not None and tools.total_tool_calls > 0:
        _tool_summary(b, ev, tools.by_tool, "max")
    if ev.model_used is not None:
        output = t.total_output if t else 0
        thinking = t.total_thinking if t else 0
        _upsert_request_stats(
            b,
            ev,
            {
                "model_name": ev.model_used,
                "input_tokens": _i(t.total_input if t else 0),
                "output_tokens": _i(output),
                "thinking_tokens": _i(thinking),
                "reasoning_tokens": _i(t.total_reasoning if t else 0),
                "cache_read_tokens": _i((t.total_cache_read or t.total_cached) if t else 0),
                "cache_creation_tokens": _i(t.total_cache_creation if t else 0),
                "audio_input_tokens": _i(t.total_audio_input if t else 0),
                "audio_output_tokens": _i(t.total_audio_output if t else 0),
                "thinking_percentage": thinking / output * 100.0 if thinking > 0 and output > 0 else None,
                "response_size_bytes": _i(ev.response_size_bytes),
                "content_blocks": _i(ev.content_blocks),
                "has_tools": bool(tools is not None and tools.total_tool_calls > 0),
                "has_refusal": ev.has_refusal,
                "user_agent": ev.user_agent,
            },
        )


def apply_event(b: Batch, ev: SessionEvent) -> None:
    """Apply one event inside the caller's transaction (`b` lives as long as that transaction)."""
    match ev:
        case Started():
            _started(b, ev)
        case RequestRecorded():
            b.conn.execute(
                "UPDATE sessions SET request_text = ? WHERE session_id = ?", (ev.request_text, ev.session_id)
            )
        case StreamStarted():
            b.conn.execute(
                "UPDATE sessions SET time_to_first_token_ms = ? WHERE session_id = ?",
                (_i(ev.time_to_first_token_ms), ev.session_id),
            )
        case ResponseRecorded():
            _response(b, ev)
        case ToolCallRecorded():
            _tool_call(
                b,
                ev,
                tool_name=ev.tool_name,
                tool_call_id=ev.tool_call_id,
                execution_time_ms=ev.execution_time_ms,
                input_size_bytes=ev.input_size_bytes,
                output_size_bytes=ev.output_size_bytes,
                success=ev.success,
                tool_arguments=ev.tool_arguments,
            )
        case Completed():
            _completed(b, ev)
        case StatsUpdated():
            _stats_updated(b, ev)
