"""PostgresSessionStore against SqliteSessionStore: one corpus recorded through both real writers, every read
answer compared (and the PostgreSQL-only behaviour: lazy connection, unreachable server, read-only, delete)."""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import msgspec
import pytest
from aiohttp.test_utils import TestClient, TestServer
from tests.recording.query._seed import Spec, session_events, standard_specs
from tests.recording.query.conftest import flat_price

from lunaroute.config import config_from_mapping
from lunaroute.recording.events import AttemptStats, Completed, SessionEvent, Started
from lunaroute.recording.postgres import PostgresWriter
from lunaroute.recording.query import (
    SORT_KEYS,
    PostgresSessionStore,
    SessionFilter,
    SessionStore,
    SqliteSessionStore,
    StoreUnavailable,
    open_store,
)
from lunaroute.recording.sqlite import SqliteWriter
from lunaroute.ui import build_ui_app

NOW = dt.datetime(2026, 3, 18, 14, 37, 21, 250_000, tzinfo=dt.UTC)
"""A Wednesday afternoon: windows cross hours, days, the week and the month."""

_TABLES = ("session_stats", "stream_metrics", "tool_stats", "tool_call_executions")


def corpus_specs() -> list[Spec]:
    specs = standard_specs(NOW)
    agents = ("claude-cli/2.0.0", "codex/0.1", "Claude-CLI/3.0", "python-httpx/0.27", "")
    models = (("claude-sonnet-4", "anthropic"), ("claude-opus-4", "anthropic"), ("gpt-4o", "openai"))
    for i in range(36):
        model, provider = models[i % 3]
        specs.append(
            Spec(
                f"sess-{i:02d}",
                NOW - dt.timedelta(hours=7 * i + 1, minutes=11 * i, seconds=i, microseconds=137 * i),
                requests=1 + i % 4,
                model=model,
                provider=provider,
                user_agent=agents[i % 5],
                success=i % 6 != 2,
                prompt=f"prompt {i} 100%_done" if i % 7 == 0 else f"Question number {i}",
                tools=i % 3,
                streaming=i % 4 != 1,
            )
        )
    return specs


def _shape(ev: SessionEvent, spec_index: int) -> SessionEvent:
    """Vary what the seed leaves constant: keys and teams, statuses, durations, attempts given up."""
    if isinstance(ev, Started) and spec_index % 3 == 0:
        return msgspec.structs.replace(
            ev, key_id=f"key-{spec_index % 2}", key_name=f"team-key-{spec_index % 2}", team=f"team-{spec_index % 2}"
        )
    if isinstance(ev, Completed):
        n = int(ev.request_id.rsplit("req", 1)[1])
        attempts = [AttemptStats(provider="openai", status=529)] if (spec_index + n) % 5 == 0 else []
        return msgspec.structs.replace(
            ev,
            status=200 if ev.success else (529 if spec_index % 2 else None),
            total_duration_ms=120 + 37 * ((spec_index * 7 + n * 13) % 50),
            provider=ev.provider or "anthropic",
            attempts=attempts,
        )
    return ev


def corpus_events(specs: list[Spec]) -> list[SessionEvent]:
    return [_shape(ev, i) for i, spec in enumerate(specs) for ev in session_events(spec)]


def request_times(specs: list[Spec]) -> dict[str, dt.datetime]:
    """When each request's rows were written (pinned: the writers stamp the time they ran)."""
    return {
        f"{s.session_id}-req{n}": (s.at + dt.timedelta(minutes=n, seconds=1)).replace(microsecond=0)
        for s in specs
        for n in range(s.requests)
    }


async def record_both(tmp_path: Path, dsn: str) -> Path:
    specs = corpus_specs()
    events, times = corpus_events(specs), request_times(specs)
    db = tmp_path / "sessions.db"
    writer = await SqliteWriter.open(db)
    try:
        await writer.write_batch(events)
    finally:
        await writer.close()
    with sqlite3.connect(db) as conn:
        for table in _TABLES:
            conn.executemany(
                f"UPDATE {table} SET created_at = ? WHERE request_id = ?",
                [(t.strftime("%Y-%m-%d %H:%M:%S"), rid) for rid, t in times.items()],
            )
    pg = await PostgresWriter.open(dsn)
    try:
        await pg.write_batch(events)
        for table in _TABLES:
            for rid, t in times.items():
                await pg.fetch(f"UPDATE {table} SET created_at = $1 WHERE request_id = $2", t, rid)
    finally:
        await pg.close()
    return db


@pytest.fixture
async def stores(tmp_path: Path, pg_dsn: str) -> AsyncIterator[tuple[SqliteSessionStore, PostgresSessionStore]]:
    db = await record_both(tmp_path, pg_dsn)
    lite = SqliteSessionStore(db, price=flat_price, clock=lambda: NOW)
    pg = PostgresSessionStore(pg_dsn, price=flat_price, clock=lambda: NOW)
    yield lite, pg
    await lite.close()
    await pg.close()


Call = Callable[[SessionStore], Awaitable[object]]

_FILTERS = (
    SessionFilter(),
    SessionFilter(since=NOW - dt.timedelta(days=2), until=NOW - dt.timedelta(hours=3)),
    SessionFilter(model="claude-opus-4-x"),
    SessionFilter(model="gpt-4o"),
    SessionFilter(provider="openai"),
    SessionFilter(user_agent="claude-cli/*"),
    SessionFilter(user_agent="codex/0.1"),
    SessionFilter(success=False),
    SessionFilter(success=True, min_tokens=3000),
    SessionFilter(search="QUESTION NUMBER 1"),
    SessionFilter(search="100%_"),
    SessionFilter(key="key-1"),
    SessionFilter(key="team-key-0", team="team-0"),
    SessionFilter(tool="Bash"),
    SessionFilter(search="' OR '1'='1"),
)


def calls(session_ids: list[str]) -> dict[str, Call]:
    out: dict[str, Call] = {}
    for i, flt in enumerate(_FILTERS):
        out[f"list {i}"] = lambda s, f=flt: s.list_sessions(f, limit=20)  # type: ignore[misc]
    for sort in SORT_KEYS:
        for desc in (True, False):
            out[f"list sort {sort} {desc}"] = lambda s, k=sort, d=desc: s.list_sessions(  # type: ignore[misc]
                SessionFilter(), offset=3, limit=17, sort=k, descending=d
            )
    for sid in [*session_ids, "no-such-session", "../etc"]:
        out[f"get {sid}"] = lambda s, i=sid: s.get_session(i)  # type: ignore[misc]
        out[f"timeline {sid}"] = lambda s, i=sid: s.timeline(i, offset=1, limit=2, order="desc")  # type: ignore[misc]
        out[f"timeline asc {sid}"] = lambda s, i=sid: s.timeline(i)  # type: ignore[misc]
        out[f"tools {sid}"] = lambda s, i=sid: s.session_tools(i)  # type: ignore[misc]
    for hours in (1, 6, 24, 24 * 7, 24 * 90):
        out[f"overview {hours}"] = lambda s, h=hours: s.overview(h)  # type: ignore[misc]
        out[f"models {hours}"] = lambda s, h=hours: s.model_usage(h)  # type: ignore[misc]
        out[f"models ua {hours}"] = lambda s, h=hours: s.model_usage(h, "codex/0.1")  # type: ignore[misc]
        out[f"clients {hours}"] = lambda s, h=hours: s.client_usage(h, 3)  # type: ignore[misc]
        out[f"keys {hours}"] = lambda s, h=hours: s.key_usage(h)  # type: ignore[misc]
        out[f"spending {hours}"] = lambda s, h=hours: s.spending(h)  # type: ignore[misc]
        out[f"latency {hours}"] = lambda s, h=hours: s.latency_by_model(h)  # type: ignore[misc]
        out[f"errors {hours}"] = lambda s, h=hours: s.errors_by_status(h)  # type: ignore[misc]
        out[f"hours {hours}"] = lambda s, h=hours: s.hours_of_day(h)  # type: ignore[misc]
        for minutes in (1, 5, 15, 60):
            out[f"activity {hours} {minutes}"] = lambda s, h=hours, m=minutes: s.activity(h, m)  # type: ignore[misc]
    for days in (1, 7, 30):
        out[f"tokens {days}"] = lambda s, d=days: s.tokens_per_day(d)  # type: ignore[misc]
    out["tools"] = lambda s: s.tool_usage()
    out["tools 1"] = lambda s: s.tool_usage(1)
    out["costs"] = lambda s: s.cost_stats()
    out["agents"] = lambda s: s.user_agents()
    out["model names"] = lambda s: s.models()
    return out


async def differences(lite: SessionStore, pg: SessionStore) -> list[str]:
    session_ids = [s.session_id for s in corpus_specs()]
    differing = []
    for name, call in calls(session_ids).items():
        expected, got = await call(lite), await call(pg)
        if msgspec.json.encode(got) != msgspec.json.encode(expected):
            differing.append(
                f"{name}:\n  sqlite   {msgspec.json.encode(expected)[:600]!r}\n  postgres {msgspec.json.encode(got)[:600]!r}"
            )
    return differing


async def test_every_answer_equals_sqlite(stores: tuple[SqliteSessionStore, PostgresSessionStore]) -> None:
    """Read through the rollups with every delta pending, then compacted, then from the raw rows alone."""
    lite, pg = stores
    conn = await asyncpg.connect(pg.dsn)
    try:
        assert await conn.fetchval("SELECT COUNT(*) FROM rollup_requests_delta") > 0
        assert not await differences(lite, pg)
        for sid in ("sess-a", "sess-07"):  # deletes and a session's user agent changing move the figures
            assert await lite.delete_session(sid)
            assert await pg.delete_session(sid)
        with sqlite3.connect(lite.path) as db:
            db.execute("UPDATE sessions SET user_agent = 'moved/1' WHERE session_id = 'sess-05'")
        await conn.execute("UPDATE sessions SET user_agent = 'moved/1' WHERE session_id = 'sess-05'")
        assert not await differences(lite, pg)
        assert await conn.fetchval("SELECT lunaroute_compact_rollups()")
        assert await conn.fetchval("SELECT COUNT(*) FROM rollup_requests_delta") == 0
        assert await conn.fetchval("SELECT COUNT(*) FROM rollup_requests") > 0
        assert not await differences(lite, pg)
        await conn.execute("DELETE FROM schema_migrations WHERE version >= 6")  # as an older writer left it
        assert not await differences(lite, pg)
    finally:
        await conn.close()
    overview = await pg.overview(24 * 90)
    assert overview.requests > 50  # a corpus worth comparing
    assert overview.failed_sessions > 0
    assert overview.total_cost_usd
    assert len(await pg.key_usage(24 * 90)) == 2


async def test_delete_removes_the_session_and_its_rows(stores: tuple[SqliteSessionStore, PostgresSessionStore]) -> None:
    _, pg = stores
    assert await pg.delete_session("sess-a")
    assert await pg.get_session("sess-a") is None
    assert not await pg.delete_session("sess-a")
    assert not await pg.delete_session("../x")
    conn = await asyncpg.connect(pg.dsn)
    try:
        assert await conn.fetchval("SELECT COUNT(*) FROM session_stats WHERE session_id = 'sess-a'") == 0
    finally:
        await conn.close()


async def test_reads_run_read_only(stores: tuple[SqliteSessionStore, PostgresSessionStore]) -> None:
    _, pg = stores

    async def sneak(conn: Any) -> object:
        return await conn.execute("DELETE FROM sessions")

    with pytest.raises(asyncpg.ReadOnlySQLTransactionError):
        await pg._run(sneak)
    assert (await pg.list_sessions(SessionFilter())).total == len(corpus_specs())


async def test_unreachable_server_and_missing_tables_are_store_unavailable(pg_dsn: str) -> None:
    closed_port = PostgresSessionStore("postgresql://nobody:secret@127.0.0.1:9/none", connect_timeout_s=2)
    with pytest.raises(StoreUnavailable, match=r"nobody:\*\*\*@") as info:
        await closed_port.overview()
    assert "secret" not in str(info.value)
    await closed_port.close()
    missing = PostgresSessionStore(pg_dsn + "_gone")
    with pytest.raises(StoreUnavailable, match="does not exist"):
        await missing.overview()
    await missing.close()
    empty = PostgresSessionStore(pg_dsn)  # the database exists, no writer has created the tables yet
    with pytest.raises(StoreUnavailable, match="no session tables"):
        await empty.list_sessions(SessionFilter())
    writer = await PostgresWriter.open(pg_dsn)
    await writer.close()
    assert (await empty.list_sessions(SessionFilter())).total == 0  # and reads once they exist
    await empty.close()
    with pytest.raises(StoreUnavailable, match="closed"):
        await empty.overview()


async def test_schema_and_open_store(tmp_path: Path, pg_dsn: str) -> None:
    writer = await PostgresWriter.open(pg_dsn, schema="replicas")
    await writer.write_batch(session_events(Spec("sess-in-schema", NOW)))
    await writer.close()
    store = open_store(pg_dsn, schema="replicas")
    assert isinstance(store, PostgresSessionStore)
    assert [s.session_id for s in (await store.list_sessions(SessionFilter())).sessions] == ["sess-in-schema"]
    await store.close()
    assert isinstance(open_store(tmp_path / "sessions.db"), SqliteSessionStore)
    assert isinstance(open_store(str(tmp_path / "sessions.db")), SqliteSessionStore)
    with pytest.raises(ValueError, match="invalid schema"):
        PostgresSessionStore(pg_dsn, schema='x"; DROP')


_API_PATHS = (
    "/api/stats/overview?hours=87600",
    "/api/stats/tokens?days=3650",
    "/api/stats/tools",
    "/api/stats/costs",
    "/api/stats/models?hours=87600",
    "/api/stats/models?hours=87600&user_agent=codex/0.1",
    "/api/stats/clients?hours=87600&limit=3",
    "/api/stats/keys?hours=87600",
    "/api/stats/hours?hours=87600",
    "/api/stats/spending?hours=87600",
    "/api/stats/activity?hours=48&minutes=15",
    "/api/stats/latency?hours=87600",
    "/api/stats/errors?hours=87600",
    "/api/sessions?limit=100",
    "/api/sessions?limit=7&offset=3&sort=duration&order=asc",
    "/api/sessions?model=gpt-4o&success=false",
    "/api/sessions?q=question&user_agent=claude-cli/*",
    "/api/sessions/recent?limit=8",
    "/api/sessions/sess-fail",
    "/api/sessions/sess-05/timeline?order=desc&limit=2",
    "/api/sessions/sess-05/tools",
    "/api/export/sessions?format=csv",
    "/api/export/sessions?format=json&provider=openai",
    "/api/user-agents",
    "/api/models",
)


async def test_the_ui_api_answers_alike(tmp_path: Path, pg_dsn: str) -> None:
    """The same comparison one level up: the UI's JSON API over each store, byte for byte."""
    db = await record_both(tmp_path, pg_dsn)
    configs = (
        {"session_recording": {"enabled": True, "sqlite": {"path": str(db)}, "jsonl": {"enabled": False}}},
        {"session_recording": {"enabled": False}, "ui": {"database": pg_dsn}},
    )
    bodies: list[dict[str, bytes]] = []
    for raw in configs:
        async with TestClient(TestServer(build_ui_app(config_from_mapping(raw, env={})))) as client:
            answers = {}
            for path in _API_PATHS:
                response = await client.get(path)
                assert response.status == 200, (path, await response.text())
                answers[path] = await response.read()
            bodies.append(answers)
    lite, pg = bodies
    assert [p for p in _API_PATHS if lite[p] != pg[p]] == []
    assert b"sess-fail" in pg["/api/sessions?limit=100"]
