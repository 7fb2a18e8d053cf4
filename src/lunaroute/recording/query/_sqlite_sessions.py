"""Blocking SQLite queries over single sessions: the listing, one session with its rows, its timeline.

Each function takes an open read-only connection and runs in a worker thread (see `_sqlite_conn`).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

import msgspec

from lunaroute.recording.query._models import (
    AttemptRow,
    Order,
    PriceFn,
    RequestRow,
    SessionDetail,
    SessionFilter,
    SessionPage,
    SessionToolStats,
    SortKey,
    StreamMetricRow,
    TimelineEntry,
    TimelinePage,
    TokenCounts,
    ToolBreakdown,
    ToolCallRow,
    ToolStatRow,
)
from lunaroute.recording.query._sql import (
    OUTCOME_SUMS,
    SUMMARY_COLUMNS,
    TOKEN_COLUMNS,
    TOKEN_SUMS,
    parse_ts,
    price_sum,
    session_where,
    summary_from_row,
    tokens_at,
)

__all__ = ["get_session", "list_sessions", "session_tools", "timeline"]

_PAGE_COLUMNS = ", ".join(f"p.{c.removeprefix('s.')}" for c in SUMMARY_COLUMNS.split(", "))
_SS_TOKENS = ", ".join(f"ss.{c}" for c in TOKEN_COLUMNS)


_ATTEMPTS = msgspec.json.Decoder(tuple[AttemptRow, ...])


def _has_outcomes(conn: sqlite3.Connection) -> bool:
    """Whether `session_stats` has the per-request outcome columns (a database our writer has not opened since
    they were added, or one written by another tool, may lack them)."""
    return {"provider", "success", "attempts"} <= {r[1] for r in conn.execute("PRAGMA table_info(session_stats)")}


def _attempts(text: object) -> tuple[AttemptRow, ...]:
    if not isinstance(text, str) or not text:
        return ()
    try:
        return _ATTEMPTS.decode(text)
    except msgspec.DecodeError:
        return ()


def _costs(conn: sqlite3.Connection, price: PriceFn | None, ids: Sequence[str]) -> dict[str, float | None]:
    """Per-session cost of `ids`, priced per (provider, request model)."""
    if price is None or not ids:
        return {}
    marks = ", ".join("?" for _ in ids)
    rows = conn.execute(
        f"SELECT ss.session_id, s.provider, ss.model_name, {TOKEN_SUMS} FROM session_stats ss "
        f"JOIN sessions s ON s.session_id = ss.session_id WHERE ss.session_id IN ({marks}) "
        "GROUP BY ss.session_id, s.provider, ss.model_name",
        tuple(ids),
    ).fetchall()
    grouped: dict[str, list[tuple[str, str, TokenCounts]]] = {}
    for row in rows:
        grouped.setdefault(row[0], []).append((str(row[1]), str(row[2]), tokens_at(row, 3)))
    return {sid: price_sum(price, items) for sid, items in grouped.items()}


_SORT_SQL: dict[SortKey, str] = {
    "started": "{t}.started_at",
    "session": "{t}.session_id",
    "client": "{t}.user_agent",
    "model": "COALESCE({t}.model_used, {t}.model_requested)",
    "duration": "{t}.total_duration_ms",
    "status": "{t}.success",
}
"""Order expressions over the `sessions` columns of table alias `{t}` (literals only, never the caller's text)."""


def _order(sort: SortKey, descending: bool, table: str) -> str:
    direction = "DESC" if descending else "ASC"
    first = _SORT_SQL[sort].format(t=table)
    return f"{first} {direction}, {table}.started_at DESC, {table}.session_id DESC"


def list_sessions(
    conn: sqlite3.Connection,
    flt: SessionFilter,
    offset: int,
    limit: int,
    price: PriceFn | None,
    sort: SortKey = "started",
    descending: bool = True,
) -> SessionPage:
    where, params = session_where(flt)
    (total,) = conn.execute(f"SELECT COUNT(*) FROM sessions s WHERE {where}", params).fetchone()
    outcomes = f", {OUTCOME_SUMS}" if _has_outcomes(conn) else ""
    rows = conn.execute(
        f"WITH p AS (SELECT {SUMMARY_COLUMNS} FROM sessions s WHERE {where} "
        f"ORDER BY {_order(sort, descending, 's')} LIMIT ? OFFSET ?) "
        f"SELECT {_PAGE_COLUMNS}, COUNT(ss.id), {TOKEN_SUMS}{outcomes} FROM p "
        "LEFT JOIN session_stats ss ON ss.session_id = p.session_id "
        f"GROUP BY p.session_id ORDER BY {_order(sort, descending, 'p')}",
        (*params, limit, offset),
    ).fetchall()
    costs = _costs(conn, price, [r[0] for r in rows])
    previews = _previews(conn, [r[0] for r in rows])
    sessions = tuple(
        msgspec.structs.replace(summary_from_row(r, costs.get(r[0])), prompt_preview=previews.get(r[0])) for r in rows
    )
    return SessionPage(sessions=sessions, offset=offset, limit=limit, total=int(total))


PREVIEW_CHARS = 160


def _previews(conn: sqlite3.Connection, ids: Sequence[str]) -> dict[str, str]:
    """The start of each session's latest prompt, on one line."""
    if not ids:
        return {}
    marks = ", ".join("?" for _ in ids)
    rows = conn.execute(
        f"SELECT session_id, substr(request_text, 1, {PREVIEW_CHARS * 2}) FROM sessions "
        f"WHERE session_id IN ({marks}) AND request_text IS NOT NULL AND request_text != ''",
        tuple(ids),
    ).fetchall()
    return {sid: " ".join(str(text).split())[:PREVIEW_CHARS] for sid, text in rows}


def _request_rows(conn: sqlite3.Connection, session_id: str) -> tuple[RequestRow, ...]:
    rows = conn.execute(
        f"SELECT ss.request_id, ss.model_name, ss.created_at, {_SS_TOKENS}, ss.pre_processing_ms, "
        "ss.post_processing_ms, ss.proxy_overhead_ms, ss.tokens_per_second, ss.thinking_percentage, "
        "ss.request_size_bytes, ss.response_size_bytes, ss.message_count, ss.content_blocks, ss.has_tools, "
        "ss.has_refusal, ss.user_agent, "
        + ("ss.provider, ss.success, ss.attempts" if _has_outcomes(conn) else "NULL, NULL, NULL")
        + " FROM session_stats ss WHERE ss.session_id = ? ORDER BY ss.id",
        (session_id,),
    ).fetchall()
    out = []
    for r in rows:
        tokens = tokens_at(r, 3)
        out.append(
            RequestRow(
                request_id=r[0],
                model_name=str(r[1] or ""),
                created_at=parse_ts(r[2]),
                tokens=tokens,
                total_tokens=tokens.total,
                pre_processing_ms=r[11],
                post_processing_ms=r[12],
                proxy_overhead_ms=r[13],
                tokens_per_second=r[14],
                thinking_percentage=r[15],
                request_size_bytes=r[16],
                response_size_bytes=r[17],
                message_count=r[18],
                content_blocks=r[19],
                has_tools=bool(r[20]),
                has_refusal=bool(r[21]),
                user_agent=r[22],
                provider=r[23],
                success=None if r[24] is None else bool(r[24]),
                attempts=_attempts(r[25]),
            )
        )
    return tuple(out)


def _tool_rows(conn: sqlite3.Connection, session_id: str) -> tuple[ToolStatRow, ...]:
    rows = conn.execute(
        "SELECT request_id, model_name, tool_name, call_count, error_count, avg_execution_time_ms, tool_arguments "
        "FROM tool_stats WHERE session_id = ? ORDER BY id",
        (session_id,),
    ).fetchall()
    return tuple(
        ToolStatRow(
            request_id=t[0],
            model_name=t[1],
            tool_name=t[2],
            call_count=int(t[3] or 0),
            error_count=int(t[4] or 0),
            avg_execution_time_ms=t[5],
            tool_arguments=t[6],
        )
        for t in rows
    )


def _call_rows(conn: sqlite3.Connection, session_id: str) -> tuple[ToolCallRow, ...]:
    rows = conn.execute(
        "SELECT request_id, tool_call_id, tool_name, tool_arguments, execution_time_ms, input_size_bytes, "
        "output_size_bytes, success, created_at FROM tool_call_executions WHERE session_id = ? ORDER BY id",
        (session_id,),
    ).fetchall()
    return tuple(
        ToolCallRow(
            request_id=c[0],
            tool_call_id=c[1],
            tool_name=c[2],
            tool_arguments=c[3],
            execution_time_ms=c[4],
            input_size_bytes=c[5],
            output_size_bytes=c[6],
            success=None if c[7] is None else bool(c[7]),
            created_at=parse_ts(c[8]),
        )
        for c in rows
    )


def _metric_rows(conn: sqlite3.Connection, session_id: str) -> tuple[StreamMetricRow, ...]:
    rows = conn.execute(
        "SELECT request_id, time_to_first_token_ms, total_chunks, streaming_duration_ms, avg_chunk_latency_ms, "
        "p50_chunk_latency_ms, p95_chunk_latency_ms, p99_chunk_latency_ms, max_chunk_latency_ms, "
        "min_chunk_latency_ms FROM stream_metrics WHERE session_id = ? ORDER BY id",
        (session_id,),
    ).fetchall()
    return tuple(
        StreamMetricRow(
            request_id=m[0],
            time_to_first_token_ms=int(m[1] or 0),
            total_chunks=int(m[2] or 0),
            streaming_duration_ms=int(m[3] or 0),
            avg_chunk_latency_ms=m[4],
            p50_chunk_latency_ms=m[5],
            p95_chunk_latency_ms=m[6],
            p99_chunk_latency_ms=m[7],
            max_chunk_latency_ms=m[8],
            min_chunk_latency_ms=m[9],
        )
        for m in rows
    )


def get_session(conn: sqlite3.Connection, session_id: str, price: PriceFn | None) -> SessionDetail | None:
    row = conn.execute(
        f"SELECT {SUMMARY_COLUMNS}, s.request_id, s.request_text, s.response_text, s.client_ip, "
        "s.provider_latency_ms, s.time_to_first_token_ms, s.chunk_count, s.streaming_duration_ms "
        "FROM sessions s WHERE s.session_id = ?",
        (session_id,),
    ).fetchone()
    if row is None:
        return None
    requests = _request_rows(conn, session_id)
    sums = [sum(getattr(r.tokens, f) for r in requests) for f in TokenCounts.__struct_fields__]
    failed = sum(r.success is False for r in requests)
    fallbacks = [r.provider for r in requests if r.attempts]
    summary = summary_from_row(
        (*row[:21], len(requests), *sums, failed, len(fallbacks), fallbacks[-1] if fallbacks else None),
        _costs(conn, price, [session_id]).get(session_id),
    )
    extra = row[21:]
    return SessionDetail(
        summary=summary,
        request_id=extra[0],
        request_text=extra[1],
        response_text=extra[2],
        client_ip=extra[3],
        provider_latency_ms=extra[4],
        time_to_first_token_ms=extra[5],
        chunk_count=extra[6],
        streaming_duration_ms=extra[7],
        requests=requests,
        tools=_tool_rows(conn, session_id),
        tool_calls=_call_rows(conn, session_id),
        stream_metrics=_metric_rows(conn, session_id),
    )


def _exists(conn: sqlite3.Connection, session_id: str) -> bool:
    return conn.execute("SELECT 1 FROM sessions WHERE session_id = ?", (session_id,)).fetchone() is not None


def timeline(conn: sqlite3.Connection, session_id: str, offset: int, limit: int, order: Order) -> TimelinePage | None:
    if not _exists(conn, session_id):
        return None
    (total,) = conn.execute("SELECT COUNT(*) FROM session_stats WHERE session_id = ?", (session_id,)).fetchone()
    direction = "DESC" if order == "desc" else "ASC"  # one of two literals, never the caller's text
    rows = conn.execute(
        f"SELECT ss.request_id, ss.created_at, ss.model_name, {_SS_TOKENS}, ss.response_size_bytes, ss.has_refusal, "
        "(SELECT COALESCE(SUM(t.call_count), 0) FROM tool_stats t "
        " WHERE t.session_id = ss.session_id AND t.request_id = ss.request_id), "
        "(SELECT m.time_to_first_token_ms FROM stream_metrics m "
        " WHERE m.session_id = ss.session_id AND m.request_id = ss.request_id LIMIT 1) "
        f"FROM session_stats ss WHERE ss.session_id = ? ORDER BY ss.id {direction} LIMIT ? OFFSET ?",
        (session_id, limit, offset),
    ).fetchall()
    entries = []
    for i, r in enumerate(rows):
        tokens = tokens_at(r, 3)
        position = offset + i + 1 if order == "asc" else int(total) - offset - i
        entries.append(
            TimelineEntry(
                index=position,
                request_id=r[0],
                created_at=parse_ts(r[1]),
                model_name=str(r[2] or ""),
                tokens=tokens,
                total_tokens=tokens.total,
                response_size_bytes=r[11],
                has_refusal=bool(r[12]),
                tool_calls=int(r[13] or 0),
                time_to_first_token_ms=r[14],
            )
        )
    return TimelinePage(entries=tuple(entries), offset=offset, limit=limit, order=order, total=int(total))


def session_tools(conn: sqlite3.Connection, session_id: str) -> SessionToolStats | None:
    if not _exists(conn, session_id):
        return None
    rows = conn.execute(
        "SELECT tool_name, SUM(call_count), SUM(error_count) FROM tool_stats WHERE session_id = ? "
        "GROUP BY tool_name ORDER BY 2 DESC, tool_name",
        (session_id,),
    ).fetchall()
    requests, with_tools = conn.execute(
        "SELECT COUNT(*), COUNT(DISTINCT t.request_id) FROM session_stats ss LEFT JOIN "
        "(SELECT DISTINCT request_id FROM tool_stats WHERE session_id = ?) t ON t.request_id = ss.request_id "
        "WHERE ss.session_id = ?",
        (session_id, session_id),
    ).fetchone()
    total = sum(int(r[1] or 0) for r in rows)
    return SessionToolStats(
        total_tool_calls=total,
        tool_usage_percentage=100.0 * with_tools / requests if requests else 0.0,
        by_tool=tuple(
            ToolBreakdown(
                tool_name=r[0],
                call_count=int(r[1] or 0),
                error_count=int(r[2] or 0),
                percentage=100.0 * int(r[1] or 0) / total if total else 0.0,
            )
            for r in rows
        ),
    )
