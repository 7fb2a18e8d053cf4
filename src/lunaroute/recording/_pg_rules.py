"""How each event changes the PostgreSQL session tables: the same rules as `_sqlite_rules`, in PG SQL.

Text bound here goes through `_t`, which escapes NUL (`\\x00` becomes the six characters `\\u0000`) because
PostgreSQL text rejects it; everything else was made storable by `codec.sanitize_event`.
"""

from __future__ import annotations

from typing import Any

import msgspec

from lunaroute.recording.events import (
    Completed,
    RequestRecorded,
    ResponseRecorded,
    SessionEvent,
    Started,
    StatsUpdated,
    StreamStarted,
    ToolCallRecorded,
    ToolStats,
)

__all__ = ["apply_event", "pg_text"]

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


def pg_text(value: str | None) -> str | None:
    """`value` with NUL escaped as the text `\\u0000` (PostgreSQL text cannot hold NUL)."""
    return value.replace("\x00", "\\u0000") if value is not None and "\x00" in value else value


_t = pg_text


def _i(value: int | None) -> int | None:
    return None if value is None else max(-_I64_MAX, min(value, _I64_MAX))


async def _ensure_session(conn: Any, ev: SessionEvent) -> None:
    await conn.execute(
        "INSERT INTO sessions (session_id, request_id, started_at, provider, listener, model_requested) "
        "VALUES ($1, $2, $3, '', '', '') ON CONFLICT (session_id) DO NOTHING",
        ev.session_id,
        _t(ev.request_id),
        ev.timestamp,
    )


async def _started(conn: Any, ev: Started) -> None:
    await conn.execute(
        "INSERT INTO sessions (session_id, request_id, started_at, model_requested, provider, listener, "
        "client_ip, user_agent, is_streaming, key_id, key_name, team) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) "
        "ON CONFLICT (session_id) DO UPDATE SET request_id = EXCLUDED.request_id, "
        "started_at = EXCLUDED.started_at, model_requested = EXCLUDED.model_requested, "
        "provider = EXCLUDED.provider, listener = EXCLUDED.listener, client_ip = EXCLUDED.client_ip, "
        "user_agent = EXCLUDED.user_agent, is_streaming = EXCLUDED.is_streaming, key_id = EXCLUDED.key_id, "
        "key_name = EXCLUDED.key_name, team = EXCLUDED.team "
        "WHERE sessions.provider = '' AND sessions.listener = '' AND sessions.model_requested = ''",
        ev.session_id,
        _t(ev.request_id),
        ev.timestamp,
        _t(ev.model_requested),
        _t(ev.provider),
        _t(ev.listener),
        _t(ev.client_ip),
        _t(ev.user_agent),
        ev.is_streaming,
        _t(ev.key_id),
        _t(ev.key_name),
        _t(ev.team),
    )


_OUTCOME_TOKENS = _TOKENS[:6]
"""The token columns `completed` carries (see the SQLite rules)."""


async def _outcome_stats(conn: Any, ev: Completed) -> None:
    """How the request ended (see the SQLite rules)."""
    await _ensure_session(conn, ev)
    await conn.execute(
        "INSERT INTO session_stats (session_id, request_id, model_name, provider, success, attempts, status_code, "
        f"duration_ms, {', '.join(_OUTCOME_TOKENS)}) VALUES ($1, $2, '', $3, $4, $5, $6, $7, $8, $9, $10, $11, "
        "$12, $13) ON CONFLICT (session_id, request_id) DO UPDATE SET "
        "provider = COALESCE(EXCLUDED.provider, session_stats.provider), success = EXCLUDED.success, "
        "attempts = EXCLUDED.attempts, status_code = EXCLUDED.status_code, duration_ms = EXCLUDED.duration_ms, "
        + ", ".join(
            f"{c} = GREATEST(COALESCE(session_stats.{c}, 0), COALESCE(EXCLUDED.{c}, 0))" for c in _OUTCOME_TOKENS
        ),
        ev.session_id,
        _t(ev.request_id),
        _t(ev.provider),
        ev.success,
        _t(msgspec.json.encode(ev.attempts).decode()) if ev.attempts else None,
        _i(ev.status),
        _i(ev.total_duration_ms),
        *map(
            _i,
            (
                ev.total_input,
                ev.total_output,
                ev.total_thinking,
                ev.total_reasoning,
                ev.total_cache_read,
                ev.total_cache_creation,
            ),
        ),
    )


async def _started_stats(conn: Any, ev: Started) -> None:
    """Every request has its `session_stats` row from its start (see the SQLite rules)."""
    await conn.execute(
        "INSERT INTO session_stats (session_id, request_id, model_name, user_agent) VALUES ($1, $2, $3, $4) "
        "ON CONFLICT (session_id, request_id) DO UPDATE SET "
        "user_agent = COALESCE(session_stats.user_agent, EXCLUDED.user_agent)",
        ev.session_id,
        _t(ev.request_id),
        _t(ev.model_requested),
        _t(ev.user_agent),
    )


async def _request_stats(conn: Any, ev: RequestRecorded) -> None:
    await _ensure_session(conn, ev)
    await conn.execute(
        "INSERT INTO session_stats (session_id, request_id, model_name, request_size_bytes, message_count, "
        "has_tools, pre_processing_ms) VALUES ($1, $2, '', $3, $4, $5, $6) ON CONFLICT (session_id, request_id) "
        "DO UPDATE SET request_size_bytes = EXCLUDED.request_size_bytes, message_count = EXCLUDED.message_count, "
        "has_tools = COALESCE(session_stats.has_tools, FALSE) OR EXCLUDED.has_tools, "
        "pre_processing_ms = EXCLUDED.pre_processing_ms",
        ev.session_id,
        _t(ev.request_id),
        _i(ev.request_size_bytes),
        _i(ev.message_count),
        ev.has_tools,
        ev.pre_processing_ms,
    )


async def _upsert_request_stats(conn: Any, ev: SessionEvent, values: dict[str, Any]) -> None:
    await _ensure_session(conn, ev)
    cols = list(values)
    marks = ", ".join(f"${i + 3}" for i in range(len(cols)))
    sets = ", ".join(
        f"{c} = GREATEST(COALESCE(session_stats.{c}, 0), COALESCE(EXCLUDED.{c}, 0))"
        if c in _TOKENS
        else f"{c} = COALESCE(EXCLUDED.{c}, session_stats.{c})"
        for c in cols
    )
    await conn.execute(
        f"INSERT INTO session_stats (session_id, request_id, {', '.join(cols)}) VALUES ($1, $2, {marks}) "
        f"ON CONFLICT (session_id, request_id) DO UPDATE SET {sets}",
        ev.session_id,
        _t(ev.request_id),
        *values.values(),
    )


async def _raise_tokens(conn: Any, session_id: str, tokens: tuple[int, ...]) -> None:
    sets = ", ".join(f"{c} = GREATEST(COALESCE({c}, 0), ${i + 2})" for i, c in enumerate(_TOKENS))
    await conn.execute(f"UPDATE sessions SET {sets} WHERE session_id = $1", session_id, *map(_i, tokens))


async def _tool_call(
    conn: Any,
    ev: SessionEvent,
    tool_name: str,
    tool_call_id: str,
    execution_time_ms: int | None,
    input_size_bytes: int | None,
    output_size_bytes: int | None,
    success: bool | None,
    tool_arguments: str | None,
    model_name: str | None = None,
) -> None:
    await _ensure_session(conn, ev)
    key = (ev.session_id, _t(ev.request_id), _t(tool_call_id))
    if await _result_of_earlier_call(conn, key, _t(tool_name), execution_time_ms, output_size_bytes, success):
        return
    prior = await conn.fetchrow(
        "SELECT success FROM tool_call_executions WHERE session_id = $1 AND request_id = $2 "
        "AND tool_call_id = $3 FOR UPDATE",
        *key,
    )
    await conn.execute(
        "INSERT INTO tool_call_executions (session_id, request_id, tool_call_id, tool_name, tool_arguments, "
        "execution_time_ms, input_size_bytes, output_size_bytes, success) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (session_id, request_id, tool_call_id) "
        "DO UPDATE SET execution_time_ms = COALESCE(EXCLUDED.execution_time_ms, tool_call_executions.execution_time_ms), "
        "output_size_bytes = COALESCE(EXCLUDED.output_size_bytes, tool_call_executions.output_size_bytes), "
        "success = COALESCE(EXCLUDED.success, tool_call_executions.success), "
        "tool_arguments = COALESCE(tool_call_executions.tool_arguments, EXCLUDED.tool_arguments)",
        *key,
        _t(tool_name),
        _t(tool_arguments),
        _i(execution_time_ms),
        _i(input_size_bytes),
        _i(output_size_bytes),
        success,
    )
    new_call = 1 if prior is None else 0
    new_error = 1 if success is False and (prior is None or prior["success"] is not False) else 0
    await conn.execute(
        "INSERT INTO tool_stats (session_id, request_id, model_name, tool_name, call_count, "
        "avg_execution_time_ms, error_count, tool_arguments) VALUES ($1, $2, $3, $4, 1, $5, $6, $7) "
        "ON CONFLICT (session_id, request_id, tool_name) DO UPDATE SET "
        "call_count = tool_stats.call_count + $8, "
        "avg_execution_time_ms = COALESCE(EXCLUDED.avg_execution_time_ms, tool_stats.avg_execution_time_ms), "
        "error_count = tool_stats.error_count + $9, model_name = COALESCE(tool_stats.model_name, EXCLUDED.model_name), "
        "tool_arguments = COALESCE(tool_stats.tool_arguments, EXCLUDED.tool_arguments)",
        ev.session_id,
        _t(ev.request_id),
        _t(model_name),
        _t(tool_name),
        _i(execution_time_ms),
        1 if success is False else 0,
        _t(tool_arguments),
        new_call,
        new_error,
    )


async def _result_of_earlier_call(
    conn: Any,
    key: tuple[str, str | None, str | None],
    tool_name: str | None,
    execution_time_ms: int | None,
    output_size_bytes: int | None,
    success: bool | None,
) -> bool:
    """Merge a tool result into the row of the call it answers, made by an earlier request (the SQLite rule)."""
    session_id, request_id, call_id = key
    earlier = await conn.fetchrow(
        "SELECT request_id, success, tool_name FROM tool_call_executions WHERE session_id = $1 "
        "AND tool_call_id = $2 AND request_id <> $3 ORDER BY id LIMIT 1 FOR UPDATE",
        session_id,
        call_id,
        request_id,
    )
    if earlier is None:
        return False
    await conn.execute(
        "UPDATE tool_call_executions SET execution_time_ms = COALESCE($4, execution_time_ms), "
        "output_size_bytes = COALESCE($5, output_size_bytes), success = COALESCE($6, success) "
        "WHERE session_id = $1 AND request_id = $2 AND tool_call_id = $3",
        session_id,
        earlier["request_id"],
        call_id,
        _i(execution_time_ms),
        _i(output_size_bytes),
        success,
    )
    new_error = 1 if success is False and earlier["success"] is not False else 0
    await conn.execute(
        "UPDATE tool_stats SET error_count = error_count + $4, "
        "avg_execution_time_ms = COALESCE($5, avg_execution_time_ms) "
        "WHERE session_id = $1 AND request_id = $2 AND tool_name = $3",
        session_id,
        earlier["request_id"],
        earlier["tool_name"] or tool_name,
        new_error,
        _i(execution_time_ms),
    )
    return True


async def _tool_summary(conn: Any, ev: SessionEvent, by_tool: dict[str, ToolStats], merge: str) -> None:
    if not by_tool:
        return
    await _ensure_session(conn, ev)
    # Only the calls of this response; errors stay on the call a result answers (see the SQLite rules).
    if merge == "set":
        update = "call_count = EXCLUDED.call_count"
    else:
        update = "call_count = GREATEST(tool_stats.call_count, EXCLUDED.call_count)"
    for name, stats in by_tool.items():
        if stats.call_count <= 0:
            continue
        await conn.execute(
            "INSERT INTO tool_stats (session_id, request_id, tool_name, call_count, avg_execution_time_ms, "
            "error_count) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (session_id, request_id, tool_name) "
            f"DO UPDATE SET {update}, avg_execution_time_ms = EXCLUDED.avg_execution_time_ms",
            ev.session_id,
            _t(ev.request_id),
            _t(name),
            _i(stats.call_count),
            _i(stats.avg_execution_time_ms),
            _i(stats.error_count),
        )


async def _completed(conn: Any, ev: Completed) -> None:
    error = ev.error
    if error is None and ev.outcome not in (None, "ok"):
        error = ev.outcome
    await conn.execute(
        "UPDATE sessions SET completed_at = $2, success = $3, error_message = $4, finish_reason = $5, "
        "total_duration_ms = GREATEST(COALESCE((EXTRACT(EPOCH FROM ($2 - started_at)) * 1000)::BIGINT, 0), $6) "
        "WHERE session_id = $1",
        ev.session_id,
        ev.timestamp,
        ev.success,
        _t(error),
        _t(ev.finish_reason),
        _i(ev.total_duration_ms),
    )
    await _raise_tokens(
        conn,
        ev.session_id,
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
    )
    await _outcome_stats(conn, ev)
    if ev.total_tool_calls:
        await _tool_summary(conn, ev, ev.by_tool, "set")
    s = ev.streaming_stats
    if s is not None:
        await _ensure_session(conn, ev)
        await conn.execute(
            "INSERT INTO stream_metrics (session_id, request_id, time_to_first_token_ms, total_chunks, "
            "streaming_duration_ms, avg_chunk_latency_ms, p50_chunk_latency_ms, p95_chunk_latency_ms, "
            "p99_chunk_latency_ms, max_chunk_latency_ms, min_chunk_latency_ms) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT (session_id, request_id) DO UPDATE SET "
            "time_to_first_token_ms = EXCLUDED.time_to_first_token_ms, total_chunks = EXCLUDED.total_chunks, "
            "streaming_duration_ms = EXCLUDED.streaming_duration_ms, avg_chunk_latency_ms = EXCLUDED.avg_chunk_latency_ms, "
            "p50_chunk_latency_ms = EXCLUDED.p50_chunk_latency_ms, p95_chunk_latency_ms = EXCLUDED.p95_chunk_latency_ms, "
            "p99_chunk_latency_ms = EXCLUDED.p99_chunk_latency_ms, max_chunk_latency_ms = EXCLUDED.max_chunk_latency_ms, "
            "min_chunk_latency_ms = EXCLUDED.min_chunk_latency_ms",
            ev.session_id,
            _t(ev.request_id),
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


async def _response(conn: Any, ev: ResponseRecorded) -> None:
    await conn.execute(
        "UPDATE sessions SET response_text = $2, model_used = $3, output_tokens = $4, thinking_tokens = $5, "
        "reasoning_tokens = $6, input_tokens = $7, cache_read_tokens = $8, cache_creation_tokens = $9, "
        "audio_input_tokens = $10, audio_output_tokens = $11, provider_latency_ms = $12, chunk_count = $13, "
        "streaming_duration_ms = $14 WHERE session_id = $1",
        ev.session_id,
        _t(ev.response_text),
        _t(ev.model_used),
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
    )
    await _upsert_request_stats(
        conn,
        ev,
        {
            "model_name": _t(ev.model_used),
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
        if call.tool_call_id:
            await _tool_call(
                conn,
                ev,
                call.tool_name,
                call.tool_call_id,
                call.execution_time_ms,
                call.input_size_bytes,
                call.output_size_bytes,
                call.success,
                None,
                ev.model_used,
            )


async def _stats_updated(conn: Any, ev: StatsUpdated) -> None:
    t = ev.token_updates
    if t is not None:
        await _raise_tokens(
            conn,
            ev.session_id,
            (
                t.total_input,
                t.total_output,
                t.total_thinking,
                t.total_reasoning,
                t.total_cache_read or t.total_cached,
                t.total_cache_creation,
                t.total_audio_input,
                t.total_audio_output,
            ),
        )
    if ev.model_used is not None:
        await conn.execute(
            "UPDATE sessions SET model_used = COALESCE(model_used, $2) WHERE session_id = $1",
            ev.session_id,
            _t(ev.model_used),
        )
    tools = ev.tool_call_updates
    if tools is not None and tools.total_tool_calls > 0:
        await _tool_summary(conn, ev, tools.by_tool, "max")
    if ev.model_used is not None:
        output = t.total_output if t else 0
        thinking = t.total_thinking if t else 0
        await _upsert_request_stats(
            conn,
            ev,
            {
                "model_name": _t(ev.model_used),
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
                "has_tools": True if tools is not None and tools.total_tool_calls > 0 else None,
                "has_refusal": ev.has_refusal,
                "user_agent": _t(ev.user_agent),
            },
        )


async def apply_event(conn: Any, ev: SessionEvent) -> None:
    """Apply one event inside the caller's transaction on `conn` (an asyncpg connection)."""
    match ev:
        case Started():
            await _started(conn, ev)
            await _started_stats(conn, ev)
        case RequestRecorded():
            await conn.execute(
                "UPDATE sessions SET request_text = $2 WHERE session_id = $1", ev.session_id, _t(ev.request_text)
            )
            await _request_stats(conn, ev)
        case StreamStarted():
            await conn.execute(
                "UPDATE sessions SET time_to_first_token_ms = $2 WHERE session_id = $1",
                ev.session_id,
                _i(ev.time_to_first_token_ms),
            )
        case ResponseRecorded():
            await _response(conn, ev)
        case ToolCallRecorded():
            await _tool_call(
                conn,
                ev,
                ev.tool_name,
                ev.tool_call_id,
                ev.execution_time_ms,
                ev.input_size_bytes,
                ev.output_size_bytes,
                ev.success,
                ev.tool_arguments,
            )
        case Completed():
            await _completed(conn, ev)
        case StatsUpdated():
            await _stats_updated(conn, ev)
