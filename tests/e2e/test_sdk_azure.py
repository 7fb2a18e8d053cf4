"""The official `openai` (passthrough, path rewritten) and `anthropic` (translated) SDKs through the gateway to an
Azure OpenAI provider, against `FakeAzure`."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import anthropic
import openai
import pytest

from lunaroute.testing import Answer, FakeAzure, GatewayFactory, GatewayServer, Reply, ToolCall, Usage

pytestmark = pytest.mark.e2e


@pytest.fixture
async def azure() -> AsyncIterator[FakeAzure]:
    async with FakeAzure(deployments=["gpt4o-prod", "embed-small"]) as fake:
        yield fake


def azure_provider(fake: FakeAzure, **extra: Any) -> dict[str, Any]:
    return {
        "provider_type": "azure",
        "base_url": fake.url,
        "api_version": "2024-10-21",
        "api_key": fake.api_key,
        "deployments": {"gpt-4o": "gpt4o-prod", "text-embedding-3-small": "embed-small"},
        **extra,
    }


async def _gateway(make_gateway: GatewayFactory, provider: dict[str, Any]) -> GatewayServer:
    return await make_gateway(
        providers={"az": provider}, routing={"rules": [{"name": "all", "model_pattern": ".", "primary": "az"}]}
    )


@pytest.fixture
async def gateway(azure: FakeAzure, make_gateway: GatewayFactory) -> GatewayServer:
    return await _gateway(make_gateway, azure_provider(azure))


@pytest.fixture
async def oai(gateway: GatewayServer) -> AsyncIterator[openai.AsyncOpenAI]:
    async with openai.AsyncOpenAI(base_url=f"{gateway.url}/v1", api_key="sk-client", max_retries=0) as client:
        yield client


@pytest.fixture
async def ant(gateway: GatewayServer) -> AsyncIterator[anthropic.AsyncAnthropic]:
    async with anthropic.AsyncAnthropic(base_url=gateway.url, api_key="sk-client", max_retries=0) as client:
        yield client


async def test_openai_sdk_passes_through_to_the_deployment(azure: FakeAzure, oai: openai.AsyncOpenAI) -> None:
    azure.enqueue(Reply(answer=Answer(text="Hello from Azure.", usage=Usage(input_tokens=4, output_tokens=3))))
    answer = await oai.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
    assert answer.choices[0].message.content == "Hello from Azure."
    sent = azure.last_request
    assert sent.path == "/openai/deployments/gpt4o-prod/chat/completions"
    assert sent.query_string == "api-version=2024-10-21"
    assert sent.header("api-key") == azure.api_key
    assert sent.header("authorization") is None
    assert sent.json()["model"] == "gpt-4o"


async def test_openai_sdk_stream_and_embeddings(azure: FakeAzure, oai: openai.AsyncOpenAI) -> None:
    azure.enqueue(Reply(answer=Answer(text="one two three", usage=Usage(input_tokens=2, output_tokens=3))))
    stream = await oai.chat.completions.create(
        model="gpt-4o",
        messages=[{"role": "user", "content": "count"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    text, usage = "", None
    async for chunk in stream:
        usage = chunk.usage or usage
        text += "".join(c.delta.content or "" for c in chunk.choices)
    assert text == "one two three"
    assert usage is not None
    assert usage.completion_tokens == 3
    embedding = await oai.embeddings.create(model="text-embedding-3-small", input="hello")
    assert embedding.data[0].embedding
    assert azure.deployments_called == ["gpt4o-prod", "embed-small"]


async def test_anthropic_sdk_is_translated_with_tools(azure: FakeAzure, ant: anthropic.AsyncAnthropic) -> None:
    call = ToolCall(name="get_weather", arguments='{"city": "Oslo"}', id="call_1")
    azure.enqueue(Reply(answer=Answer(tool_calls=(call,), usage=Usage(input_tokens=9, output_tokens=5))))
    tools: list[Any] = [{"name": "get_weather", "input_schema": {"type": "object"}}]
    async with ant.messages.stream(
        model="gpt-4o", max_tokens=100, tools=tools, messages=[{"role": "user", "content": "Weather in Oslo?"}]
    ) as stream:
        first = await stream.get_final_message()
    assert first.content[0].type == "tool_use"
    assert first.content[0].input == {"city": "Oslo"}  # type: ignore[union-attr]
    assert azure.last_request.path == "/openai/deployments/gpt4o-prod/chat/completions"
    azure.enqueue(Reply(answer=Answer(text="Cold.")))
    second = await ant.messages.create(
        model="gpt-4o",
        max_tokens=100,
        tools=tools,
        messages=[
            {"role": "user", "content": "Weather in Oslo?"},
            {"role": "assistant", "content": [b.model_dump() for b in first.content]},  # type: ignore[misc]
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "call_1", "content": "-3C"}]},
        ],
    )
    assert second.content[0].text == "Cold."  # type: ignore[union-attr]
    messages = azure.last_request.json()["messages"]
    assert messages[-1] == {"role": "tool", "tool_call_id": "call_1", "content": "-3C"}


async def test_azure_errors_reach_both_sdks(
    azure: FakeAzure, oai: openai.AsyncOpenAI, ant: anthropic.AsyncAnthropic
) -> None:
    azure.enqueue(Reply(status=429, error_message="Rate limit is exceeded."))
    with pytest.raises(openai.RateLimitError):
        await oai.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
    azure.enqueue(Reply(status=429, error_message="Rate limit is exceeded."))
    with pytest.raises(anthropic.RateLimitError, match="Rate limit is exceeded"):
        await ant.messages.create(model="gpt-4o", max_tokens=5, messages=[{"role": "user", "content": "hi"}])
    with pytest.raises(anthropic.NotFoundError, match="deployment for this resource does not exist"):
        await ant.messages.create(model="gpt-unknown", max_tokens=5, messages=[{"role": "user", "content": "hi"}])


async def test_entra_token_and_v1_api(azure: FakeAzure, make_gateway: GatewayFactory) -> None:
    provider = azure_provider(azure, api_version="v1", api_key=None, azure_ad_token=azure.token)
    gateway = await _gateway(make_gateway, provider)
    azure.enqueue(Reply(answer=Answer(text="v1 says hi")))
    async with openai.AsyncOpenAI(base_url=f"{gateway.url}/v1", api_key="sk-client", max_retries=0) as client:
        answer = await client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
    assert answer.choices[0].message.content == "v1 says hi"
    sent = azure.last_request
    assert sent.path == "/openai/v1/chat/completions"
    assert sent.header("authorization") == f"Bearer {azure.token}"
    assert sent.json()["model"] == "gpt4o-prod"


async def test_without_provider_credentials_the_client_key_is_refused_by_azure(
    azure: FakeAzure, make_gateway: GatewayFactory
) -> None:
    gateway = await _gateway(make_gateway, azure_provider(azure, api_key=None))
    async with openai.AsyncOpenAI(base_url=f"{gateway.url}/v1", api_key="sk-client", max_retries=0) as client:
        with pytest.raises(openai.AuthenticationError):
            await client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
    assert azure.last_request.header("authorization") == "Bearer sk-client"


async def test_body_edits_apply_to_azure(azure: FakeAzure, make_gateway: GatewayFactory) -> None:
    provider = azure_provider(
        azure,
        request_body={"overrides": {"temperature": 0.1}},
        response_body={"enabled": True, "fields": {"provider": "${provider}"}},
    )
    gateway = await _gateway(make_gateway, provider)
    azure.enqueue(Reply(answer=Answer(text="edited")))
    async with openai.AsyncOpenAI(base_url=f"{gateway.url}/v1", api_key="sk-client", max_retries=0) as client:
        raw = await client.chat.completions.with_raw_response.create(
            model="gpt-4o", messages=[{"role": "user", "content": "hi"}]
        )
    answer = raw.parse()
    assert answer.choices[0].message.content == "edited"
    assert json.loads(raw.http_response.content)["lunaroute"] == {"provider": "az"}
    assert azure.last_request.json()["temperature"] == 0.1
