"""The PostgreSQL writer against a real server (`LUNAROUTE_TEST_PG`), in a database and schema of each test's own."""

from __future__ import annotations

import asyncio
import uuid

import msgspec
import pytest
from tests.recording._builders import T0, request_events

from lunaroute.recording.events import RequestRecorded, ResponseRecorded, Started, ToolCallRecorded
from lunaroute.recording.postgres import PostgresWriter

TABLES = ("sessions", "session_stats", "tool_stats", "tool_call_executions", "stream_metrics")


@pytest.fixture
def schema() -> str:
    return f"lr_test_{uuid.uuid4().hex[:12]}"


async def snapshot(writer: PostgresWriter) -> dict[str, list[tuple[object, ...]]]:
    out = {}
    for table in TABLES:
        cols = [
            r[0]
            for r in await writer.fetch(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2 "
                "AND column_name NOT IN ('id', 'created_at') ORDER BY ordinal_position",
                writer.schema,
                table,
            )
        ]
        out[table] = sorted(await writer.fetch(f"SELECT {', '.join(map(str, cols))} FROM {table}"), key=repr)
    return out


async def test_round_trip_and_idempotent_replay(pg_dsn: str, schema: str) -> None:
    writer = await PostgresWriter.open(pg_dsn, schema=schema)
    try:
        assert writer.migrations_applied == [1, 2, 3, 4, 5, 6]
        assert await writer.fetch("SELECT version FROM schema_migrations ORDER BY 1") == [
            (1,),
            (2,),
            (3,),
            (4,),
            (5,),
            (6,),
        ]
        r1 = request_events("sess", "r1", tools=2)
        r2 = request_events("sess", "r2", streaming=False, tools=1)
        await writer.write_batch(r1)
        await writer.write_batch(r2)
        row = (
            await writer.fetch(
                "SELECT request_id, provider, request_text, success, input_tokens, output_tokens, total_tokens, "
                "time_to_first_token_ms, total_duration_ms FROM sessions"
            )
        )[0]
        assert row == ("r1", "anthropic", "hello from r2", True, 10, 25, 40, 42, 500)
        assert await writer.fetch("SELECT request_id, call_count, error_count FROM tool_stats ORDER BY 1") == [
            ("r1", 2, 1),
            ("r2", 1, 0),
        ]
        assert len(await writer.fetch("SELECT 1 FROM tool_call_executions")) == 3
        assert await writer.fetch("SELECT request_id, total_chunks FROM stream_metrics") == [("r1", 9)]
        assert len(await writer.fetch("SELECT 1 FROM session_stats")) == 2
        before = await snapshot(writer)
        await writer.write_batch(r1)  # replay from a spool
        await writer.write_batch(r2)
        assert await snapshot(writer) == before
    finally:
        await writer.close()
    again = await PostgresWriter.open(pg_dsn, schema=schema)  # migrations are not applied twice
    assert again.migrations_applied == []
    await again.close()


async def test_nul_surrogate_and_huge_text_are_stored(pg_dsn: str, schema: str) -> None:
    writer = await PostgresWriter.open(pg_dsn, schema=schema, max_field_chars=1_000_000)
    try:
        start = Started(
            session_id="s", request_id="r", timestamp=T0, model_requested="m\x00", provider="p", listener="l"
        )
        req = RequestRecorded(
            session_id="s", request_id="r", timestamp=T0, request_text="a\x00b\ud800" + "z" * 10_000_000
        )
        resp = ResponseRecorded(session_id="s", request_id="r", timestamp=T0, response_text="\x00", model_used="x\x00")
        tool = ToolCallRecorded(
            session_id="s",
            request_id="r",
            timestamp=T0,
            tool_name="T",
            tool_call_id="c\x00",
            tool_arguments='{"a":"\x00"}',
        )
        await writer.write_batch([start, req, resp, tool])
        ((model, text, response),) = await writer.fetch(
            "SELECT model_requested, request_text, response_text FROM sessions"
        )
        assert model == "m\\u0000"
        assert isinstance(text, str)
        assert text.startswith("a\\u0000b\\ud800zz")
        assert "truncated by lunaroute" in text
        assert response == "\\u0000"
        assert await writer.fetch("SELECT tool_call_id, tool_arguments FROM tool_call_executions") == [
            ("c\\u0000", '{"a":"\\u0000"}')
        ]
    finally:
        await writer.close()


async def test_unreachable_server_raises_at_open() -> None:
    with pytest.raises(ConnectionRefusedError, match="Connect call failed"):
        await PostgresWriter.open("postgresql://postgres@127.0.0.1:1/test", acquire_timeout_s=2)


async def test_sessions_carry_the_gateway_key_and_team(pg_dsn: str, schema: str) -> None:
    writer = await PostgresWriter.open(pg_dsn, schema=schema)
    try:
        events = request_events("sess-key", "r1")
        first = events[0]
        assert isinstance(first, Started)
        events[0] = msgspec.structs.replace(first, key_id="key_0123456789abcdef", key_name="ci", team="core")
        await writer.write_batch(events)
        await writer.write_batch(request_events("sess-plain", "r2"))
        rows = await writer.fetch("SELECT session_id, key_id, key_name, team FROM sessions ORDER BY session_id")
        assert rows == [("sess-key", "key_0123456789abcdef", "ci", "core"), ("sess-plain", None, None, None)]
    finally:
        await writer.close()


async def test_max_lifetime_replaces_old_connections(pg_dsn: str, schema: str) -> None:
    writer = await PostgresWriter.open(pg_dsn, schema=schema, min_connections=1, max_connections=1, max_lifetime_s=0.2)
    try:
        pid = (await writer.fetch("SELECT pg_backend_pid()"))[0][0]
        await writer.write_batch(request_events("sess", "r1", tools=0))
        assert (await writer.fetch("SELECT pg_backend_pid()"))[0][0] == pid
        await asyncio.sleep(0.3)
        await writer.write_batch(request_events("sess", "r2", tools=0))  # served, then retired
        assert writer.connections_retired == 1
        assert (await writer.fetch("SELECT pg_backend_pid()"))[0][0] != pid
        assert len(await writer.fetch("SELECT request_id FROM session_stats")) == 2
    finally:
        await writer.close()


async def test_replicas_writing_at_once_keep_the_rollups_exact(pg_dsn: str) -> None:
    """Two writers, batches of several models in opposite orders at once: no lock waits between them on the
    rollups (deltas are appended), and once compacted the rollups equal the raw rows."""
    first, second = await PostgresWriter.open(pg_dsn), await PostgresWriter.open(pg_dsn)
    try:

        async def replica(writer: PostgresWriter, name: str, models: list[str]) -> None:
            for n in range(12):
                batch = []
                for i, model in enumerate(models):
                    events = request_events(f"{name}-{n}-{i}", f"{name}-{n}-{i}-r", tools=1)
                    batch += [
                        msgspec.structs.replace(ev, model_used=model) if getattr(ev, "model_used", None) else ev
                        for ev in events
                    ]
                await writer.write_batch(batch)

        await asyncio.gather(replica(first, "a", ["m1", "m2", "m3"]), replica(second, "b", ["m3", "m2", "m1"]))
        await first.compact()
        raw = await first.fetch(
            "SELECT date_trunc('hour', created_at AT TIME ZONE 'UTC'), model_name, COUNT(*), SUM(input_tokens)::bigint "
            "FROM session_stats GROUP BY 1, 2 ORDER BY 1, 2"
        )
        rolled = await first.fetch(
            "SELECT hour, model_name, SUM(requests)::bigint, SUM(input_tokens)::bigint FROM rollup_requests "
            "GROUP BY 1, 2 ORDER BY 1, 2"
        )
        assert rolled == raw
        assert {r[1] for r in raw} == {"m1", "m2", "m3"}
        assert sum(int(r[2]) for r in raw) == 2 * 12 * 3  # type: ignore[call-overload]
        assert await first.fetch("SELECT COUNT(*) FROM rollup_requests_delta") == [(0,)]
    finally:
        await first.close()
        await second.close()
