"""`FakeBedrock` against boto3's own `bedrock-runtime` client: SigV4, JSON answers, the event stream, errors."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import boto3
import pytest
from botocore.config import Config as BotoConfig
from botocore.exceptions import ClientError, EventStreamError

from lunaroute.testing import Answer, AwsKeys, FakeBedrock, Reply, ToolCall, Usage

MODEL = "anthropic.claude-sonnet-4-5-20250929-v1:0"


_OPEN: list[Any] = []


@pytest.fixture
async def bedrock() -> AsyncIterator[FakeBedrock]:
    async with FakeBedrock() as fake:
        yield fake
    while _OPEN:
        _OPEN.pop().close()


def _client(fake: FakeBedrock, keys: AwsKeys | None = None) -> Any:
    """A boto3 client on the fake, closed when the test ends (boto3 keeps its sockets until then)."""
    keys = keys or fake.keys
    client = boto3.client(
        "bedrock-runtime",
        region_name=fake.region,
        endpoint_url=fake.url,
        aws_access_key_id=keys.access_key_id,
        aws_secret_access_key=keys.secret_access_key,
        config=BotoConfig(retries={"total_max_attempts": 1, "mode": "standard"}),
    )
    _OPEN.append(client)
    return client


def _ask(**extra: Any) -> dict[str, Any]:
    return {"modelId": MODEL, "messages": [{"role": "user", "content": [{"text": "Hello"}]}], **extra}


async def test_converse_answers_text_usage_and_stop_reason(bedrock: FakeBedrock) -> None:
    bedrock.enqueue(Reply(answer=Answer(text="Hi there.", usage=Usage(input_tokens=7, output_tokens=3))))
    answer = await asyncio.to_thread(_client(bedrock).converse, **_ask(system=[{"text": "Be brief."}]))
    assert answer["output"]["message"] == {"role": "assistant", "content": [{"text": "Hi there."}]}
    assert answer["stopReason"] == "end_turn"
    assert answer["usage"] == {"inputTokens": 7, "outputTokens": 3, "totalTokens": 10}
    assert bedrock.model_ids == [MODEL]
    assert bedrock.last_request.path == "/model/anthropic.claude-sonnet-4-5-20250929-v1%3A0/converse"


async def test_converse_stream_is_decoded_by_boto3(bedrock: FakeBedrock) -> None:
    calls = (ToolCall(name="get_weather", arguments='{"city": "Paris"}', id="tooluse_1"),)
    answer = Answer(text="Checking.", thinking="The user wants weather.", thinking_signature="sig", tool_calls=calls)
    bedrock.enqueue(Reply(answer=answer))

    def stream() -> list[dict[str, Any]]:
        events = _client(bedrock).converse_stream(**_ask())["stream"]
        try:
            return list(events)
        finally:
            events.close()

    events = await asyncio.to_thread(stream)
    kinds = [next(iter(e)) for e in events]
    assert kinds[0] == "messageStart"
    assert kinds[-2:] == ["messageStop", "metadata"]
    reasoning = "".join(
        e["contentBlockDelta"]["delta"]["reasoningContent"].get("text", "")
        for e in events
        if "contentBlockDelta" in e and "reasoningContent" in e["contentBlockDelta"]["delta"]
    )
    assert reasoning == "The user wants weather."
    starts = [e["contentBlockStart"] for e in events if "contentBlockStart" in e]
    assert starts == [{"contentBlockIndex": 2, "start": {"toolUse": {"toolUseId": "tooluse_1", "name": "get_weather"}}}]
    arguments = "".join(
        e["contentBlockDelta"]["delta"]["toolUse"]["input"]
        for e in events
        if "contentBlockDelta" in e and "toolUse" in e["contentBlockDelta"]["delta"]
    )
    assert arguments == '{"city": "Paris"}'
    assert events[-2] == {"messageStop": {"stopReason": "tool_use"}}


async def test_wrong_secret_is_refused_as_aws_does(bedrock: FakeBedrock) -> None:
    client = _client(bedrock, AwsKeys(bedrock.keys.access_key_id, "not-the-secret"))
    with pytest.raises(ClientError) as caught:
        await asyncio.to_thread(client.converse, **_ask())
    assert caught.value.response["Error"]["Code"] == "InvalidSignatureException"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


async def test_unknown_key_is_refused(bedrock: FakeBedrock) -> None:
    with pytest.raises(ClientError) as caught:
        await asyncio.to_thread(_client(bedrock, AwsKeys("AKIDOTHER", "x")).converse, **_ask())
    assert caught.value.response["Error"]["Code"] == "UnrecognizedClientException"


async def test_throttling_is_a_429_throttling_exception(bedrock: FakeBedrock) -> None:
    bedrock.enqueue(Reply(status=429, error_message="Too many requests"))
    client = _client(bedrock)
    with pytest.raises(client.exceptions.ThrottlingException) as caught:
        await asyncio.to_thread(client.converse, **_ask())
    assert caught.value.response["Error"]["Message"] == "Too many requests"


async def test_mid_stream_exception_reaches_boto3(bedrock: FakeBedrock) -> None:
    bedrock.enqueue(Reply(answer=Answer(text="abcdefgh"), error_after_chunks=2))

    def stream() -> list[dict[str, Any]]:
        events = _client(bedrock).converse_stream(**_ask())["stream"]
        try:
            return list(events)
        finally:
            events.close()

    with pytest.raises(EventStreamError) as caught:
        await asyncio.to_thread(stream)
    assert caught.value.response["Error"]["Code"] == "throttlingException"


async def test_requests_aws_rejects_are_rejected(bedrock: FakeBedrock) -> None:
    client = _client(bedrock)
    bad_order = {"messages": [{"role": "assistant", "content": [{"text": "Hi"}]}]}
    with pytest.raises(client.exceptions.ValidationException, match="start with a user message"):
        await asyncio.to_thread(client.converse, **_ask(**bad_order))
    tool_history = [
        {"role": "user", "content": [{"text": "Weather?"}]},
        {"role": "assistant", "content": [{"toolUse": {"toolUseId": "t1", "name": "w", "input": {}}}]},
        {"role": "user", "content": [{"toolResult": {"toolUseId": "t1", "content": [{"text": "sunny"}]}}]},
    ]
    with pytest.raises(client.exceptions.ValidationException, match="toolConfig"):
        await asyncio.to_thread(client.converse, **_ask(messages=tool_history))
    assert len(bedrock.requests) == 2
