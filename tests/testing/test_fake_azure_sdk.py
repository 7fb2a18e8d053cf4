"""`FakeAzure` against the official `openai.AsyncAzureOpenAI` client (dated API) and `AsyncOpenAI` on `/openai/v1`."""

from __future__ import annotations

from collections.abc import AsyncIterator

import openai
import pytest

from lunaroute.testing import Answer, FakeAzure, Reply, Usage


@pytest.fixture
async def azure() -> AsyncIterator[FakeAzure]:
    async with FakeAzure(deployments=["chat-prod", "embed"]) as fake:
        yield fake


async def test_azure_sdk_chat_with_api_key(azure: FakeAzure) -> None:
    azure.enqueue(Reply(answer=Answer(text="Hi from Azure.", usage=Usage(input_tokens=5, output_tokens=3))))
    async with openai.AsyncAzureOpenAI(
        azure_endpoint=azure.url, api_key=azure.api_key, api_version="2024-10-21", max_retries=0
    ) as client:
        answer = await client.chat.completions.create(model="chat-prod", messages=[{"role": "user", "content": "hi"}])
    assert answer.choices[0].message.content == "Hi from Azure."
    assert answer.usage is not None
    assert answer.usage.total_tokens == 8
    sent = azure.last_request
    assert sent.path == "/openai/deployments/chat-prod/chat/completions"
    assert sent.query_string == "api-version=2024-10-21"
    assert azure.deployments_called == ["chat-prod"]


async def test_azure_sdk_streams_with_an_entra_token(azure: FakeAzure) -> None:
    azure.enqueue(Reply(answer=Answer(text="streamed words")))
    async with openai.AsyncAzureOpenAI(
        azure_endpoint=azure.url, azure_ad_token=azure.token, api_version="2024-10-21", max_retries=0
    ) as client:
        stream = await client.chat.completions.create(
            model="chat-prod", messages=[{"role": "user", "content": "hi"}], stream=True
        )
        text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
    assert text == "streamed words"
    assert azure.last_request.header("authorization") == f"Bearer {azure.token}"


async def test_wrong_key_and_unknown_deployment_are_azure_errors(azure: FakeAzure) -> None:
    async with openai.AsyncAzureOpenAI(
        azure_endpoint=azure.url, api_key="wrong", api_version="2024-10-21", max_retries=0
    ) as client:
        with pytest.raises(openai.AuthenticationError, match="invalid subscription key"):
            await client.chat.completions.create(model="chat-prod", messages=[{"role": "user", "content": "hi"}])
    async with openai.AsyncAzureOpenAI(
        azure_endpoint=azure.url, api_key=azure.api_key, api_version="2024-10-21", max_retries=0
    ) as client:
        with pytest.raises(openai.NotFoundError) as missing:
            await client.chat.completions.create(model="nope", messages=[{"role": "user", "content": "hi"}])
    assert missing.value.code == "DeploymentNotFound"


async def test_v1_api_takes_the_deployment_in_the_body(azure: FakeAzure) -> None:
    azure.enqueue(Reply(answer=Answer(text="v1 answer")))
    async with openai.AsyncOpenAI(base_url=f"{azure.url}/openai/v1/", api_key=azure.api_key, max_retries=0) as client:
        answer = await client.chat.completions.create(model="chat-prod", messages=[{"role": "user", "content": "hi"}])
        embedding = await client.embeddings.create(model="embed", input="hello")
    assert answer.choices[0].message.content == "v1 answer"
    assert embedding.data[0].embedding
    assert [r.path for r in azure.requests] == ["/openai/v1/chat/completions", "/openai/v1/embeddings"]
