"""Seed data for the query tests: a few realistic sessions written through the real writers."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

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
from lunaroute.recording.jsonl import JsonlWriter
from lunaroute.recording.sqlite import SqliteWriter


@dataclass(frozen=True)
class Spec:
    """One session: `requests` requests starting at `at`, one minute apart."""

    session_id: str
    at: dt.datetime
    requests: int = 2
    model: str = "claude-sonnet-4"
    provider: str = "anthropic"
    user_agent: str = "claude-cli/1.0.0"
    success: bool = True
    prompt: str = "hello"
    answer: str = "hi there"
    tools: int = 1
    streaming: bool = True


def request_events(spec: Spec, n: int) -> list[SessionEvent]:
    sid, rid = spec.session_id, f"{spec.session_id}-req{n}"
    at = spec.at + dt.timedelta(minutes=n)
    ms = dt.timedelta(milliseconds=1)
    last = n == spec.requests - 1
    evs: list[SessionEvent] = [
        Started(
            session_id=sid,
            request_id=rid,
            timestamp=at,
            model_requested=spec.model,
            provider=spec.provider,
            listener=spec.provider,
            is_streaming=spec.streaming,
            user_agent=spec.user_agent,
        ),
        RequestRecorded(
            session_id=sid,
            request_id=rid,
            timestamp=at + ms,
            request_text=f"{spec.prompt} #{n}",
            request_json={"model": spec.model, "messages": [{"role": "user", "content": f"{spec.prompt} #{n}"}]},
            request_size_bytes=100 + n,
            message_count=1 + 2 * n,
            has_tools=spec.tools > 0,
            tool_count=spec.tools,
        ),
    ]
    if spec.streaming:
        evs.append(StreamStarted(session_id=sid, request_id=rid, timestamp=at + 2 * ms, time_to_first_token_ms=40 + n))
    evs.append(
        ResponseRecorded(
            session_id=sid,
            request_id=rid,
            timestamp=at + 3 * ms,
            response_text=f"{spec.answer} #{n}",
            response_json={"content": [{"type": "text", "text": f"{spec.answer} #{n}"}]},
            model_used=spec.model + "-x",
            input_tokens=100,
            output_tokens=50,
            total_tokens=160,
            thinking_tokens=10,
            cache_read_tokens=1000,
            is_streaming=spec.streaming,
        )
    )
    evs.extend(
        ToolCallRecorded(
            session_id=sid,
            request_id=rid,
            timestamp=at + 4 * ms,
            tool_name="Read" if i % 2 == 0 else "Bash",
            tool_call_id=f"toolu_{rid}_{i}",
            input_size_bytes=33,
            success=i != 1,
            tool_arguments='{"path": "/tmp/x"}',
        )
        for i in range(spec.tools)
    )
    ok = spec.success or not last
    evs.append(
        Completed(
            session_id=sid,
            request_id=rid,
            timestamp=at + 500 * ms,
            success=ok,
            error=None if ok else "upstream 529 overloaded",
            finish_reason="end_turn" if ok else None,
            total_duration_ms=500,
            total_input=100,
            total_output=50,
            total_thinking=10,
            total_cache_read=1000,
            grand_total=1160,
            streaming_stats=StreamingStats(time_to_first_token_ms=40 + n, total_chunks=9, streaming_duration_ms=400)
            if spec.streaming
            else None,
            outcome="ok" if ok else "upstream_error",
        )
    )
    evs.append(
        StatsUpdated(
            session_id=sid,
            request_id=rid,
            timestamp=at + 501 * ms,
            token_updates=TokenTotals(total_input=100, total_output=50, total_thinking=10, total_cache_read=1000),
            tool_call_updates=ToolUsageSummary(total_tool_calls=spec.tools, by_tool={"Read": ToolStats(call_count=1)})
            if spec.tools
            else None,
            model_used=spec.model + "-x",
            response_size_bytes=300,
            content_blocks=2,
            user_agent=spec.user_agent,
        )
    )
    return evs


def session_events(spec: Spec) -> list[SessionEvent]:
    return [ev for n in range(spec.requests) for ev in request_events(spec, n)]


async def seed(db: Path | None, jsonl_dir: Path | None, specs: list[Spec]) -> None:
    """Write every session through the real `SqliteWriter` and/or `JsonlWriter`."""
    events = [ev for spec in specs for ev in session_events(spec)]
    if db is not None:
        writer = await SqliteWriter.open(db)
        try:
            await writer.write_batch(events)
        finally:
            await writer.close()
    if jsonl_dir is not None:
        jw = JsonlWriter(jsonl_dir)
        try:
            await jw.write_batch(events)
        finally:
            await jw.close()


def now_utc() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def standard_specs(now: dt.datetime) -> list[Spec]:
    """Four sessions of different shape, oldest first."""
    return [
        Spec(
            "sess-old",
            now - dt.timedelta(days=3),
            requests=1,
            model="gpt-4o",
            provider="openai",
            user_agent="codex/0.1",
            prompt="old question",
            answer="old answer",
            tools=0,
            streaming=False,
        ),
        Spec("sess-a", now - dt.timedelta(hours=5), requests=3, prompt="explain recursion", answer="recursion is"),
        Spec(
            "sess-fail",
            now - dt.timedelta(hours=2),
            requests=2,
            success=False,
            prompt="=cmd|' /C calc'!A0",
            answer="<script>alert(1)</script>",
            tools=2,
        ),
        Spec(
            "sess-b",
            now - dt.timedelta(minutes=30),
            requests=1,
            model="claude-opus-4",
            user_agent="claude-cli/2.0.0",
            prompt="100% done_ok",
            answer="fine",
        ),
    ]
