"""The official Anthropic SDK reads what the encoders produce (served through an in-memory transport)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import anthropic as sdk
import httpx2 as httpx
import pytest

from lunaroute.dialects import anthropic_messages as codec
from lunaroute.dialects import openai_chat as openai

FIXTURES = Path(__file__).parents[2] / "fixtures" / "openai_chat"


def client(status: int, body: bytes, content_type: str = "application/json") -> sdk.Anthropic:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, content=body, headers={"content-type": content_type})

    http = httpx.Client(transport=httpx.MockTransport(handler))
    return sdk.Anthropic(api_key="k", base_url="http://gateway.test", http_client=http, max_retries=0)


def ask(c: sdk.Anthropic, stream: bool = False) -> Callable[[], object]:
    def call() -> object:
        messages: list[sdk.types.MessageParam] = [{"role": "user", "content": "hi"}]
        if stream:
            with c.messages.stream(model="claude", max_tokens=10, messages=messages) as s:
                return s.get_final_message()
        return c.messages.create(model="claude", max_tokens=10, messages=messages)

    return call


def test_sdk_reads_a_translated_stream() -> None:
    decoder = openai.StreamDecoder()
    encoder = codec.StreamEncoder(model_name="claude", include_usage=True)
    data = (FIXTURES / "stream_parallel_tools.sse").read_bytes()
    body = b"".join(encoder.encode(e) for e in decoder.feed(data) + decoder.finish()) + encoder.finish()
    message = ask(client(200, body, "text/event-stream"), stream=True)()
    assert isinstance(message, sdk.types.Message)
    assert [b.input for b in message.content if b.type == "tool_use"] == [{"location": "Paris"}, {"location": "Bogotá"}]
    assert message.stop_reason == "tool_use"
    assert message.usage.cache_read_input_tokens == 64


def test_sdk_reads_a_translated_response() -> None:
    resp = openai.decode_response((FIXTURES / "response_reasoning.json").read_bytes())
    message = ask(client(200, codec.encode_response(resp, model_name="claude")))()
    assert isinstance(message, sdk.types.Message)
    assert message.content[0].type == "thinking"
    assert message.content[1].type == "text"
    assert message.stop_reason == "max_tokens"


@pytest.mark.parametrize(
    ("status", "body", "exception"),
    [
        (429, b'{"error": {"message": "slow", "type": "tokens"}}', sdk.RateLimitError),
        (503, b'{"error": {"message": "busy", "type": "server_error"}}', sdk.InternalServerError),
        (400, b'{"error": {"message": "bad", "type": "invalid_request_error"}}', sdk.BadRequestError),
        (401, b'{"error": {"message": "key", "type": "invalid_request_error"}}', sdk.AuthenticationError),
    ],
)
def test_sdk_raises_the_matching_exception(status: int, body: bytes, exception: type[Exception]) -> None:
    err = openai.decode_error(status, body)
    with pytest.raises(exception) as info:
        ask(client(codec.error_status(err), codec.encode_error(err)))()
    assert err.message in str(info.value)
