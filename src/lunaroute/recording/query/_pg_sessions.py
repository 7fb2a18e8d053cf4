"""PostgreSQL queries over single sessions: the listing, one session with its rows, its timeline.

Each function takes an asyncpg connection and mirrors its `_sqlite_sessions` twin query for query, so both
stores answer alike (see `_pg_sql` for how the dialects are reconciled).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

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
from lunaroute.recording.query._pg_sql import OUTCOME_SUMS, TOKEN_SUMS, session_where
from lunaroute.recording.query._sql import (
    SUMMARY_COLUMNS,
    TOKEN_COLUMNS,
    parse_ts,
    price_sum,
    summary_from_row,
    tokens_at,
)

__all__ = ["PREVIEW_CHARS", "get_session", "list_sessions", "session_tools", "timeline"]

PREVIEW_CHARS = 160
_PAGE_COLUMNS = ", ".join(f"p.{c.removeprefix('s.')}" for c in SUMMARY_COLUMNS.split(", "))
_SS_TOKENS = ", ".join(f"ss.{c}" for c in TOKEN_COLUMNS)
_CREATED = "date_trunc('second', {t}created_at)"
"""`created_at` at SQLite's resolution (whole seconds)."""
_ATTEMPTS = msgspec.json.Decoder(tuple[AttemptRow, ...])


def _attempts(text: object) -> tuple[AttemptRow, ...]:
    if not isinstance(text, str) or not text:
        return ()
    try:
        return _ATTEMPTS.decode(text)
    except msgspec.DecodeError:
        return ()


async def _costs(conn: Any, price: PriceFn | None, ids: Sequence[str]) -> dict[str, float | None]:
    """Per-session cost of `ids`, priced per (provider, request model) in the order SQLite groups them."""
    if price is None or not ids:
        return {}
    rows = await conn.fetch(
        f"SELECT ss.session_id, s.provider, ss.model_name, {TOKEN_SUMS} FROM session_stats ss "
        "JOIN sessions s ON s.session_id = ss.session_id WHERE ss.session_id = ANY($1::text[]) "
        'GROUP BY ss.session_id, s.provider, ss.model_name ORDER BY ss.session_id COLLATE "C", '
        's.provider COLLATE "C", ss.model_name COLLATE "C"',
        list(ids),
    )
    grouped: dict[str, list[tuple[str, str, TokenCounts]]] = {}
    for row in rows:
        grouped.setdefault(row[0], []).append((str(row[1]), str(row[2]), tokens_at(tuple(row), 3)))
    return {sid: price_sum(price, items) for sid, items in grouped.items()}


_SORT_SQL: dict[SortKey, str] = {
    "started": "{t}.started_at",
    "session": '{t}.session_id COLLATE "C"',
    "client": '{t}.user_agent COLLATE "C"',
    "model": 'COALESCE({t}.model_used, {t}.model_requested) COLLATE "C"',
    "duration": "{t}.total_duration_ms",
    "status": "{t}.success",
}
"""Order expressions over the `sessions` columns of table alias `{t}` (literals only, never the caller's text)."""


def _order(sort: SortKey, descending: bool, table: str) -> str:
    # SQLite sorts NULL below every value: first ascending, last descending. `started_at` is NOT NULL, and
    # left plain so that its index serves the default order.
    direction = "DESC" if descending else "ASC"
    if sort != "started":
        direction += " NULLS LAST" if descending else " NULLS FIRST"
    first = _SORT_SQL[sort].format(t=table)
    return f'{first} {direction}, {table}.started_at DESC, {table}.session_id COLLATE "C" DESC'


async def list_sessions(
    conn: Any,
    flt: SessionFilter,
    offset: int,
    limit: int,
    price: PriceFn | None,
    sort: SortKey = "started",
    descending: bool = True,
) -> SessionPage:
    where, params = session_where(flt)
    total = await conn.fetchval(f"SELECT COUNT(*) FROM sessions s WHERE {where}", *params)
    n = len(params)
    rows = await conn.fetch(
        f"WITH p AS (SELECT {SUMMARY_COLUMNS} FROM sessions s WHERE {where} "
        f"ORDER BY {_order(sort, descending, 's')} LIMIT ${n + 1} OFFSET ${n + 2}) "
        f"SELECT {_PAGE_COLUMNS}, COUNT(ss.id), {TOKEN_SUMS}, {OUTCOME_SUMS} FROM p "
        "LEFT JOIN session_stats ss ON ss.session_id = p.session_id "
        f"GROUP BY {_PAGE_COLUMNS} ORDER BY {_order(sort, descending, 'p')}",
        *params,
        limit,
        offset,
    )
    ids = [r[0] for r in rows]
    costs = await _costs(conn, price, ids)
    previews = await _previews(conn, ids)
    sessions = tuple(
        msgspec.structs.replace(summary_from_row(tuple(r), costs.get(r[0])), prompt_preview=previews.get(r[0]))
        for r in rows
    )
    return SessionPage(sessions=sessions, offset=offset, limit=limit, total=int(total))


async def _previews(conn: Any, ids: Sequence[str]) -> dict[str, str]:
    """The start of each session's latest prompt, on one line."""
    if not ids:
        return {}
    rows = await conn.fetch(
        f"SELECT session_id, substr(request_text, 1, {PREVIEW_CHARS * 2}) FROM sessions "
        "WHERE session_id = ANY($1::text[]) AND request_text IS NOT NULL AND request_text != ''",
        list(ids),
    )
    return {sid: " ".join(str(text).split())[:PREVIEW_CHARS] for sid, text in rows}


async def _request_rows(conn: Any, session_id: str) -> tuple[RequestRow, ...]:
    rows = await conn.fetch(
        f"SELECT ss.request_id, ss.model_name, {_CREATED.format(t='ss.')}, {_SS_TOKENS}, ss.pre_processing_ms, "
        "ss.post_processing_ms, ss.proxy_overhead_ms, ss.tokens_per_second, ss.thinking_percentage, "
        "ss.request_size_bytes, ss.response_size_bytes, ss.message_count, ss.content_blocks, ss.has_tools, "
        "ss.has_refusal, ss.user_agent, ss.provider, ss.success, ss.attempts "
        "FROM session_stats ss WHERE ss.session_id = $1 ORDER BY ss.id",
        session_id,
    )
    out = []
    for r in rows:
        tokens = tokens_at(tuple(r), 3)
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
                success=r[24],
                attempts=_attempts(r[25]),
            )
        )
    return tuple(out)


async def _tool_rows(conn: Any, session_id: str) -> tuple[ToolStatRow, ...]:
    rows = await conn.fetch(
        "SELECT request_id, model_name, tool_name, call_count, error_count, avg_execution_time_ms, tool_arguments "
        "FROM tool_stats WHERE session_id = $1 ORDER BY id",
        session_id,
    )
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


async def _call_rows(conn: Any, session_id: str) -> tuple[ToolCallRow, ...]:
    rows = await conn.fetch(
        "SELECT request_id, tool_call_id, tool_name, tool_arguments, execution_time_ms, input_size_bytes, "
        f"output_size_bytes, success, {_CREATED.format(t='')} FROM tool_call_executions WHERE session_id = $1 "
        "ORDER BY id",
        session_id,
    )
    return tuple(
        ToolCallRow(
            request_id=c[0],
            tool_call_id=c[1],
            tool_name=c[2],
            tool_arguments=c[3],
            execution_time_ms=c[4],
            input_size_bytes=c[5],
            output_size_bytes=c[6],
            success=c[7],
            created_at=parse_ts(c[8]),
        )
        for c in rows
    )


async def _metric_rows(conn: Any, session_id: str) -> tuple[StreamMetricRow, ...]:
    rows = await conn.fetch(
        "SELECT request_id, time_to_first_token_ms, total_chunks, streaming_duration_ms, avg_chunk_latency_ms, "
        "p50_chunk_latency_ms, p95_chunk_latency_ms, p99_chunk_latency_ms, max_chunk_latency_ms, "
        "min_chunk_latency_ms FROM stream_metrics WHERE session_id = $1 ORDER BY id",
        session_id,
    )
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


async def get_session(conn: Any, session_id: str, price: PriceFn | None) -> SessionDetail | None:
    row = await conn.fetchrow(
        f"SELECT {SUMMARY_COLUMNS}, s.request_id, s.request_text, s.response_text, s.client_ip, "
        "s.provider_latency_ms, s.time_to_first_token_ms, s.chunk_count, s.streaming_duration_ms "
        "FROM sessions s WHERE s.session_id = $1",
        session_id,
    )
    if row is None:
        return None
    row = tuple(row)
    requests = await _request_rows(conn, session_id)
    sums = [sum(getattr(r.tokens, f) for r in requests) for f in TokenCounts.__struct_fields__]
    failed = sum(r.success is False for r in requests)
    fallbacks = [r.provider for r in requests if r.attempts]
    summary = summary_from_row(
        (*row[:21], len(requests), *sums, failed, len(fallbacks), fallbacks[-1] if fallbacks else None),
        (await _costs(conn, price, [session_id])).get(session_id),
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
        tools=await _tool_rows(conn, session_id),
        tool_calls=await _call_rows(conn, session_id),
        stream_metrics=await _metric_rows(conn, session_id),
    )


async def _exists(conn: Any, session_id: str) -> bool:
    return await conn.fetchval("SELECT 1 FROM sessions WHERE session_id = $1", session_id) is not None


async def timeline(conn: Any, session_id: str, offset: int, limit: int, order: Order) -> TimelinePage | None:
    if not await _exists(conn, session_id):
        return None
    total = await conn.fetchval("SELECT COUNT(*) FROM session_stats WHERE session_id = $1", session_id)
    direction = "DESC" if order == "desc" else "ASC"  # one of two literals, never the caller's text
    rows = await conn.fetch(
        f"SELECT ss.request_id, {_CREATED.format(t='ss.')}, ss.model_name, {_SS_TOKENS}, ss.response_size_bytes, "
        "ss.has_refusal, "
        "(SELECT COALESCE(SUM(t.call_count), 0)::bigint FROM tool_stats t "
        " WHERE t.session_id = ss.session_id AND t.request_id = ss.request_id), "
        "(SELECT m.time_to_first_token_ms FROM stream_metrics m "
        " WHERE m.session_id = ss.session_id AND m.request_id = ss.request_id LIMIT 1) "
        f"FROM session_stats ss WHERE ss.session_id = $1 ORDER BY ss.id {direction} LIMIT $2 OFFSET $3",
        session_id,
        limit,
        offset,
    )
    entries = []
    for i, r in enumerate(rows):
        tokens = tokens_at(tuple(r), 3)
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


async def session_tools(conn: Any, session_id: str) -> SessionToolStats | None:
    if not await _exists(conn, session_id):
        return None
    rows = await conn.fetch(
        "SELECT tool_name, SUM(call_count)::bigint, SUM(error_count)::bigint FROM tool_stats WHERE session_id = $1 "
        'GROUP BY tool_name ORDER BY 2 DESC NULLS LAST, tool_name COLLATE "C"',
        session_id,
    )
    requests, with_tools = await conn.fetchrow(
        "SELECT COUNT(*), COUNT(DISTINCT t.request_id) FROM session_stats ss LEFT JOIN "
        "(SELECT DISTINCT request_id FROM tool_stats WHERE session_id = $1) t ON t.request_id = ss.request_id "
        "WHERE ss.session_id = $1",
        session_id,
    )
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
