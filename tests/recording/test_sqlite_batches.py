"""The SQLite writer stores the same rows however the events are cut into batches (transactions).

Within a transaction the writer gathers the writes to a session row and skips look-ups it can prove useless
(`_sqlite_rules.Batch`); the reference is the same events written one per transaction, where nothing is
gathered.
"""

from __future__ import annotations

import datetime as dt
import itertools
import sqlite3
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

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
    ToolCallStats,
    ToolStats,
    ToolUsageSummary,
)
from lunaroute.recording.sqlite import SqliteWriter

T0 = dt.datetime(2026, 3, 1, 12, 0, 0, tzinfo=dt.UTC)
MAX_CHARS = 40
V5_TABLES = ("sessions", "session_stats", "tool_stats", "tool_call_executions", "stream_metrics")

ids = st.sampled_from(["s1", "s2"])
requests = st.sampled_from(["r1", "r2", "r3\ud800"])
texts = st.none() | st.sampled_from(["", "hi", "é", "x\ud800y", "z" * (MAX_CHARS + 5), "a" * MAX_CHARS])
words = st.sampled_from(["", "Bash", "Read", "é\ud801", "t" * (MAX_CHARS + 1)])
counts = st.none() | st.integers(0, 50) | st.just(2**70)
some = st.integers(0, 50) | st.just(2**70)
moments = st.integers(0, 10_000).map(lambda ms: T0 + dt.timedelta(milliseconds=ms))
outcomes = st.none() | st.sampled_from(["ok", "client_disconnected", "upstream_error"])


def _common(draw: st.DrawFn) -> dict[str, object]:
    return {"session_id": draw(ids), "request_id": draw(requests), "timestamp": draw(moments)}


@st.composite
def events(draw: st.DrawFn) -> SessionEvent:
    kind = draw(st.sampled_from(["started", "request", "stream", "response", "tool", "completed", "stats"]))
    common = _common(draw)
    if kind == "started":
        return Started(
            **common,  # type: ignore[arg-type]
            model_requested=draw(st.sampled_from(["", "m1", "m2"])),
            provider=draw(st.sampled_from(["", "p"])),
            listener=draw(st.sampled_from(["", "openai"])),
            is_streaming=draw(st.booleans()),
            user_agent=draw(texts),
            client_ip=draw(st.none() | st.just("127.0.0.1")),
        )
    if kind == "request":
        return RequestRecorded(**common, request_text=draw(texts) or "")  # type: ignore[arg-type]
    if kind == "stream":
        return StreamStarted(**common, time_to_first_token_ms=draw(some))  # type: ignore[arg-type]
    if kind == "response":
        calls = draw(
            st.lists(
                st.builds(
                    ToolCallStats,
                    tool_name=words,
                    tool_call_id=st.none() | st.sampled_from(["c1", "c2"]),
                    input_size_bytes=some,
                ),
                max_size=2,
            )
        )
        return ResponseRecorded(
            **common,  # type: ignore[arg-type]
            response_text=draw(texts) or "",
            model_used=draw(st.sampled_from(["", "m1", "m\ud800"])),
            input_tokens=draw(some),
            output_tokens=draw(some),
            thinking_tokens=draw(counts),
            cache_read_tokens=draw(counts),
            tokens_per_second=draw(st.none() | st.floats(0, 100)),
            chunk_count=draw(counts),
            streaming_duration_ms=draw(counts),
            provider_latency_ms=draw(some),
            tool_calls=calls,
            has_refusal=draw(st.booleans()),
        )
    if kind == "tool":
        return ToolCallRecorded(
            **common,  # type: ignore[arg-type]
            tool_name=draw(words),
            tool_call_id=draw(st.sampled_from(["c1", "c2", "c3"])),
            execution_time_ms=draw(counts),
            output_size_bytes=draw(counts),
            success=draw(st.none() | st.booleans()),
            tool_arguments=draw(texts),
        )
    by_tool = draw(st.dictionaries(words, st.builds(ToolStats, call_count=some, error_count=some), max_size=2))
    if kind == "completed":
        streaming = draw(st.none() | st.builds(StreamingStats, total_chunks=some, p50_chunk_latency_ms=counts))
        return Completed(
            **common,  # type: ignore[arg-type]
            success=draw(st.booleans()),
            error=draw(texts),
            finish_reason=draw(st.none() | st.just("stop")),
            total_duration_ms=draw(some),
            total_input=draw(some),
            total_output=draw(some),
            total_thinking=draw(some),
            total_cache_read=draw(some),
            total_tool_calls=len(by_tool),
            by_tool=by_tool,
            streaming_stats=streaming,
            outcome=draw(outcomes),
        )
    return StatsUpdated(
        **common,  # type: ignore[arg-type]
        token_updates=draw(st.none() | st.builds(TokenTotals, total_input=some, total_cached=some)),
        tool_call_updates=draw(st.none() | st.just(ToolUsageSummary(total_tool_calls=len(by_tool), by_tool=by_tool))),
        model_used=draw(st.none() | st.sampled_from(["m1", "m2"])),
        user_agent=draw(texts),
    )


def dump(path: Path) -> dict[str, list[tuple[object, ...]]]:
    """The v5 tables' rows with their ids, in id order, without creation times (the clock's)."""
    conn = sqlite3.connect(path)
    try:
        out = {}
        for table in V5_TABLES:
            columns = [r[1] for r in conn.execute(f"PRAGMA table_xinfo({table})") if r[1] != "created_at"]
            out[table] = conn.execute(f"SELECT rowid, {', '.join(columns)} FROM {table} ORDER BY rowid").fetchall()
        return out
    finally:
        conn.close()


async def _write(path: Path, batches: list[list[SessionEvent]]) -> dict[str, list[tuple[object, ...]]]:
    writer = await SqliteWriter.open(path, max_field_chars=MAX_CHARS)
    for batch in batches:
        await writer.write_batch(batch)
    await writer.close()
    return dump(path)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.lists(events(), min_size=1, max_size=30), st.lists(st.integers(0, 30), max_size=4))
async def test_batches_store_what_single_events_store(evs: list[SessionEvent], cuts: list[int]) -> None:
    with tempfile.TemporaryDirectory() as tmp:  # not `tmp_path`: one directory per example
        base = Path(tmp)
        single = await _write(base / "single.db", [[e] for e in evs])
        bounds = sorted({0, len(evs), *(c for c in cuts if c <= len(evs))})
        split = [evs[a:b] for a, b in itertools.pairwise(bounds)]
        assert await _write(base / "split.db", split) == single
        # Written twice (a replayed spool): idempotent in both cases.
        assert await _write(base / "single.db", [evs]) == await _write(base / "split.db", [[e] for e in evs])


async def test_a_completed_update_reads_the_values_set_before_it_in_its_batch(tmp_path: Path) -> None:
    started = Started(session_id="s", request_id="r1", timestamp=T0, model_requested="m", provider="p", listener="l")
    first = ResponseRecorded(session_id="s", request_id="r1", timestamp=T0, thinking_tokens=5, input_tokens=9)
    again = ResponseRecorded(session_id="s", request_id="r2", timestamp=T0, thinking_tokens=None, input_tokens=1)
    done = Completed(session_id="s", request_id="r2", timestamp=T0, success=True, total_input=2)
    writer = await SqliteWriter.open(tmp_path / "s.db")
    await writer.write_batch([started, first])
    await writer.write_batch([again, done])
    # The second response overwrites (thinking NULL, input 1), then `completed` raises input to 2 and
    # thinking to MAX(COALESCE(NULL, 0), 0).
    assert await writer.query("SELECT thinking_tokens, input_tokens FROM sessions") == [(0, 2)]
    await writer.close()
