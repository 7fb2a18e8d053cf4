"""SqliteSessionStore against a database written by the real SqliteWriter."""

from __future__ import annotations

import asyncio
import datetime as dt
import sqlite3
from pathlib import Path

import pytest
from tests.recording.query._seed import Spec, seed

from lunaroute.recording.query import SessionFilter, SqliteSessionStore, StoreUnavailable

INJECTIONS = [
    "' OR '1'='1",
    "x' UNION SELECT session_id, request_text FROM sessions --",
    "'; DROP TABLE sessions; --",
    "1; SELECT pg_sleep(5)",
    "%",
    "_",
    "\\",
    '"',
]


async def ids(store: SqliteSessionStore, **kw: object) -> list[str]:
    page = await store.list_sessions(SessionFilter(**kw))  # type: ignore[arg-type]
    return [s.session_id for s in page.sessions]


async def test_list_newest_first_with_request_sums(store: SqliteSessionStore) -> None:
    page = await store.list_sessions(SessionFilter())
    assert [s.session_id for s in page.sessions] == ["sess-b", "sess-fail", "sess-a", "sess-old"]
    assert page.total == 4
    assert not page.has_more
    a = next(s for s in page.sessions if s.session_id == "sess-a")
    assert a.request_count == 3
    assert a.tokens.input == 300
    assert a.tokens.output == 150
    assert a.tokens.cache_read == 3000
    assert a.total_tokens == 3 * 1160
    assert a.model_used == "claude-sonnet-4-x"
    assert a.provider == "anthropic"
    assert a.cost_usd == pytest.approx(3 * (100 + 100) / 1e6)
    old = next(s for s in page.sessions if s.session_id == "sess-old")
    assert old.cost_usd is None  # the hook knows no gpt price
    assert old.is_streaming is False


async def test_pagination(store: SqliteSessionStore) -> None:
    first = await store.list_sessions(SessionFilter(), offset=0, limit=3)
    second = await store.list_sessions(SessionFilter(), offset=3, limit=3)
    assert [s.session_id for s in first.sessions] == ["sess-b", "sess-fail", "sess-a"]
    assert first.has_more
    assert not second.has_more
    assert [s.session_id for s in second.sessions] == ["sess-old"]
    clamped = await store.list_sessions(SessionFilter(), offset=-5, limit=0)
    assert clamped.offset == 0
    assert clamped.limit == 1
    assert len(clamped.sessions) == 1


async def test_filters(store: SqliteSessionStore, now: dt.datetime) -> None:
    assert await ids(store, model="gpt-4o") == ["sess-old"]
    assert await ids(store, model="claude-sonnet-4-x") == ["sess-fail", "sess-a"]
    assert await ids(store, provider="openai") == ["sess-old"]
    assert await ids(store, user_agent="claude-cli/2.0.0") == ["sess-b"]
    assert await ids(store, user_agent="claude-cli/*") == ["sess-b", "sess-fail", "sess-a"]
    assert await ids(store, success=False) == ["sess-fail"]
    assert await ids(store, success=True) == ["sess-b", "sess-a", "sess-old"]
    assert await ids(store, min_tokens=2000) == ["sess-fail", "sess-a"]
    assert await ids(store, since=now - dt.timedelta(hours=6)) == ["sess-b", "sess-fail", "sess-a"]
    assert await ids(store, until=now - dt.timedelta(hours=1)) == ["sess-fail", "sess-a", "sess-old"]
    assert await ids(store, search="RECURSION") == ["sess-a"]
    assert await ids(store, search="100%") == ["sess-b"]  # % is literal
    assert await ids(store, search="0% d") == ["sess-b"]
    assert await ids(store, search="e_o") == ["sess-b"]  # _ is literal: matches "done_ok"
    assert await ids(store, search="eXo") == []
    assert await ids(store, provider="anthropic", success=True, since=now - dt.timedelta(hours=1)) == ["sess-b"]


@pytest.mark.parametrize("evil", INJECTIONS)
async def test_injection_strings_are_plain_data(
    store: SqliteSessionStore, evil: str, seeded: tuple[Path, Path]
) -> None:
    for field in ("model", "provider", "user_agent", "search"):
        page = await store.list_sessions(SessionFilter(**{field: evil}))  # type: ignore[arg-type]
        assert page.sessions == () or field == "search"
    assert await store.get_session(evil) is None
    assert await store.timeline(evil) is None
    assert await store.delete_session(evil) is False
    assert len(await store.model_usage(24, user_agent=evil)) == 0
    with sqlite3.connect(seeded[0]) as conn:
        assert conn.execute("SELECT COUNT(*) FROM sessions").fetchone() == (4,)


async def test_get_session_detail(store: SqliteSessionStore) -> None:
    detail = await store.get_session("sess-fail")
    assert detail is not None
    s = detail.summary
    assert s.success is False
    assert s.error_message == "upstream 529 overloaded"
    assert s.request_count == 2
    assert len(detail.requests) == 2
    assert [r.request_id for r in detail.requests] == ["sess-fail-req0", "sess-fail-req1"]
    assert detail.requests[0].tokens.thinking == 10
    assert detail.requests[0].has_tools
    assert detail.request_text == "=cmd|' /C calc'!A0 #1"
    assert detail.response_text == "<script>alert(1)</script> #1"
    assert {t.tool_name for t in detail.tools} == {"Read", "Bash"}
    assert len(detail.tool_calls) == 4
    assert {c.success for c in detail.tool_calls} == {True, False}
    assert [m.time_to_first_token_ms for m in detail.stream_metrics] == [40, 41]
    assert await store.get_session("nope") is None


async def test_timeline_order_and_pages(store: SqliteSessionStore) -> None:
    asc = await store.timeline("sess-a")
    assert asc is not None
    assert asc.total == 3
    assert [e.index for e in asc.entries] == [1, 2, 3]
    assert [e.request_id for e in asc.entries] == ["sess-a-req0", "sess-a-req1", "sess-a-req2"]
    assert asc.entries[0].tool_calls == 1
    assert asc.entries[2].time_to_first_token_ms == 42
    desc = await store.timeline("sess-a", order="desc", offset=1, limit=1)
    assert desc is not None
    assert [(e.index, e.request_id) for e in desc.entries] == [(2, "sess-a-req1")]
    empty = await store.timeline("sess-a", offset=10)
    assert empty is not None
    assert empty.entries == ()
    assert await store.timeline("unknown") is None


async def test_session_tools(store: SqliteSessionStore) -> None:
    tools = await store.session_tools("sess-fail")
    assert tools is not None
    assert tools.total_tool_calls == 4
    assert tools.tool_usage_percentage == 100.0
    by = {t.tool_name: t for t in tools.by_tool}
    assert by["Bash"].error_count == 2
    assert by["Read"].percentage == 50.0
    none = await store.session_tools("sess-old")
    assert none is not None
    assert none.total_tool_calls == 0
    assert none.by_tool == ()


async def test_overview(store: SqliteSessionStore) -> None:
    o = await store.overview(24)
    assert o.requests == 7  # every request's stats were written just now
    assert o.sessions == 3  # sess-old started three days ago
    assert o.active_sessions == 4
    assert o.completed_sessions == 3
    assert o.failed_sessions == 1
    assert o.success_rate == pytest.approx(200 / 3)
    assert o.tokens.input == 700
    assert o.total_tokens == 7 * 1160
    assert o.avg_ttft_ms is not None
    assert o.p95_ttft_ms == 42
    assert o.total_cost_usd == pytest.approx(6 * 200 / 1e6)


async def test_stats(store: SqliteSessionStore, now: dt.datetime) -> None:
    days = await store.tokens_per_day(7)
    assert len(days) == 1
    assert days[0].requests == 7
    assert days[0].tokens.output == 350
    tools = await store.tool_usage()
    assert [t.tool_name for t in tools] == ["Read", "Bash"]
    assert tools[1].error_count == 2
    assert tools[1].success_rate == 0.0
    models = await store.model_usage(24)
    assert next((m.model_name, m.request_count) for m in models) == ("claude-sonnet-4-x", 5)
    assert sum(m.percentage for m in models) == pytest.approx(100.0)
    only = await store.model_usage(24, user_agent="codex/0.1")
    assert [m.model_name for m in only] == ["gpt-4o-x"]
    assert only[0].cost_usd is None
    costs = await store.cost_stats()
    assert costs.total == pytest.approx(0.0012)
    assert costs.today == pytest.approx(0.0012)
    spend = await store.spending(24)
    assert spend.total_cost_usd == pytest.approx(0.0012)
    assert spend.avg_cost_per_session == pytest.approx(0.0003)
    assert sum(h.requests for h in spend.by_hour) == 7
    assert {m.provider for m in spend.by_model} == {"anthropic", "openai"}
    hours = await store.hours_of_day(24)
    assert sum(h.request_count for h in hours) == 7
    assert await store.user_agents() == ("claude-cli/1.0.0", "claude-cli/2.0.0", "codex/0.1")
    assert await store.models() == ("claude-opus-4-x", "claude-sonnet-4-x", "gpt-4o-x")


async def test_no_pricing_hook_gives_no_costs(seeded: tuple[Path, Path]) -> None:
    store = SqliteSessionStore(seeded[0])
    try:
        costs = await store.cost_stats()
        assert costs.total is None
        assert costs.projection_monthly is None
        assert (await store.overview()).total_cost_usd is None
        page = await store.list_sessions(SessionFilter())
        assert all(s.cost_usd is None for s in page.sessions)
    finally:
        await store.close()


async def test_delete_session(store: SqliteSessionStore, seeded: tuple[Path, Path]) -> None:
    assert await store.delete_session("sess-a") is True
    assert await store.get_session("sess-a") is None
    assert await store.delete_session("sess-a") is False
    with sqlite3.connect(seeded[0]) as conn:
        for table in ("session_stats", "tool_stats", "tool_call_executions", "stream_metrics"):
            count = conn.execute(f"SELECT COUNT(*) FROM {table} WHERE session_id = 'sess-a'").fetchone()
            assert count == (0,), table


async def test_missing_or_foreign_database(tmp_path: Path) -> None:
    store = SqliteSessionStore(tmp_path / "none.db")
    with pytest.raises(StoreUnavailable):
        await store.list_sessions(SessionFilter())
    await store.close()
    other = tmp_path / "other.db"
    sqlite3.connect(other).close()
    store = SqliteSessionStore(other)
    with pytest.raises(StoreUnavailable):
        await store.overview()
    await store.close()
    with pytest.raises(StoreUnavailable):
        await store.overview()


async def test_store_reads_while_writer_writes(tmp_path: Path, now: dt.datetime) -> None:
    db = tmp_path / "s.db"
    await seed(db, None, [Spec("first", now - dt.timedelta(hours=1))])
    store = SqliteSessionStore(db)
    try:
        reads = [store.list_sessions(SessionFilter()) for _ in range(10)]
        writes = seed(db, None, [Spec(f"s{i}", now - dt.timedelta(minutes=i)) for i in range(5)])
        results = await asyncio.gather(*reads, writes)
        assert all(r is None or r.total >= 1 for r in results)
        assert (await store.list_sessions(SessionFilter())).total == 6
    finally:
        await store.close()


async def test_connection_is_read_only(store: SqliteSessionStore) -> None:
    def write(conn: sqlite3.Connection) -> None:
        conn.execute("DELETE FROM sessions")

    with pytest.raises(StoreUnavailable, match="readonly"):
        await store._pool.run(write)  # mode=ro and query_only
