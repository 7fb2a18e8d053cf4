"""Properties: no request or response content makes extraction raise, and chunking never changes the result."""

from __future__ import annotations

import math

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lunaroute.recording.codec import decode_event, encode_event
from lunaroute.recording.events import Completed, ResponseRecorded, ToolCallRecorded
from lunaroute.recording.extract import SessionTracker, events_at_end, events_at_start
from lunaroute.types import Endpoint, ExchangeRecord

from ._records import T0, fixture

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=20,
)
KEYS = [
    "type",
    "role",
    "content",
    "text",
    "messages",
    "input",
    "output",
    "id",
    "call_id",
    "tool_use_id",
    "name",
    "arguments",
    "usage",
    "choices",
    "delta",
    "response",
    "item",
    "output_index",
    "index",
    "metadata",
    "user_id",
    "tool_calls",
    "function",
    "error",
    "is_error",
    "content_block",
    "message",
    "stop_reason",
    "finish_reason",
]
TYPES = [
    "message",
    "text",
    "tool_use",
    "tool_result",
    "function_call",
    "function_call_output",
    "message_start",
    "content_block_start",
    "content_block_delta",
    "message_delta",
    "message_stop",
    "error",
    "response.completed",
    "response.output_item.added",
    "response.output_text.delta",
    "response.function_call_arguments.delta",
    "thinking",
    "input_json_delta",
    "text_delta",
    "reasoning",
    "x",  # a tool call id the tracker knows
]
# Objects built from the wire vocabulary reach far deeper into the parsers than random text.
wire_values = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 2**70) | st.sampled_from(TYPES) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(KEYS), inner, max_size=5),
    max_leaves=25,
)


def _sse(values: list[object], raw: list[bytes]) -> bytes:
    frames = [b"data: " + msgspec.json.encode(v) + b"\n\n" for v in values]
    return b"".join(frames + raw)


@st.composite
def records(draw: st.DrawFn) -> ExchangeRecord:
    endpoint = draw(st.sampled_from(list(Endpoint)))
    request = draw(
        st.one_of(st.binary(max_size=200), wire_values.map(msgspec.json.encode), json_values.map(msgspec.json.encode))
    )
    stream = draw(st.booleans())
    payload = draw(
        st.one_of(
            st.binary(max_size=300),
            st.lists(wire_values, max_size=6).map(lambda vs: _sse(vs, [])),
            st.tuples(st.lists(wire_values, max_size=4), st.lists(st.binary(max_size=20), max_size=2)).map(
                lambda p: _sse(*p)
            ),
            wire_values.map(msgspec.json.encode),
        )
    )
    cuts = sorted(draw(st.lists(st.integers(0, len(payload)), max_size=4)))
    chunks = [payload[a:b] for a, b in zip([0, *cuts], [*cuts, len(payload)], strict=True)]
    offsets = draw(st.lists(st.floats(allow_nan=True, allow_infinity=True), min_size=len(chunks), max_size=len(chunks)))
    headers = draw(
        st.lists(
            st.tuples(
                st.sampled_from(["content-type", "content-encoding", "session_id", "user-agent", "x"]),
                st.text(max_size=20),
            ),
            max_size=3,
        )
    )
    return ExchangeRecord(
        request_id=draw(st.text(max_size=12)),
        started_at=draw(st.floats(allow_nan=True, allow_infinity=True) | st.just(T0)),
        listener=endpoint.dialect,
        endpoint=endpoint,
        method="POST",
        path="/",
        request_headers=headers,
        request_body=request,
        model_requested=draw(st.none() | st.text(max_size=10)),
        is_streaming=stream,
        provider=draw(st.none() | st.sampled_from(["anthropic", "openai", "local"])),
        model_sent=draw(st.none() | st.sampled_from(["gpt-4o", "claude-sonnet-4-5", "x"])),
        status=draw(st.none() | st.sampled_from([200, 400, 429, 500, 529])),
        response_headers=headers,
        response_body=b"" if stream else payload,
        stream_chunks=chunks if stream else [],
        chunk_offsets_ms=offsets if stream else [],
        response_truncated=draw(st.booleans()),
        upstream_sent_ms=draw(st.none() | st.floats()),
        first_byte_ms=draw(st.none() | st.floats()),
        finished_ms=draw(st.none() | st.floats()),
        outcome=draw(st.none() | st.sampled_from(["ok", "upstream_error", "client_disconnected", "interrupted"])),
    )


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(records())
def test_any_exchange_yields_encodable_events_ending_with_completed(record: ExchangeRecord) -> None:
    tracker = SessionTracker(max_sessions=4)
    tracker.remember("", "x", "Known", record.started_at - 1.5)
    start = events_at_start(record, tracker)
    end = events_at_end(record, tracker)
    assert isinstance(end[-1], Completed)
    for event in start + end:
        assert type(decode_event(encode_event(event))) is type(event)


STREAMS = [
    (Endpoint.ANTHROPIC_MESSAGES, "anthropic_messages/stream_thinking.sse"),
    (Endpoint.ANTHROPIC_MESSAGES, "anthropic_messages/stream_tool_use.sse"),
    (Endpoint.OPENAI_CHAT, "openai_chat/stream_parallel_tools.sse"),
    (Endpoint.OPENAI_CHAT, "chat_stream_no_usage.sse"),
    (Endpoint.OPENAI_RESPONSES, "codex_stream.sse"),
]


def _summary(events: list) -> tuple[object, ...]:
    resp = next(e for e in events if isinstance(e, ResponseRecorded))
    calls = [(e.tool_call_id, e.tool_arguments) for e in events if isinstance(e, ToolCallRecorded)]
    done = events[-1]
    return (
        resp.response_text,
        resp.response_json,
        resp.input_tokens,
        resp.output_tokens,
        calls,
        done.finish_reason,
        done.error,
    )


@pytest.mark.parametrize(("endpoint", "name"), STREAMS)
@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_any_chunking_gives_the_same_answer(endpoint: Endpoint, name: str, data: st.DataObject) -> None:
    payload = fixture(name)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(payload)), max_size=12)))
    chunks = [payload[a:b] for a, b in zip([0, *cuts], [*cuts, len(payload)], strict=True)]

    def run(pieces: list[bytes]) -> tuple[object, ...]:
        record = ExchangeRecord(
            request_id="r",
            started_at=T0,
            listener=endpoint.dialect,
            endpoint=endpoint,
            method="POST",
            path="/",
            request_headers=[],
            request_body=b"{}",
            model_requested="m",
            is_streaming=True,
            status=200,
            response_headers=[("content-type", "text/event-stream")],
            stream_chunks=pieces,
            chunk_offsets_ms=[float(i) for i in range(len(pieces))],
            finished_ms=float(len(pieces)),
            outcome="ok",
        )
        return _summary(events_at_end(record, SessionTracker()))

    assert run(chunks) == run([payload])
    assert not math.isnan(0.0)
