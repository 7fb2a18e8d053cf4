"""Builders for the recording tests: exchange records, realistic per-request event sequences, a flaky writer, and
one request through a recording gateway read back from its session file."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Sequence
from pathlib import Path

import aiohttp

from lunaroute.recording import read_session_file
from lunaroute.recording.events import (
    Completed,
    RequestRecorded,
    ResponseRecorded,
    SessionEvent,
    Started,
    StatsUpdated,
    StreamingStats,
    StreamStarted,
    TokenTotals,
    ToolCallRecorded,
    ToolStats,
    ToolUsageSummary,
)
from lunaroute.server._gateway import GATEWAY
from lunaroute.testing import GatewayServer
from lunaroute.types import Endpoint, ExchangeRecord

T0 = dt.datetime(2026, 3, 1, 12, 0, 0, tzinfo=dt.UTC)

FOREGROUND_RECORDER = {"nice": 0, "sched_idle": False}
"""`session_recording.worker` for tests that wait for the recorder: in the idle class (the default) it gets no CPU
at all while other processes keep every core busy, and such a test would wait for as long as they do."""


def request_events(
    session_id: str, request_id: str, *, at: dt.datetime = T0, streaming: bool = True, tools: int = 1
) -> list[SessionEvent]:
    """The events of one request, in the order the gateway emits them."""
    ms = dt.timedelta(milliseconds=1)
    evs: list[SessionEvent] = [
        Started(
            session_id=session_id,
            request_id=request_id,
            timestamp=at,
            model_requested="claude-sonnet-4",
            provider="anthropic",
            listener="anthropic",
            is_streaming=streaming,
            user_agent="claude-cli/1.0",
            session_tags=["lunaroute:sonnet"],
        ),
        RequestRecorded(
            session_id=session_id,
            request_id=request_id,
            timestamp=at + ms,
            request_text=f"hello from {request_id}",
            request_json={"model": "claude-sonnet-4", "messages": [{"role": "user", "content": "hi"}]},
            request_size_bytes=120,
            message_count=1,
        ),
    ]
    if streaming:
        evs.append(
            StreamStarted(
                session_id=session_id, request_id=request_id, timestamp=at + 2 * ms, time_to_first_token_ms=42
            )
        )
    evs.append(
        ResponseRecorded(
            session_id=session_id,
            request_id=request_id,
            timestamp=at + 3 * ms,
            response_text="hi there",
            model_used="claude-sonnet-4-20250514",
            input_tokens=10,
            output_tokens=20,
            total_tokens=30,
            thinking_tokens=5,
            is_streaming=streaming,
        )
    )
    for i in range(tools):
        evs.append(
            ToolCallRecorded(
                session_id=session_id,
                request_id=request_id,
                timestamp=at + 4 * ms,
                tool_name="Read",
                tool_call_id=f"toolu_{request_id}_{i}",
                input_size_bytes=33,
                success=i % 2 == 0,
                tool_arguments='{"path": "/tmp/x"}',
            )
        )
    evs.append(
        Completed(
            session_id=session_id,
            request_id=request_id,
            timestamp=at + 500 * ms,
            success=True,
            finish_reason="end_turn",
            total_duration_ms=500,
            total_input=10,
            total_output=20,
            total_thinking=5,
            grand_total=35,
            total_tool_calls=tools,
            unique_tool_count=1 if tools else 0,
            by_tool={"Read": ToolStats(call_count=tools, error_count=tools // 2)} if tools else {},
            streaming_stats=StreamingStats(time_to_first_token_ms=42, total_chunks=9, streaming_duration_ms=400)
            if streaming
            else None,
            outcome="ok",
        )
    )
    evs.append(
        StatsUpdated(
            session_id=session_id,
            request_id=request_id,
            timestamp=at + 501 * ms,
            token_updates=TokenTotals(total_input=10, total_output=25, total_thinking=5, grand_total=40),
            tool_call_updates=ToolUsageSummary(total_tool_calls=tools, by_tool={"Read": ToolStats(call_count=tools)})
            if tools
            else None,
            model_used="claude-sonnet-4-20250514",
            response_size_bytes=300,
            content_blocks=2,
        )
    )
    return evs


class FlakyWriter:
    """An in-memory `SessionWriter` that raises while `failing` is set; records every batch it took."""

    def __init__(self, name: str = "flaky") -> None:
        self.name = name
        self.failing = False
        self.events: list[SessionEvent] = []
        self.calls = 0
        self.closed = False

    async def write_batch(self, events: Sequence[SessionEvent]) -> None:
        self.calls += 1
        if self.failing:
            raise OSError("store unavailable")
        self.events.extend(events)

    async def flush(self) -> None:
        return None

    async def close(self) -> None:
        self.closed = True


def record(request_id: str, *, ended: bool = False) -> ExchangeRecord:
    body = b'{"model":"gpt-x","messages":[{"role":"user","content":"hi"}]}'
    rec = ExchangeRecord(
        request_id=request_id,
        started_at=time.time(),
        listener="openai",
        endpoint=Endpoint.OPENAI_CHAT,
        method="POST",
        path="/v1/chat/completions",
        request_headers=[("user-agent", "test/1")],
        request_body=body,
        model_requested="gpt-x",
        is_streaming=False,
    )
    if ended:
        rec.provider, rec.status, rec.outcome = "openai", 200, "ok"
        rec.response_body = b'{"id":"c","object":"chat.completion","model":"gpt-x","choices":[]}'
        rec.finished_ms = 1.0
    return rec


async def recorded_events(
    gateway: GatewayServer, sessions: Path, session_id: str, body: dict[str, object]
) -> list[SessionEvent]:
    """POST `body` to the gateway's chat completions in session `session_id`, wait until the recorder has written
    it, and return the events of that session's JSONL file (under `sessions`)."""
    async with aiohttp.ClientSession() as client:
        async with client.post(
            f"{gateway.url}/v1/chat/completions", json=body, headers={"session_id": session_id}
        ) as response:
            assert response.status == 200
            await response.read()
    assert gateway.app is not None
    capture = gateway.app[GATEWAY].capture
    assert capture is not None
    await asyncio.wait_for(capture.drain(), 30)
    [path] = sessions.rglob(f"{session_id}.jsonl")
    return list(read_session_file(path).events)
