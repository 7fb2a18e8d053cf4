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
call raises `tool_stats.call_count` / `error_count` only when its execution row is new / newly failed. A tool
result (which arrives with the next request) is merged into the row of the call it answers: one call, one row.
Child rows of a session whose `started` never arrived get a placeholder session row (empty provider,
listener and model) that a later `started` fills in, so a foreign key can never fail a batch.

Within one transaction the writes to a session's `sessions` row are gathered where that changes nothing but the
work: the plain assignments of `request_recorded`, `stream_started` and `response_recorded` wait (`Batch.later`)
and go out with the session's `completed` update, or on their own before any other statement on that row and at
the end of the transaction. Which of the batch's requests already have a `session_stats` or `stream_metrics`
row is asked once per transaction (`prepare`), so a new row is inserted without first trying to update it.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import msgspec

from lunaroute.recording._sqlite_batch import Batch, _ensure_session, _i, _ts
from lunaroute.recording._sqlite_merge import RowWrite
from lunaroute.recording._sqlite_tools import _tool_call, _tool_summary
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
)

__all__ = ["Batch", "apply_event", "prepare"]

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


def _started(b: Batch, ev: Started) -> None:
    b.flush(ev.session_id)
    b.sessions.add(ev.session_id)
    b.conn.execute(
        "INSERT INTO sessions (session_id, request_id, started_at, model_requested, provider, listener, "
        "client_ip, user_agent, is_streaming, key_id, key_name, team) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT(session_id) DO UPDATE SET request_id = excluded.request_id, "
        "started_at = excluded.started_at, model_requested = excluded.model_requested, "
        "provider = excluded.provider, listener = excluded.listener, client_ip = excluded.client_ip, "
        "user_agent = excluded.user_agent, is_streaming = excluded.is_streaming, key_id = excluded.key_id, "
        "key_name = excluded.key_name, team = excluded.team "
        "WHERE sessions.provider = '' AND sessions.listener = '' AND sessions.model_requested = ''",
        (
            ev.session_id,
            b.text(ev.request_id),
            _ts(ev),
            b.text(ev.model_requested),
            b.text(ev.provider),
            b.text(ev.listener),
            b.text(ev.client_ip),
            b.text(ev.user_agent),
            ev.is_streaming,
            b.text(ev.key_id),
            b.text(ev.key_name),
            b.text(ev.team),
        ),
    )
    _started_stats(b, ev)


_STARTED_STATS = RowWrite(
    "UPDATE session_stats SET user_agent = COALESCE(user_agent, ?) WHERE session_id = ? AND request_id = ?",
    "INSERT INTO session_stats (session_id, request_id, model_name, user_agent) VALUES (?, ?, ?, ?)",
    ("model_name", "user_agent"),
    ("insert_only", "old_or_new"),
)
_REQUEST_STATS = RowWrite(
    "UPDATE session_stats SET request_size_bytes = ?, message_count = ?, has_tools = MAX(COALESCE(has_tools, 0), ?), "
    "pre_processing_ms = ? WHERE session_id = ? AND request_id = ?",
    "INSERT INTO session_stats (session_id, request_id, model_name, request_size_bytes, message_count, has_tools, "
    "pre_processing_ms) VALUES (?, ?, '', ?, ?, ?, ?)",
    ("request_size_bytes", "message_count", "has_tools", "pre_processing_ms"),
    ("set", "set", "max", "set"),
    (("model_name", ""),),
)


_OUTCOME_TOKENS = _TOKENS[:6]
"""The token columns `completed` carries (no audio): raised to at least its totals, so a request without a
`response_recorded` (embeddings, legacy completions) still counts its tokens."""
_OUTCOME_STATS = RowWrite(
    "UPDATE session_stats SET provider = COALESCE(?, provider), success = ?, attempts = ?, status_code = ?, "
    f"duration_ms = ?, {', '.join(f'{c} = MAX(COALESCE({c}, 0), ?)' for c in _OUTCOME_TOKENS)} "
    "WHERE session_id = ? AND request_id = ?",
    "INSERT INTO session_stats (session_id, request_id, model_name, provider, success, attempts, status_code, "
    f"duration_ms, {', '.join(_OUTCOME_TOKENS)}) VALUES (?, ?, '', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    ("provider", "success", "attempts", "status_code", "duration_ms", *_OUTCOME_TOKENS),
    ("new_or_old", "set", "set", "set", "set", "max", "max", "max", "max", "max", "max"),
    (("model_name", ""),),
)


def _outcome_stats(b: Batch, ev: Completed) -> None:
    """How the request ended: the provider that answered, success, the attempts given up before it, the status
    the client got, how long it took, and its token totals (see `_OUTCOME_TOKENS`)."""
    attempts = msgspec.json.encode(ev.attempts).decode() if ev.attempts else None
    tokens = (
        ev.total_input,
        ev.total_output,
        ev.total_thinking,
        ev.total_reasoning,
        ev.total_cache_read,
        ev.total_cache_creation,
    )
    values = (
        b.text(ev.provider),
        ev.success,
        b.text(attempts),
        _i(ev.status),
        _i(ev.total_duration_ms),
        *map(_i, tokens),
    )
    _upsert_row(b, ev, "session_stats", _OUTCOME_STATS, values)


def _started_stats(b: Batch, ev: Started) -> None:
    """Every request has its `session_stats` row from its start, so one that fails before an answer counts too;
    its model is the requested one until `response_recorded` names the model used."""
    write = _STARTED_STATS
    session_id, request_id, user_agent = ev.session_id, b.text(ev.request_id), b.text(ev.user_agent)
    if b.merge_row(ev, request_id, write, (b.text(ev.model_requested), user_agent)):
        return
    key = ("session_stats", session_id, request_id)
    if b.exists(key) is not False and b.conn.execute(write.update, (user_agent, session_id, request_id)).rowcount:
        return
    b.insert_rows()
    b.conn.execute(write.insert, (session_id, request_id, b.text(ev.model_requested), user_agent))
    b.checked.add(key)
    b.present.add(key)


def _request_stats(b: Batch, ev: RequestRecorded) -> None:
    """What the request said of itself: its size, message count, whether it offered tools, the time before it
    was sent upstream."""
    values = (_i(ev.request_size_bytes), _i(ev.message_count), ev.has_tools, ev.pre_processing_ms)
    _upsert_row(b, ev, "session_stats", _REQUEST_STATS, values)


@functools.lru_cache(maxsize=16)
def _request_stats_sql(columns: tuple[str, ...]) -> RowWrite:
    """The UPDATE merging `columns` into a `session_stats` row (tokens by MAX, others when not null), and the
    INSERT creating it."""
    sets = ", ".join(
        f"{c} = MAX(COALESCE({c}, 0), COALESCE(?, 0))" if c in _TOKENS else f"{c} = COALESCE(?, {c})" for c in columns
    )
    marks = ", ".join("?" for _ in columns)
    return RowWrite(
        f"UPDATE session_stats SET {sets} WHERE session_id = ? AND request_id = ?",
        f"INSERT INTO session_stats (session_id, request_id, {', '.join(columns)}) VALUES (?, ?, {marks})",
        columns,
        tuple("max_or_zero" if c in _TOKENS else "new_or_old" for c in columns),
    )


def _upsert_row(b: Batch, ev: SessionEvent, table: str, write: RowWrite, values: tuple[object, ...]) -> None:
    """Update the request's row of `table` (`write.update` binds `values` then the key), or insert it
    (`write.insert` binds the key then `values`); a `session_stats` row this transaction creates is merged in
    memory instead (`Batch.merge_row`)."""
    session_id, request_id = ev.session_id, b.text(ev.request_id)
    if table == "session_stats" and b.merge_row(ev, request_id, write, values):
        return
    key = (table, session_id, request_id)
    params = (*write.update_values(values), session_id, request_id)
    if b.exists(key) is not False and b.conn.execute(write.update, params).rowcount:
        return
    _ensure_session(b, ev)
    if table == "session_stats":
        b.insert_rows()
    b.conn.execute(write.insert, (session_id, request_id, *values))
    b.checked.add(key)
    b.present.add(key)


def _upsert_request_stats(b: Batch, ev: SessionEvent, values: dict[str, object]) -> None:
    """Merge `values` into the request's `session_stats` row: tokens by MAX, other columns when not null."""
    _upsert_row(b, ev, "session_stats", _request_stats_sql(tuple(values)), tuple(values.values()))


_RAISE_TOKENS = ", ".join(f"{c} = MAX(COALESCE({c}, 0), ?)" for c in _TOKENS)


def _raise_tokens(
    b: Batch, ev: SessionEvent, tokens: Sequence[int], *, also: str = "", params: tuple[object, ...] = ()
) -> None:
    """Raise the session's token columns to at least `tokens` (and apply the `also` assignments)."""
    b.flush(ev.session_id)
    b.conn.execute(
        f"UPDATE sessions SET {also}{_RAISE_TOKENS} WHERE session_id = ?",
        (*params, *map(_i, tokens), ev.session_id),
    )


_STREAM_COLUMNS = (
    "time_to_first_token_ms, total_chunks, streaming_duration_ms, avg_chunk_latency_ms, p50_chunk_latency_ms, "
    "p95_chunk_latency_ms, p99_chunk_latency_ms, max_chunk_latency_ms, min_chunk_latency_ms"
)
_STREAM_METRICS = RowWrite(
    f"UPDATE stream_metrics SET {', '.join(f'{c} = ?' for c in _STREAM_COLUMNS.split(', '))} "
    "WHERE session_id = ? AND request_id = ?",
    f"INSERT INTO stream_metrics (session_id, request_id, {_STREAM_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    tuple(_STREAM_COLUMNS.split(", ")),
    ("set",) * 9,
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
    _upsert_row(b, ev, "stream_metrics", _STREAM_METRICS, values)


def _response(b: Batch, ev: ResponseRecorded) -> None:
    b.later(
        ev.session_id,
        {
            "response_text": b.text(ev.response_text),
            "model_used": b.text(ev.model_used),
            "output_tokens": _i(ev.output_tokens),
            "thinking_tokens": _i(ev.thinking_tokens),
            "reasoning_tokens": _i(ev.reasoning_tokens),
            "input_tokens": _i(ev.input_tokens),
            "cache_read_tokens": _i(ev.cache_read_tokens),
            "cache_creation_tokens": _i(ev.cache_creation_tokens),
            "audio_input_tokens": _i(ev.audio_input_tokens),
            "audio_output_tokens": _i(ev.audio_output_tokens),
            "provider_latency_ms": _i(ev.provider_latency_ms),
            "chunk_count": _i(ev.chunk_count),
            "streaming_duration_ms": _i(ev.streaming_duration_ms),
        },
    )
    _upsert_request_stats(
        b,
        ev,
        {
            "model_name": b.text(ev.model_used),
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


_COMPLETED_SETS = (
    "completed_at = ?, success = ?, error_message = ?, finish_reason = ?, total_duration_ms = "
    "MAX(COALESCE(CAST(ROUND((julianday(?) - julianday(started_at)) * 86400000) AS INTEGER), 0), ?)"
)
"""`total_duration_ms` is rounded, not truncated: a julianday difference is a float a few microseconds off (500 ms
would read 499), and PostgreSQL's writer rounds the same difference."""
_COMPLETED_OWN = frozenset({"completed_at", "success", "error_message", "finish_reason", "total_duration_ms"})


@functools.lru_cache(maxsize=64)
def _completed_sql(waiting: tuple[str, ...]) -> str:
    """The `completed` update of a session row with the assignments `waiting` for it folded in: a waiting token
    value stands where the update reads the column; a column the update assigns itself takes its value."""
    tokens = [f"{c} = MAX(COALESCE(?, 0), ?)" if c in waiting else f"{c} = MAX(COALESCE({c}, 0), ?)" for c in _TOKENS]
    rest = [f"{c} = ?" for c in waiting if c not in _TOKENS and c not in _COMPLETED_OWN]
    return f"UPDATE sessions SET {', '.join([_COMPLETED_SETS, *tokens, *rest])} WHERE session_id = ?"


def _completed(b: Batch, ev: Completed) -> None:
    error = ev.error
    if error is None and ev.outcome not in (None, "ok"):
        error = ev.outcome
    ts = _ts(ev)
    if "started_at" in b.pending.get(ev.session_id, ()):
        b.flush(ev.session_id)  # the update reads it
    waiting = b.pending.pop(ev.session_id, {})
    totals = (
        ev.total_input,
        ev.total_output,
        ev.total_thinking,
        ev.total_reasoning,
        ev.total_cache_read,
        ev.total_cache_creation,
        ev.total_audio_input,
        ev.total_audio_output,
    )
    params: list[object] = [ts, ev.success, b.text(error), b.text(ev.finish_reason), ts, _i(ev.total_duration_ms)]
    for column, total in zip(_TOKENS, totals, strict=True):
        if column in waiting:
            params.append(waiting[column])
        params.append(_i(total))
    params += [v for c, v in waiting.items() if c not in _TOKENS and c not in _COMPLETED_OWN]
    params.append(ev.session_id)
    b.conn.execute(_completed_sql(tuple(waiting)), params)
    _outcome_stats(b, ev)
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
            params=(b.text(ev.model_used),),
        )
    elif ev.model_used is not None:
        b.flush(ev.session_id)
        b.conn.execute(
            "UPDATE sessions SET model_used = COALESCE(model_used, ?) WHERE session_id = ?",
            (b.text(ev.model_used), ev.session_id),
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
                "model_name": b.text(ev.model_used),
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
                "user_agent": b.text(ev.user_agent),
            },
        )


def _per_request_rows(b: Batch, ev: SessionEvent) -> tuple[str, str, str] | None:
    """The per-request row `ev` updates or inserts, if any."""
    match ev:
        case Started() | RequestRecorded() | ResponseRecorded() | StatsUpdated(model_used=str()):
            return ("session_stats", ev.session_id, b.text(ev.request_id))
        case Completed(streaming_stats=StreamingStats()):
            return ("stream_metrics", ev.session_id, b.text(ev.request_id))
    return None


_PRESENT_CHUNK = 200


def prepare(b: Batch, events: Sequence[SessionEvent]) -> None:
    """Find out, with one query per table, which per-request rows the events will write already exist."""
    wanted: dict[str, set[tuple[str, str]]] = {}
    for ev in events:
        key = _per_request_rows(b, ev)
        if key is not None:
            wanted.setdefault(key[0], set()).add(key[1:])
    for table, keys in wanted.items():
        ordered = sorted(keys)
        for at in range(0, len(ordered), _PRESENT_CHUNK):
            chunk = ordered[at : at + _PRESENT_CHUNK]
            rows = b.conn.execute(
                f"WITH k(s, r) AS (VALUES {', '.join('(?, ?)' for _ in chunk)}) SELECT DISTINCT k.s, k.r FROM k "
                f"JOIN {table} t ON t.session_id = k.s AND t.request_id = k.r",
                [v for pair in chunk for v in pair],
            ).fetchall()
            b.checked.update((table, s, r) for s, r in chunk)
            b.present.update((table, s, r) for s, r in rows)


def apply_event(b: Batch, ev: SessionEvent) -> None:
    """Apply one event inside the caller's transaction (`b` lives as long as that transaction)."""
    match ev:
        case Started():
            _started(b, ev)
        case RequestRecorded():
            b.later(ev.session_id, {"request_text": b.text(ev.request_text)})
            _request_stats(b, ev)
        case StreamStarted():
            b.later(ev.session_id, {"time_to_first_token_ms": _i(ev.time_to_first_token_ms)})
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
