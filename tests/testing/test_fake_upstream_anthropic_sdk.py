"""The official Anthropic SDK parses everything the fake upstream renders."""

from __future__ import annotations

from collections.abc import AsyncIterator

import anthropic
import pytest
from anthropic.types import MessageParam

from lunaroute.testing import Answer, FakeUpstream, Reply, ToolCall, Usage

MESSAGES: list[MessageParam] = [{"role": "user", "content": "Hi"}]
FULL = Answer(
    text="It is sunny.",
    thinking="The user wants the weather.",
    thinking_signature="EqoBCkgsig",
    tool_calls=(ToolCall(id="toolu_01", name="get_weather", arguments='{"city": "Paris", "days": [1, 2]}'),),
    usage=Usage(input_tokens=20, output_tokens=9, cache_read_tokens=100),
)


@pytest.fixture
async def client(up: FakeUpstream) -> AsyncIterator[anthropic.AsyncAnthropic]:
    async with anthropic.AsyncAnthropic(base_url=up.anthropic_base_url, api_key="k", max_retries=0) as c:
        yield c


async def test_messages_non_streaming(up: FakeUpstream, client: anthropic.AsyncAnthropic) -> None:
    up.enqueue(Reply(answer=FULL))
    message = await client.messages.create(model="claude-x", max_tokens=50, messages=MESSAGES)
    assert message.model == "claude-x"
    assert [block.type for block in message.content] == ["thinking", "text", "tool_use"]
    thinking, text, tool = message.content
    assert thinking.thinking == FULL.thinking  # type: ignore[union-attr]
    assert thinking.signature == "EqoBCkgsig"  # type: ignore[union-attr]
    assert text.text == "It is sunny."  # type: ignore[union-attr]
    assert tool.input == {"city": "Paris", "days": [1, 2]}  # type: ignore[union-attr]
    assert message.stop_reason == "tool_use"
    assert message.usage.cache_read_input_tokens == 100
    request = up.last_request
    assert request.path == "/v1/messages"
    assert request.header("x-api-key") == "k" or request.header("authorization") == "Bearer k"
    assert request.header("anthropic-version") is not None


async def test_messages_streaming_accumulates_every_block(up: FakeUpstream, client: anthropic.AsyncAnthropic) -> None:
    up.enqueue(Reply(answer=FULL, pieces=4, ping=True))
    text_deltas: list[str] = []
    async with client.messages.stream(model="claude-x", max_tokens=50, messages=MESSAGES) as stream:
        async for delta in stream.text_stream:
            text_deltas.append(delta)
        message = await stream.get_final_message()
    assert "".join(text_deltas) == "It is sunny."
    assert len(text_deltas) == 4
    thinking, _, tool = message.content
    assert thinking.thinking == FULL.thinking  # type: ignore[union-attr]
    assert thinking.signature == "EqoBCkgsig"  # type: ignore[union-attr]
    assert tool.input == {"city": "Paris", "days": [1, 2]}  # type: ignore[union-attr]
    assert message.stop_reason == "tool_use"
    assert message.usage.output_tokens == 9
    assert message.usage.input_tokens == 20


async def test_raw_stream_events(up: FakeUpstream, client: anthropic.AsyncAnthropic) -> None:
    stream = await client.messages.create(model="m", max_tokens=5, messages=MESSAGES, stream=True)
    kinds = [event.type async for event in stream]
    assert kinds[0] == "message_start"
    assert kinds[-2:] == ["message_delta", "message_stop"]


async def test_count_tokens(up: FakeUpstream, client: anthropic.AsyncAnthropic) -> None:
    result = await client.messages.count_tokens(model="m", messages=MESSAGES)
    assert result.input_tokens == len(up.last_request.body) // 4
    assert up.last_request.path == "/v1/messages/count_tokens"


@pytest.mark.parametrize(
    ("status", "error", "kind"),
    [
        (400, anthropic.BadRequestError, "invalid_request_error"),
        (401, anthropic.AuthenticationError, "authentication_error"),
        (404, anthropic.NotFoundError, "not_found_error"),
        (429, anthropic.RateLimitError, "rate_limit_error"),
        (500, anthropic.InternalServerError, "api_error"),
        (529, anthropic.OverloadedError, "overloaded_error"),
    ],
)
async def test_error_statuses_raise_the_sdk_exceptions(
    up: FakeUpstream,
    client: anthropic.AsyncAnthropic,
    status: int,
    error: type[anthropic.APIStatusError],
    kind: str,
) -> None:
    up.enqueue(Reply(status=status, error_message="scripted", retry_after="3"))
    with pytest.raises(error) as caught:
        await client.messages.create(model="m", max_tokens=5, messages=MESSAGES, stream=True)
    assert caught.value.status_code == status
    assert caught.value.body == {"type": "error", "error": {"type": kind, "message": "scripted"}}
    assert caught.value.response.headers["retry-after"] == "3"


async def test_custom_error_type(up: FakeUpstream, client: anthropic.AsyncAnthropic) -> None:
    up.enqueue(Reply(status=413, error_type="request_too_large", error_message="too big"))
    with pytest.raises(anthropic.APIStatusError) as caught:
        await client.messages.create(model="m", max_tokens=5, messages=MESSAGES)
    assert caught.value.status_code == 413
    assert caught.value.body["error"]["type"] == "request_too_large"  # type: ignore[index]


async def test_mid_stream_error_event_raises(up: FakeUpstream, client: anthropic.AsyncAnthropic) -> None:
    up.enqueue(Reply(error_after_chunks=3, error_type="overloaded_error", error_message="Overloaded"))
    stream = await client.messages.create(model="m", max_tokens=5, messages=MESSAGES, stream=True)
    kinds: list[str] = []

    async def consume() -> None:
        async for event in stream:
            kinds.append(event.type)

    with pytest.raises(anthropic.APIStatusError, match="overloaded_error"):
        await consume()
    assert kinds == ["message_start", "content_block_start", "content_block_delta"]


async def test_stalled_stream_hits_the_sdk_timeout(up: FakeUpstream) -> None:
    up.enqueue(Reply(first_chunk_then_stall=5.0))
    async with anthropic.AsyncAnthropic(
        base_url=up.anthropic_base_url, api_key="k", max_retries=0, timeout=0.3
    ) as client:
        stream = await client.messages.create(model="m", max_tokens=5, messages=MESSAGES, stream=True)

        async def consume() -> None:
            async for _ in stream:
                pass

        # Read errors while iterating a stream surface as the HTTP library's own timeout class.
        with pytest.raises(Exception) as caught:  # noqa: PT011
            await consume()
        assert "Timeout" in type(caught.value).__name__
    abort = await up.wait_for_abort(within=2.0)
    assert abort.chunks_sent == 1
