"""The official OpenAI SDK parses everything the fake upstream renders."""

from __future__ import annotations

from collections.abc import AsyncIterator

import openai
import pytest
from openai.types.chat import ChatCompletionMessageParam

from lunaroute.testing import Answer, FakeUpstream, Reply, ToolCall, Usage

MESSAGES: list[ChatCompletionMessageParam] = [{"role": "user", "content": "Hi"}]
TOOL = ToolCall(id="call_abc", name="get_weather", arguments='{"city": "Paris"}')


@pytest.fixture
async def client(up: FakeUpstream) -> AsyncIterator[openai.AsyncOpenAI]:
    async with openai.AsyncOpenAI(base_url=up.openai_base_url, api_key="k", max_retries=0) as c:
        yield c


async def test_chat_non_streaming(up: FakeUpstream, client: openai.AsyncOpenAI) -> None:
    up.enqueue(Reply(answer=Answer(text="Bonjour", usage=Usage(input_tokens=7, output_tokens=1, cache_read_tokens=3))))
    result = await client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert result.choices[0].message.content == "Bonjour"
    assert result.model == "gpt-4o"
    assert result.choices[0].finish_reason == "stop"
    assert result.usage is not None
    assert result.usage.prompt_tokens == 10
    assert result.usage.prompt_tokens_details is not None
    assert result.usage.prompt_tokens_details.cached_tokens == 3
    assert up.last_request.path == "/v1/chat/completions"
    assert up.last_request.json()["model"] == "gpt-4o"


async def test_chat_streaming_with_usage(up: FakeUpstream, client: openai.AsyncOpenAI) -> None:
    up.enqueue(Reply(answer=Answer(text="Hello world, streamed."), pieces=5))
    stream = await client.chat.completions.create(
        model="gpt-4o",
        messages=MESSAGES,
        stream=True,
        stream_options={"include_usage": True},
    )
    text, usage, finish = [], None, None
    async for chunk in stream:
        if chunk.usage is not None:
            usage = chunk.usage
        for choice in chunk.choices:
            text.append(choice.delta.content or "")
            finish = choice.finish_reason or finish
    assert "".join(text) == "Hello world, streamed."
    assert finish == "stop"
    assert usage is not None
    assert usage.completion_tokens == 3


async def test_chat_tool_calls_streaming_and_not(up: FakeUpstream, client: openai.AsyncOpenAI) -> None:
    answer = Answer(tool_calls=(TOOL, ToolCall(name="second", arguments="{}")))
    up.enqueue(Reply(answer=answer), Reply(answer=answer))
    result = await client.chat.completions.create(model="m", messages=MESSAGES)
    calls = result.choices[0].message.tool_calls
    assert calls is not None
    assert [(c.id, c.function.name, c.function.arguments) for c in calls] == [  # type: ignore[union-attr]
        ("call_abc", "get_weather", '{"city": "Paris"}'),
        ("call_mock_1", "second", "{}"),
    ]
    assert result.choices[0].finish_reason == "tool_calls"
    async with client.chat.completions.stream(model="m", messages=MESSAGES) as stream:
        final = await stream.get_final_completion()
    streamed = final.choices[0].message.tool_calls
    assert streamed is not None
    assert [(c.id, c.function.arguments) for c in streamed] == [
        ("call_abc", '{"city": "Paris"}'),
        ("call_mock_1", "{}"),
    ]


async def test_responses_non_streaming(up: FakeUpstream, client: openai.AsyncOpenAI) -> None:
    up.enqueue(Reply(answer=Answer(text="Done.", tool_calls=(TOOL,))))
    response = await client.responses.create(model="gpt-4.1", input="Hi")
    assert response.output_text == "Done."
    assert response.status == "completed"
    calls = [item for item in response.output if item.type == "function_call"]
    assert calls[0].call_id == "call_abc"
    assert response.usage is not None


async def test_responses_streaming_accumulates(up: FakeUpstream, client: openai.AsyncOpenAI) -> None:
    up.enqueue(Reply(answer=Answer(text="Streamed text", thinking="hmm", tool_calls=(TOOL,)), pieces=3))
    deltas: list[str] = []
    async with client.responses.stream(model="gpt-4.1", input="Hi") as stream:
        async for event in stream:
            if event.type == "response.output_text.delta":
                deltas.append(event.delta)
        final = await stream.get_final_response()
    assert "".join(deltas) == "Streamed text"
    assert final.output_text == "Streamed text"
    assert [item.type for item in final.output] == ["reasoning", "message", "function_call"]
    assert final.usage is not None
    assert final.usage.output_tokens == 2


async def test_completions_embeddings_models(up: FakeUpstream, client: openai.AsyncOpenAI) -> None:
    completion = await client.completions.create(model="instruct", prompt="Say hi")
    assert completion.choices[0].text == "Hello from the fake upstream."
    stream = await client.completions.create(model="instruct", prompt="Say hi", stream=True)
    assert "".join([c.choices[0].text async for c in stream if c.choices]) == "Hello from the fake upstream."
    embeddings = await client.embeddings.create(model="text-embedding-3-small", input=["a", "b"])
    assert len(embeddings.data) == 2
    assert len(embeddings.data[0].embedding) == 16
    floats = await client.embeddings.create(model="e", input="a", encoding_format="float")
    assert floats.data[0].embedding == pytest.approx(embeddings.data[0].embedding, rel=1e-6)
    short = await client.embeddings.create(model="e", input="a", dimensions=5)
    assert len(short.data[0].embedding) == 5
    models = await client.models.list()
    assert [m.id async for m in models] == ["gpt-mock"]


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (400, openai.BadRequestError),
        (401, openai.AuthenticationError),
        (403, openai.PermissionDeniedError),
        (404, openai.NotFoundError),
        (429, openai.RateLimitError),
        (500, openai.InternalServerError),
        (503, openai.InternalServerError),
    ],
)
async def test_error_statuses_raise_the_sdk_exceptions(
    up: FakeUpstream, client: openai.AsyncOpenAI, status: int, error: type[openai.APIStatusError]
) -> None:
    up.enqueue(Reply(status=status, error_message="scripted", retry_after="7"))
    with pytest.raises(error) as caught:
        await client.chat.completions.create(model="m", messages=MESSAGES, stream=True)
    assert caught.value.status_code == status
    assert caught.value.message.endswith("scripted")
    assert caught.value.response.headers["retry-after"] == "7"
    assert isinstance(caught.value.body, dict)
    assert caught.value.body["message"] == "scripted"


async def test_mid_stream_error_raises_api_error(up: FakeUpstream, client: openai.AsyncOpenAI) -> None:
    up.enqueue(Reply(error_after_chunks=2, error_message="went away"))
    stream = await client.chat.completions.create(model="m", messages=MESSAGES, stream=True)
    received: list[object] = []

    async def consume() -> None:
        async for chunk in stream:
            received.append(chunk)

    with pytest.raises(openai.APIError, match="went away"):
        await consume()
    assert len(received) == 2


async def test_responses_mid_stream_error_event(up: FakeUpstream, client: openai.AsyncOpenAI) -> None:
    up.enqueue(Reply(error_after_chunks=3, error_message="boom", error_type="server_error"))
    stream = await client.responses.create(model="m", input="Hi", stream=True)
    events = [event async for event in stream]
    assert events[-1].type == "error"
    assert events[-1].message == "boom"
    assert events[-1].sequence_number == 3


async def test_gzip_bodies_and_streams_decode(up: FakeUpstream, client: openai.AsyncOpenAI) -> None:
    up.enqueue(Reply(gzip=True), Reply(gzip=True, chunk_delay=0.01))
    result = await client.chat.completions.create(model="m", messages=MESSAGES)
    assert result.choices[0].message.content == "Hello from the fake upstream."
    stream = await client.chat.completions.create(model="m", messages=MESSAGES, stream=True)
    text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
    assert text == "Hello from the fake upstream."


async def test_reset_mid_stream_is_a_connection_error(up: FakeUpstream, client: openai.AsyncOpenAI) -> None:
    up.enqueue(Reply(reset_after_chunks=2))
    stream = await client.chat.completions.create(model="m", messages=MESSAGES, stream=True)
    received: list[object] = []

    async def consume() -> None:
        async for chunk in stream:
            received.append(chunk)

    with pytest.raises(openai.APIConnectionError):
        await consume()
    assert len(received) == 2
    assert up.aborted == 0


async def test_reset_before_headers_is_a_connection_error(up: FakeUpstream, client: openai.AsyncOpenAI) -> None:
    up.enqueue(Reply(reset_before_headers=True))
    with pytest.raises(openai.APIConnectionError):
        await client.chat.completions.create(model="m", messages=MESSAGES)


async def test_html_error_page_raises_with_the_status(up: FakeUpstream, client: openai.AsyncOpenAI) -> None:
    up.enqueue(Reply(status=502, content_type="text/html"))
    with pytest.raises(openai.InternalServerError) as caught:
        await client.chat.completions.create(model="m", messages=MESSAGES)
    assert caught.value.status_code == 502
    assert "502 Bad Gateway" in caught.value.response.text
