"""The official OpenAI SDK's Responses API through the gateway to providers that do not speak it (an Anthropic
fake and a chat-completions fake), and chat/messages clients on a Responses-only provider."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import anthropic
import openai
import pytest

from lunaroute.testing import Answer, FakeUpstream, GatewayFactory, GatewayServer, Reply, ToolCall, Usage

pytestmark = pytest.mark.e2e

WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "The weather in a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    "strict": False,
}


@pytest.fixture
async def gateway(upstream: FakeUpstream, make_gateway: GatewayFactory, tmp_path: Path) -> GatewayServer:
    """claude-* → Anthropic messages, qwen-* → chat completions only, gpt-5-codex → the Responses API only; no
    provider serves the Responses API for ids the gateway does not have."""
    return await make_gateway(
        providers={
            "openai": {"enabled": False},
            "ant": {"provider_type": "anthropic", "base_url": upstream.url},
            "chat": {"provider_type": "openai_chat", "base_url": f"{upstream.url}/v1"},
            "codex": {"provider_type": "openai_responses", "base_url": f"{upstream.url}/v1"},
        },
        routing={
            "rules": [
                {"name": "claude", "model_pattern": "^claude-", "primary": "ant"},
                {"name": "qwen", "model_pattern": "^qwen", "primary": "chat"},
                {"name": "codex", "model_pattern": "codex", "primary": "codex"},
            ]
        },
        responses={"database": str(tmp_path / "responses.db")},
    )


@pytest.fixture
async def oai(gateway: GatewayServer) -> AsyncIterator[openai.AsyncOpenAI]:
    async with openai.AsyncOpenAI(base_url=f"{gateway.url}/v1", api_key="sk-client", max_retries=0) as client:
        yield client


async def test_create_on_anthropic_provider(upstream: FakeUpstream, oai: openai.AsyncOpenAI) -> None:
    upstream.enqueue(Reply(answer=Answer(text="Bonjour.", usage=Usage(input_tokens=10, output_tokens=2))))
    response = await oai.responses.create(
        model="claude-sonnet-4-6",
        instructions="Answer in French.",
        input="Say hello",
        max_output_tokens=5000,
        reasoning={"effort": "low"},
        metadata={"ticket": "42"},
    )
    assert response.output_text == "Bonjour."
    assert response.status == "completed"
    assert response.id.startswith("resp_")
    assert response.metadata == {"ticket": "42"}
    assert response.instructions == "Answer in French."
    assert response.usage is not None
    assert response.usage.input_tokens == 10
    sent = upstream.last_request
    assert sent.path == "/v1/messages"
    body = sent.json()
    assert body["system"] == "Answer in French."
    assert body["messages"] == [{"role": "user", "content": [{"type": "text", "text": "Say hello"}]}]
    assert body["max_tokens"] == 5000
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 4096}
    assert sent.header("x-api-key") == "sk-client"


async def test_stream_tool_round_trip_with_previous_response_id(
    upstream: FakeUpstream, oai: openai.AsyncOpenAI
) -> None:
    call = ToolCall(name="get_weather", arguments='{"city": "Paris"}', id="toolu_1")
    upstream.enqueue(
        Reply(answer=Answer(thinking="Need the weather.", thinking_signature="sig-1", tool_calls=(call,))),
        Reply(answer=Answer(text="Sunny in Paris.")),
    )
    async with oai.responses.stream(model="claude-sonnet-4-6", input="Weather in Paris?", tools=[WEATHER]) as stream:
        kinds = [event.type async for event in stream]
        first = await stream.get_final_response()
    assert kinds[:2] == ["response.created", "response.in_progress"]
    assert kinds[-1] == "response.completed"
    assert "response.reasoning_summary_text.delta" in kinds
    assert "response.function_call_arguments.delta" in kinds
    reasoning, function_call = first.output
    assert reasoning.type == "reasoning"
    assert reasoning.encrypted_content == "sig-1"
    assert function_call.type == "function_call"
    assert function_call.call_id == "toolu_1"
    assert json.loads(function_call.arguments) == {"city": "Paris"}

    async with oai.responses.stream(
        model="claude-sonnet-4-6",
        previous_response_id=first.id,
        input=[{"type": "function_call_output", "call_id": "toolu_1", "output": "sunny, 24 C"}],
        tools=[WEATHER],
    ) as stream:
        second = await stream.get_final_response()
    assert second.output_text == "Sunny in Paris."
    assert second.previous_response_id == first.id
    body = upstream.last_request.json()
    assert [m["role"] for m in body["messages"]] == ["user", "assistant", "user"]
    assistant = body["messages"][1]["content"]
    assert assistant[0] == {"type": "thinking", "thinking": "Need the weather.", "signature": "sig-1"}
    assert assistant[1]["type"] == "tool_use"
    assert assistant[1]["id"] == "toolu_1"
    assert body["messages"][2]["content"][0] == {
        "type": "tool_result",
        "tool_use_id": "toolu_1",
        "content": "sunny, 24 C",
    }


async def test_stream_on_chat_provider(upstream: FakeUpstream, oai: openai.AsyncOpenAI) -> None:
    upstream.enqueue(
        Reply(answer=Answer(thinking="Thinking it over.", text="42", usage=Usage(input_tokens=7, output_tokens=3)))
    )
    async with oai.responses.stream(model="qwen3-32b", input="The answer?", reasoning={"effort": "high"}) as stream:
        final = await stream.get_final_response()
    assert final.output_text == "42"
    assert final.usage is not None
    assert final.usage.output_tokens == 3
    sent = upstream.last_request
    assert sent.path == "/v1/chat/completions"
    body = sent.json()
    assert body["reasoning_effort"] == "high"
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}


async def test_tool_results_on_chat_provider(upstream: FakeUpstream, oai: openai.AsyncOpenAI) -> None:
    upstream.enqueue(Reply(answer=Answer(text="Done.")))
    response = await oai.responses.create(
        model="qwen3-32b",
        input=[
            {"role": "user", "content": "Weather?"},
            {"type": "function_call", "call_id": "call_9", "name": "get_weather", "arguments": '{"city":"Oslo"}'},
            {"type": "function_call_output", "call_id": "call_9", "output": "snow"},
        ],
        tools=[WEATHER],
        tool_choice="required",
        parallel_tool_calls=False,
    )
    assert response.output_text == "Done."
    body = upstream.last_request.json()
    assert body["messages"][1]["tool_calls"][0]["id"] == "call_9"
    assert body["messages"][2] == {"role": "tool", "tool_call_id": "call_9", "content": "snow"}
    assert body["tool_choice"] == "required"
    assert body["parallel_tool_calls"] is False


async def test_retrieve_delete_and_unknown_ids(upstream: FakeUpstream, oai: openai.AsyncOpenAI) -> None:
    upstream.enqueue(Reply(answer=Answer(text="kept")), Reply(answer=Answer(text="not kept")))
    kept = await oai.responses.create(model="claude-sonnet-4-6", input="hi")
    again = await oai.responses.retrieve(kept.id)
    assert again.output_text == "kept"
    assert again.id == kept.id
    unkept = await oai.responses.create(model="claude-sonnet-4-6", input="hi", store=False)
    with pytest.raises(openai.NotFoundError):
        await oai.responses.retrieve(unkept.id)
    await oai.responses.delete(kept.id)
    with pytest.raises(openai.NotFoundError):
        await oai.responses.retrieve(kept.id)
    with pytest.raises(openai.NotFoundError) as info:
        await oai.responses.create(model="claude-sonnet-4-6", input="hi", previous_response_id="resp_nope")
    assert "resp_nope" in str(info.value)
    assert len(upstream.requests) == 2


async def test_hosted_tools_are_refused_by_name(upstream: FakeUpstream, oai: openai.AsyncOpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        await oai.responses.create(model="claude-sonnet-4-6", input="news?", tools=[{"type": "web_search"}])
    assert "web_search" in str(info.value)
    with pytest.raises(openai.BadRequestError) as background:
        await oai.responses.create(model="qwen3-32b", input="later", background=True)
    assert "background" in str(background.value)
    assert upstream.requests == []


async def test_upstream_error_in_the_responses_shape(upstream: FakeUpstream, oai: openai.AsyncOpenAI) -> None:
    upstream.enqueue(Reply(status=429, retry_after="0"))
    with pytest.raises(openai.RateLimitError):
        await oai.responses.create(model="claude-sonnet-4-6", input="hi")


async def test_chat_client_on_responses_provider(upstream: FakeUpstream, oai: openai.AsyncOpenAI) -> None:
    call = ToolCall(name="get_weather", arguments='{"city":"Rome"}', id="call_r")
    upstream.enqueue(Reply(answer=Answer(thinking="Look it up.", tool_calls=(call,))))
    stream = await oai.chat.completions.create(
        model="gpt-5-codex",
        messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Weather in Rome?"}],
        tools=[{"type": "function", "function": {"name": "get_weather", "parameters": WEATHER["parameters"]}}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = [chunk async for chunk in stream]
    calls = [c.delta.tool_calls for chunk in chunks for c in chunk.choices if c.delta.tool_calls]
    assert calls[0][0].id == "call_r"
    assert "".join(tc[0].function.arguments or "" for tc in calls) == '{"city":"Rome"}'
    assert [c.finish_reason for chunk in chunks for c in chunk.choices if c.finish_reason] == ["tool_calls"]
    sent = upstream.last_request
    assert sent.path == "/v1/responses"
    body = sent.json()
    assert body["instructions"] == "Be brief."
    assert body["input"] == [
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Weather in Rome?"}]}
    ]
    assert body["tools"][0]["name"] == "get_weather"
    assert body["tools"][0]["strict"] is False
    assert body["store"] is False
    assert sent.header("authorization") == "Bearer sk-client"


async def test_anthropic_client_on_responses_provider(upstream: FakeUpstream, gateway: GatewayServer) -> None:
    upstream.enqueue(
        Reply(
            answer=Answer(
                thinking="Hmm.", thinking_signature="enc-1", text="Hi!", usage=Usage(input_tokens=4, output_tokens=2)
            )
        )
    )
    async with anthropic.AsyncAnthropic(base_url=gateway.url, api_key="sk-ant", max_retries=0) as client:
        async with client.messages.stream(
            model="gpt-5-codex",
            max_tokens=1000,
            thinking={"type": "enabled", "budget_tokens": 2000},
            messages=[{"role": "user", "content": "hello"}],
        ) as stream:
            message = await stream.get_final_message()
    assert [block.type for block in message.content] == ["thinking", "text"]
    assert message.content[0].signature == "enc-1"  # type: ignore[union-attr]
    assert message.content[1].text == "Hi!"  # type: ignore[union-attr]
    assert message.usage.output_tokens == 2
    body = upstream.last_request.json()
    assert upstream.last_request.path == "/v1/responses"
    assert body["reasoning"] == {"effort": "low", "summary": "auto"}
    assert body["include"] == ["reasoning.encrypted_content"]
    assert body["max_output_tokens"] == 1000


async def test_unknown_ids_go_to_a_provider_that_serves_responses(
    upstream: FakeUpstream, make_gateway: GatewayFactory, tmp_path: Path
) -> None:
    gateway = await make_gateway(responses={"database": str(tmp_path / "responses.db")})
    async with openai.AsyncOpenAI(base_url=f"{gateway.url}/v1", api_key="sk-client", max_retries=0) as client:
        await client.responses.retrieve("resp_from_openai")
    assert [(r.method, r.path) for r in upstream.requests] == [("GET", "/v1/responses/resp_from_openai")]
