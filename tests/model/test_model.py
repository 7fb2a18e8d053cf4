"""The normalized model: serialization, usage accounting, accumulation, replay, estimates."""

from __future__ import annotations

import msgspec
from hypothesis import given, settings

from lunaroute import model as m
from model.strategies import anthropic_request, anthropic_response, openai_response


@settings(max_examples=60, deadline=None, database=None)
@given(anthropic_response())
def test_replayed_stream_accumulates_to_the_response(resp: m.Response) -> None:
    assert m.accumulate(m.stream_events(resp)) == resp


@settings(max_examples=60, deadline=None, database=None)
@given(openai_response())
def test_replay_of_openai_shaped_responses(resp: m.Response) -> None:
    assert m.accumulate(m.stream_events(resp)) == resp


@settings(max_examples=40, deadline=None, database=None)
@given(anthropic_request())
def test_model_values_serialize_with_msgspec(req: m.Request) -> None:
    assert msgspec.json.decode(msgspec.json.encode(req), type=m.Request) == req


def test_usage_merge_is_fieldwise_max_and_total_input_counts_cache() -> None:
    start = m.Usage(input_tokens=10, cache_read_tokens=100, output_tokens=1)
    later = m.Usage(output_tokens=50, reasoning_tokens=20)
    merged = start.merge(later)
    assert merged == m.Usage(input_tokens=10, cache_read_tokens=100, output_tokens=50, reasoning_tokens=20)
    assert merged.total_input_tokens == 110


def test_accumulate_handles_interleaved_blocks_and_keeps_errors() -> None:
    acc = m.Accumulator()
    events: list[m.StreamEvent] = [
        m.MessageStart(id="r", model="x"),
        m.BlockStart(index=0, block=m.ToolUseBlock(id="a", name="f")),
        m.BlockStart(index=1, block=m.ToolUseBlock(id="b", name="g")),
        m.ToolInputDelta(index=1, partial_json='{"y":'),
        m.ToolInputDelta(index=0, partial_json='{"x": 1}'),
        m.ToolInputDelta(index=1, partial_json="2}"),
        m.StreamError(error=m.ErrorInfo(kind="overloaded", message="busy", status=529)),
    ]
    for event in events:
        acc.feed(event)
    resp = acc.response()
    assert resp.content == (
        m.ToolUseBlock(id="a", name="f", input={"x": 1}),
        m.ToolUseBlock(id="b", name="g", input={"y": 2}),
    )
    assert resp.stop_reason is None
    assert acc.error is not None
    assert acc.error.kind == "overloaded"


def test_truncated_tool_arguments_are_kept_verbatim() -> None:
    assert m.parse_arguments('{"a": 1') == ({}, '{"a": 1')
    assert m.parse_arguments("[1]") == ({}, "[1]")
    assert m.parse_arguments("  ") == ({}, None)
    assert m.parse_arguments('{"a": 1}') == ({"a": 1}, None)


def test_estimate_input_tokens_counts_text_tools_and_images() -> None:
    text = m.Message(role="user", content=(m.TextBlock(text="x" * 400),))
    image = m.Message(role="user", content=(m.ImageBlock(source=m.UrlSource(url="https://e/x.png")),))
    base = m.estimate_input_tokens(m.Request(model="m", messages=(text,)))
    assert base == 100 + 4
    with_image = m.estimate_input_tokens(m.Request(model="m", messages=(text, image)))
    assert with_image == base + 4 + 1600
    tool = m.Tool(name="t", description="d" * 40, input_schema={"type": "object"})
    with_tool = m.estimate_input_tokens(m.Request(model="m", messages=(text,), tools=(tool,)))
    assert with_tool > base


def test_kind_for_status() -> None:
    assert [m.kind_for_status(s) for s in (400, 401, 403, 404, 413, 429, 500, 503, 529, 418)] == [
        "invalid_request",
        "authentication",
        "permission",
        "not_found",
        "request_too_large",
        "rate_limit",
        "api_error",
        "overloaded",
        "overloaded",
        "invalid_request",
    ]
