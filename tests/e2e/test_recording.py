"""Sessions recorded end to end: the official SDKs through a recording gateway, then the stores are read back."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import anthropic
import openai
import pytest

from lunaroute.recording import Completed, ResponseRecorded, read_session_file
from lunaroute.server._gateway import GATEWAY
from lunaroute.testing import Answer, FakeUpstream, GatewayFactory, GatewayServer, Reply, ToolCall, Usage

pytestmark = pytest.mark.e2e


def recording_config(tmp_path: Path) -> dict[str, Any]:
    return {
        "enabled": True,
        "jsonl": {"directory": str(tmp_path / "sessions")},
        "sqlite": {"path": str(tmp_path / "sessions.db")},
        "journal_directory": str(tmp_path / "journal"),
    }


@pytest.fixture
async def recording_gateway(make_gateway: GatewayFactory, tmp_path: Path) -> GatewayServer:
    return await make_gateway(session_recording=recording_config(tmp_path))


def rows(db: Path, sql: str, *params: Any) -> list[sqlite3.Row]:
    with sqlite3.connect(db) as conn:
        conn.row_factory = sqlite3.Row
        return list(conn.execute(sql, params))


async def drain(gateway: GatewayServer) -> None:
    assert gateway.app is not None
    capture = gateway.app[GATEWAY].capture
    assert capture is not None
    await capture.drain()


async def test_anthropic_stream_with_tools_is_recorded(
    upstream: FakeUpstream, recording_gateway: GatewayServer, tmp_path: Path
) -> None:
    call = ToolCall(name="get_weather", arguments='{"city": "Oslo"}', id="toolu_rec1")
    upstream.enqueue(
        Reply(
            answer=Answer(
                text="Checking the weather.",
                thinking="The user wants weather.",
                thinking_signature="sig",
                tool_calls=(call,),
                usage=Usage(input_tokens=120, output_tokens=30, cache_read_tokens=50),
            )
        ),
        Reply(answer=Answer(text="It is sunny in Oslo.", usage=Usage(input_tokens=160, output_tokens=8))),
    )
    user_id = json.dumps({"device_id": "d1", "account_uuid": "", "session_id": "sess-claude-1"})
    tools = [{"name": "get_weather", "input_schema": {"type": "object"}}]
    async with anthropic.AsyncAnthropic(
        base_url=recording_gateway.url, api_key="sk-ant-secret-canary", max_retries=0
    ) as client:
        async with client.messages.stream(
            model="claude-sonnet-4-6",
            max_tokens=200,
            tools=tools,
            metadata={"user_id": user_id},
            messages=[{"role": "user", "content": "Weather in Oslo?"}],
        ) as stream:
            first = await stream.get_final_message()
        await client.messages.create(
            model="claude-sonnet-4-6",
            max_tokens=200,
            tools=tools,
            metadata={"user_id": user_id},
            messages=[
                {"role": "user", "content": "Weather in Oslo?"},
                {"role": "assistant", "content": [b.model_dump() for b in first.content]},
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_rec1", "content": "sunny"}]},
            ],
        )
    await drain(recording_gateway)
    db = tmp_path / "sessions.db"
    [session] = rows(db, "SELECT * FROM sessions")
    assert session["session_id"] == "sess-claude-1"
    assert session["provider"] == "anthropic"
    assert session["listener"] == "anthropic"
    stats = rows(db, "SELECT * FROM session_stats WHERE session_id = ? ORDER BY id", "sess-claude-1")
    assert len(stats) == 2
    assert stats[0]["input_tokens"] == 120
    assert stats[0]["output_tokens"] == 30
    assert stats[0]["cache_read_tokens"] == 50
    tools_rows = rows(db, "SELECT * FROM tool_call_executions WHERE session_id = ?", "sess-claude-1")
    assert {r["tool_name"] for r in tools_rows} == {"get_weather"}
    assert any(r["tool_arguments"] and "Oslo" in r["tool_arguments"] for r in tools_rows)
    files = list((tmp_path / "sessions").rglob("sess-claude-1.jsonl"))
    assert len(files) == 1
    events = read_session_file(files[0]).events
    assert sum(isinstance(e, Completed) for e in events) == 2
    responses = [e for e in events if isinstance(e, ResponseRecorded)]
    assert [r.response_text for r in responses] == ["Checking the weather.", "It is sunny in Oslo."]
    everything = (tmp_path / "sessions").rglob("*")
    for path in everything:
        if path.is_file():
            assert b"sk-ant-secret-canary" not in path.read_bytes()
    assert b"sk-ant-secret-canary" not in db.read_bytes()
    assert oct(files[0].stat().st_mode & 0o777) == "0o600"


async def test_openai_requests_without_usage_are_estimated(
    upstream: FakeUpstream, recording_gateway: GatewayServer, tmp_path: Path
) -> None:
    upstream.enqueue(Reply(answer=Answer(text="word " * 40, usage=None)))
    async with openai.AsyncOpenAI(base_url=f"{recording_gateway.url}/v1", api_key="k", max_retries=0) as client:
        stream = await client.chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": "count to forty"}], stream=True
        )
        async for _ in stream:
            pass
    await drain(recording_gateway)
    [stat] = rows(tmp_path / "sessions.db", "SELECT * FROM session_stats")
    assert stat["output_tokens"] > 0
    assert stat["input_tokens"] > 0


async def test_errors_and_rejections_are_recorded(
    upstream: FakeUpstream, recording_gateway: GatewayServer, tmp_path: Path
) -> None:
    upstream.enqueue(Reply(status=429, error_message="slow down"))
    async with openai.AsyncOpenAI(base_url=f"{recording_gateway.url}/v1", api_key="k", max_retries=0) as client:
        with pytest.raises(openai.RateLimitError):
            await client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "x"}])
        with pytest.raises(openai.BadRequestError):
            await client.chat.completions.create(model="gpt-4o", messages=[], extra_body={"stream": "yes"})
    await drain(recording_gateway)
    sessions = rows(tmp_path / "sessions.db", "SELECT success, error_message FROM sessions")
    assert len(sessions) == 2
    assert all(row["success"] in (0, False) for row in sessions)
