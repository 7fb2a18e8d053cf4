"""The SQLite write rules of tool calls: one `tool_call_executions` row per call (its result, arriving with the
next request, merged into it) and the per-request `tool_stats` summary (see `_sqlite_rules`)."""

from __future__ import annotations

from lunaroute.recording._sqlite_batch import Batch, _ensure_session, _i
from lunaroute.recording.events import SessionEvent, ToolStats


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
    request_id = b.text(ev.request_id)
    tool_name, tool_arguments = b.text(tool_name), b.text(tool_arguments)
    key = (ev.session_id, request_id, b.text(tool_call_id))
    if _result_of_earlier_call(b, key, tool_name, execution_time_ms, output_size_bytes, success):
        return
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
            request_id,
            b.text(model_name),
            tool_name,
            _i(execution_time_ms),
            1 if success is False else 0,
            tool_arguments,
            new_call,
            new_error,
        ),
    )


def _result_of_earlier_call(
    b: Batch,
    key: tuple[str, str, str],
    tool_name: str,
    execution_time_ms: int | None,
    output_size_bytes: int | None,
    success: bool | None,
) -> bool:
    """Merge a tool result into the row of the call it answers, made by an earlier request of the session.

    A call and its result arrive in two requests (the result in the next one); both are one call. The result
    fills in the call's execution time, output size and success, and a failure counts on the call's
    `tool_stats` row; nothing new is counted. False when no other request of the session made this call
    (the row of this request is then written as usual).
    """
    session_id, request_id, call_id = key
    earlier = b.conn.execute(
        "SELECT request_id, success, tool_name FROM tool_call_executions WHERE session_id = ? AND tool_call_id = ? "
        "AND request_id != ? ORDER BY id LIMIT 1",
        (session_id, call_id, request_id),
    ).fetchone()
    if earlier is None:
        return False
    call_request, prior_success, call_tool = earlier
    b.conn.execute(
        "UPDATE tool_call_executions SET execution_time_ms = COALESCE(?, execution_time_ms), "
        "output_size_bytes = COALESCE(?, output_size_bytes), success = COALESCE(?, success) "
        "WHERE session_id = ? AND request_id = ? AND tool_call_id = ?",
        (_i(execution_time_ms), _i(output_size_bytes), success, session_id, call_request, call_id),
    )
    new_error = 1 if success is False and prior_success != 0 else 0
    b.conn.execute(
        "UPDATE tool_stats SET error_count = error_count + ?, "
        "avg_execution_time_ms = COALESCE(?, avg_execution_time_ms) "
        "WHERE session_id = ? AND request_id = ? AND tool_name = ?",
        (new_error, _i(execution_time_ms), session_id, call_request, call_tool or tool_name),
    )
    return True


def _tool_summary(b: Batch, ev: SessionEvent, by_tool: dict[str, ToolStats], merge: str) -> None:
    """Upsert per-tool call totals: `merge` is `set` (completed) or `max` (stats_updated).

    Only tools this request's response called are written. Errors belong to the call a result answers (see
    `_result_of_earlier_call`), so an existing row keeps its `error_count`; a new row (a file written by
    another recorder, without `tool_call_recorded` events) takes the summary's.
    """
    if not by_tool:
        return
    _ensure_session(b, ev)
    if merge == "set":
        update = "call_count = excluded.call_count"
    else:
        update = "call_count = MAX(call_count, excluded.call_count)"
    for name, stats in by_tool.items():
        if stats.call_count <= 0:
            continue
        b.conn.execute(
            "INSERT INTO tool_stats (session_id, request_id, tool_name, call_count, avg_execution_time_ms, "
            "error_count) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(session_id, request_id, tool_name) DO UPDATE SET "
            f"{update}, avg_execution_time_ms = excluded.avg_execution_time_ms",
            (
                ev.session_id,
                b.text(ev.request_id),
                b.text(name),
                _i(stats.call_count),
                _i(stats.avg_execution_time_ms),
                _i(stats.error_count),
            ),
        )
