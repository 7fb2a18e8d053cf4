"""The figures people read, checked end to end: traffic through a recording gateway, then every place that
shows it (the SQLite and PostgreSQL stores, the UI's API and pages, `lunaroute sessions`)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
import uuid
from pathlib import Path
from typing import Any

import aiohttp
import anthropic
import openai
import pytest
from aiohttp import web
from click.testing import CliRunner

from lunaroute.cli._sessions import sessions_group
from lunaroute.recording import read_session_file
from lunaroute.recording.events import RequestRecorded, Started
from lunaroute.server._gateway import GATEWAY
from lunaroute.testing import Answer, FakeUpstream, GatewayFactory, GatewayServer, Reply, ToolCall, Usage
from lunaroute.ui import build_ui_app

pytestmark = pytest.mark.e2e

SESSION = "figures-tools-1"
PG_DSN = "postgresql://postgres@127.0.0.1:5432/test"


def recording(tmp_path: Path) -> dict[str, Any]:
    return {
        "session_recording": {
            "enabled": True,
            "jsonl": {"directory": str(tmp_path / "sessions")},
            "sqlite": {"path": str(tmp_path / "sessions.db")},
            "journal_directory": str(tmp_path / "journal"),
        },
        "ui": {"enabled": False},
    }


async def drain(gateway: GatewayServer) -> None:
    assert gateway.app is not None
    capture = gateway.app[GATEWAY].capture
    assert capture is not None
    await capture.drain()


def rows(db: Path, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    with sqlite3.connect(db) as conn:
        return list(conn.execute(sql, params))


async def ui_get(gateway: GatewayServer, path: str) -> tuple[int, str]:
    runner = web.AppRunner(build_ui_app(gateway.config))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        url = f"http://127.0.0.1:{runner.addresses[0][1]}{path}"
        async with aiohttp.ClientSession() as http, http.get(url) as response:
            return response.status, await response.text()
    finally:
        await runner.cleanup()


def cli(tmp_path: Path, *args: str) -> str:
    """`lunaroute sessions ARGS` over the test's database (run it in a thread: it starts its own event loop)."""
    result = CliRunner().invoke(
        sessions_group,
        [*args, "--db", str(tmp_path / "sessions.db")],
        env={"LUNAROUTE_HOME": str(tmp_path)},
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    return result.stdout


async def send_tool_session(upstream: FakeUpstream, gateway: GatewayServer) -> None:
    """One call of get_weather (request 1); its failed result comes back with request 2."""
    call = ToolCall(name="get_weather", arguments='{"city": "Oslo"}', id="toolu_fig1")
    upstream.enqueue(
        Reply(answer=Answer(text="Checking.", tool_calls=(call,), usage=Usage(input_tokens=100, output_tokens=20))),
        Reply(answer=Answer(text="No network.", usage=Usage(input_tokens=150, output_tokens=5))),
    )
    user_id = json.dumps({"session_id": SESSION})
    tools: list[Any] = [{"name": "get_weather", "input_schema": {"type": "object"}}]
    async with anthropic.AsyncAnthropic(base_url=gateway.url, api_key="k", max_retries=0) as client:
        first = await client.messages.create(
            model="claude-sonnet-4-6",
            max_tokens=100,
            tools=tools,
            metadata={"user_id": user_id},
            messages=[{"role": "user", "content": "Weather?"}],
        )
        result = {"type": "tool_result", "tool_use_id": "toolu_fig1", "content": "no network", "is_error": True}
        await client.messages.create(
            model="claude-sonnet-4-6",
            max_tokens=100,
            tools=tools,
            metadata={"user_id": user_id},
            messages=[
                {"role": "user", "content": "Weather?"},
                {"role": "assistant", "content": [b.model_dump() for b in first.content]},
                {"role": "user", "content": [result]},
            ],
        )
    await drain(gateway)


async def replay_into_postgres(jsonl: Path) -> list[tuple[Any, ...]] | None:
    """The session's JSONL events written to a fresh PostgreSQL schema: its tool rows, or None without a server."""
    asyncpg = pytest.importorskip("asyncpg")
    from lunaroute.recording.postgres import PostgresWriter

    schema = f"lr_fig_{uuid.uuid4().hex[:12]}"
    try:
        writer = await PostgresWriter.open(PG_DSN, schema=schema)
    except (OSError, asyncpg.PostgresError):
        return None
    try:
        await writer.write_batch(read_session_file(jsonl).events)
        tool_rows = await writer.fetch(
            "SELECT t.tool_name, t.call_count, t.error_count, (SELECT COUNT(*) FROM tool_call_executions) "
            "FROM tool_stats t"
        )
        return [tuple(r) for r in tool_rows]
    finally:
        await writer.fetch(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        await writer.close()


async def test_one_tool_call_is_counted_once_everywhere(
    upstream: FakeUpstream, make_gateway: GatewayFactory, tmp_path: Path
) -> None:
    gateway = await make_gateway(**recording(tmp_path))
    await send_tool_session(upstream, gateway)
    db = tmp_path / "sessions.db"

    assert rows(db, "SELECT tool_name, call_count, error_count FROM tool_stats WHERE session_id = ?", SESSION) == [
        ("get_weather", 1, 1)
    ]
    [execution] = rows(
        db, "SELECT tool_call_id, success, output_size_bytes FROM tool_call_executions WHERE session_id = ?", SESSION
    )
    assert execution[:2] == ("toolu_fig1", 0)
    assert execution[2] > 0

    status, body = await ui_get(gateway, f"/api/sessions/{SESSION}/tools")
    assert status == 200
    tools = json.loads(body)
    assert tools["total_tool_calls"] == 1
    assert [(t["tool_name"], t["call_count"], t["error_count"]) for t in tools["by_tool"]] == [("get_weather", 1, 1)]
    status, body = await ui_get(gateway, "/api/stats/tools")
    assert [(t["tool_name"], t["call_count"]) for t in json.loads(body)] == [("get_weather", 1)]
    status, page = await ui_get(gateway, f"/sessions/{SESSION}")
    assert status == 200
    assert "get_weather (1)" in page

    assert "tools      get_weather x1 (1 failed)" in await asyncio.to_thread(cli, tmp_path, "show", SESSION)

    [jsonl] = (tmp_path / "sessions").rglob(f"{SESSION}.jsonl")
    pg = await replay_into_postgres(jsonl)
    if pg is None:
        pytest.skip(f"PostgreSQL not reachable at {PG_DSN} (the other stores passed)")
    assert pg == [("get_weather", 1, 1, 1)]


async def test_the_stores_hold_what_the_jsonl_holds_for_each_request(
    upstream: FakeUpstream, make_gateway: GatewayFactory, tmp_path: Path
) -> None:
    gateway = await make_gateway(**recording(tmp_path))
    await send_tool_session(upstream, gateway)
    [jsonl] = (tmp_path / "sessions").rglob(f"{SESSION}.jsonl")
    events = read_session_file(jsonl).events
    agents = {ev.request_id: ev.user_agent for ev in events if isinstance(ev, Started)}
    expected = {
        ev.request_id: (ev.request_size_bytes, ev.message_count, ev.has_tools, agents[ev.request_id])
        for ev in events
        if isinstance(ev, RequestRecorded)
    }
    assert len(expected) == 2
    assert all(size > 0 and count > 0 and tools for size, count, tools, _ in expected.values())
    stored = rows(
        tmp_path / "sessions.db",
        "SELECT request_id, request_size_bytes, message_count, has_tools, user_agent FROM session_stats "
        "WHERE session_id = ?",
        SESSION,
    )
    assert {r[0]: (r[1], r[2], bool(r[3]), r[4]) for r in stored} == expected


async def test_a_failed_request_is_counted(
    upstream: FakeUpstream, make_gateway: GatewayFactory, tmp_path: Path
) -> None:
    gateway = await make_gateway(**recording(tmp_path))
    upstream.enqueue(Reply(status=429, error_message="slow down"))
    async with anthropic.AsyncAnthropic(base_url=gateway.url, api_key="k", max_retries=0) as client:
        with pytest.raises(anthropic.RateLimitError):
            await client.messages.create(
                model="claude-sonnet-4-6",
                max_tokens=10,
                metadata={"user_id": json.dumps({"session_id": "figures-failed"})},
                messages=[{"role": "user", "content": "x"}],
            )
    await drain(gateway)
    status, body = await ui_get(gateway, "/api/sessions/figures-failed")
    assert status == 200
    assert json.loads(body)["summary"]["request_count"] == 1
    status, body = await ui_get(gateway, "/api/stats/overview?hours=1")
    assert json.loads(body)["requests"] == 1
    status, body = await ui_get(gateway, "/api/stats/spending?hours=1")
    assert [(m["model_name"], m["provider"]) for m in json.loads(body)["by_model"]] == [
        ("claude-sonnet-4-6", "anthropic")
    ]
    shown = await asyncio.to_thread(cli, tmp_path, "show", "figures-failed")
    assert "requests   1" in shown
    assert "Request 1" in shown


async def test_a_fallback_shows_who_answered_and_the_attempts(
    upstream: FakeUpstream, make_gateway: GatewayFactory, tmp_path: Path
) -> None:
    async with FakeUpstream(max_reply_seconds=10.0) as spare:
        routing = {"rules": [{"name": "all", "primary": "anthropic", "fallbacks": ["spare"]}]}
        gateway = await make_gateway(
            providers={"spare": {"provider_type": "anthropic", "base_url": spare.url}},
            routing=routing,
            **recording(tmp_path),
        )
        upstream.enqueue(Reply(status=503, error_message="down"))
        spare.enqueue(Reply(answer=Answer(text="from the spare", usage=Usage(input_tokens=10, output_tokens=3))))
        async with anthropic.AsyncAnthropic(base_url=gateway.url, api_key="k", max_retries=0) as client:
            await client.messages.create(
                model="claude-sonnet-4-6",
                max_tokens=10,
                metadata={"user_id": json.dumps({"session_id": "figures-fallback"})},
                messages=[{"role": "user", "content": "x"}],
            )
        await drain(gateway)
    assert rows(tmp_path / "sessions.db", "SELECT provider, success FROM session_stats") == [("spare", 1)]
    _status, body = await ui_get(gateway, "/api/sessions/figures-fallback")
    detail = json.loads(body)
    [request] = detail["requests"]
    assert request["provider"] == "spare"
    assert [(a["provider"], a["status"]) for a in request["attempts"]] == [("anthropic", 503)]
    assert detail["summary"]["fallback_requests"] == 1
    _status, page = await ui_get(gateway, "/sessions/figures-fallback")
    assert "Answered by spare after: anthropic 503 (" in page
    _status, listing = await ui_get(gateway, "/sessions")
    assert "→ spare" in listing
    shown = await asyncio.to_thread(cli, tmp_path, "show", "figures-fallback")
    assert "  provider   anthropic -> spare (fallback)" in shown
    assert "  attempts   anthropic 503 (" in shown
    assert "then spare answered" in shown
    listed = await asyncio.to_thread(cli, tmp_path, "list")
    assert "[fallback: anthropic -> spare (fallback)]" in listed


async def test_a_session_with_a_failed_request_is_not_shown_as_ok(
    upstream: FakeUpstream, make_gateway: GatewayFactory, tmp_path: Path
) -> None:
    gateway = await make_gateway(**recording(tmp_path))
    upstream.enqueue(Reply(status=429, error_message="slow down"), Reply(answer=Answer(text="fine")))
    user_id = json.dumps({"session_id": "figures-mixed"})
    async with anthropic.AsyncAnthropic(base_url=gateway.url, api_key="k", max_retries=0) as client:
        with pytest.raises(anthropic.RateLimitError):
            await client.messages.create(
                model="claude-sonnet-4-6",
                max_tokens=10,
                metadata={"user_id": user_id},
                messages=[{"role": "user", "content": "a"}],
            )
        await client.messages.create(
            model="claude-sonnet-4-6",
            max_tokens=10,
            metadata={"user_id": user_id},
            messages=[{"role": "user", "content": "b"}],
        )
    await drain(gateway)
    _status, body = await ui_get(gateway, "/api/sessions?limit=5")
    [summary] = json.loads(body)["sessions"]
    assert (summary["request_count"], summary["failed_requests"]) == (2, 1)
    _status, listing = await ui_get(gateway, "/sessions")
    assert 'class="badge partial"' in listing
    assert ">1 failed<" in listing
    shown = await asyncio.to_thread(cli, tmp_path, "show", "figures-mixed")
    assert "  status     errors" in shown
    assert "  requests   2 (1 failed)" in shown
    listed = await asyncio.to_thread(cli, tmp_path, "list")
    assert "errors" in next(line for line in listed.splitlines() if "figures-mixed" in line)


async def test_latency_per_model_and_errors_by_status(
    upstream: FakeUpstream, make_gateway: GatewayFactory, tmp_path: Path
) -> None:
    gateway = await make_gateway(**recording(tmp_path))
    upstream.enqueue(
        Reply(answer=Answer(text="a")),
        Reply(answer=Answer(text="b")),
        Reply(status=429, error_message="slow down"),
        Reply(status=400, error_message="bad"),
        Reply(status=429, error_message="slow down"),
    )
    async with anthropic.AsyncAnthropic(base_url=gateway.url, api_key="k", max_retries=0) as client:
        for _ in range(5):
            with contextlib.suppress(anthropic.APIStatusError):
                await client.messages.create(
                    model="claude-sonnet-4-6", max_tokens=10, messages=[{"role": "user", "content": "x"}]
                )
    await drain(gateway)
    durations = sorted(
        r[0] for r in rows(tmp_path / "sessions.db", "SELECT duration_ms FROM session_stats") if r[0] is not None
    )
    assert len(durations) == 5
    _status, body = await ui_get(gateway, "/api/stats/latency?hours=1")
    [latency] = json.loads(body)
    assert latency == {
        "model_name": "claude-sonnet-4-6",
        "requests": 5,
        "p50_ms": durations[2],
        "p95_ms": durations[4],
    }
    _status, body = await ui_get(gateway, "/api/stats/errors?hours=1")
    assert json.loads(body) == [{"status": 429, "requests": 2}, {"status": 400, "requests": 1}]


async def test_embeddings_count_in_the_token_totals(
    upstream: FakeUpstream, make_gateway: GatewayFactory, tmp_path: Path
) -> None:
    gateway = await make_gateway(**recording(tmp_path))
    async with openai.AsyncOpenAI(base_url=f"{gateway.url}/v1", api_key="k", max_retries=0) as client:
        result = await client.embeddings.create(model="text-embedding-3-small", input=["one two three", "four"])
    await drain(gateway)
    assert result.usage.prompt_tokens > 0
    _status, body = await ui_get(gateway, "/api/stats/overview?hours=1")
    overview = json.loads(body)
    assert (overview["requests"], overview["tokens"]["input"]) == (1, result.usage.prompt_tokens)
    assert overview["total_tokens"] == result.usage.total_tokens
