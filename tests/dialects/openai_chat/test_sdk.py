"""The official OpenAI SDK reads what the encoders produce (served through an in-memory transport)."""

from __future__ import annotations

from pathlib import Path

import httpx2 as httpx
import openai as sdk
import pytest

from lunaroute.dialects import anthropic_messages as anthropic
from lunaroute.dialects import openai_chat as codec

FIXTURES = Path(__file__).parents[2] / "fixtures" / "anthropic_messages"


def client(status: int, body: bytes, content_type: str = "application/json") -> sdk.OpenAI:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, content=body, headers={"content-type": content_type})

    http = httpx.Client(transport=httpx.MockTransport(handler))
    return sdk.OpenAI(api_key="k", base_url="http://gateway.test/v1", http_client=http, max_retries=0)


def test_sdk_reads_a_translated_stream() -> None:
    decoder = anthropic.StreamDecoder()
    encoder = codec.StreamEncoder(model_name="gpt", include_usage=True)
    data = (FIXTURES / "stream_tool_use.sse").read_bytes()
    body = b"".join(encoder.encode(e) for e in decoder.feed(data) + decoder.finish()) + encoder.finish()
    c = client(200, body, "text/event-stream")
    with c.chat.completions.stream(model="gpt", messages=[{"role": "user", "content": "hi"}]) as s:
        completion = s.get_final_completion()
    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content == "Okay, let's check the weather for San Francisco, CA:"
    calls = choice.message.tool_calls or []
    assert calls[0].id == "toolu_01T1x1fJ34qAmk2tNTrN7Up6"
    assert completion.usage is not None
    assert completion.usage.completion_tokens == 89


def test_sdk_reads_a_translated_response() -> None:
    resp = anthropic.decode_response((FIXTURES / "response_text.json").read_bytes())
    completion = client(200, codec.encode_response(resp)).chat.completions.create(
        model="gpt", messages=[{"role": "user", "content": "hi"}]
    )
    assert completion.choices[0].message.content == "Hi! My name is Claude."
    assert completion.usage is not None
    assert completion.usage.prompt_tokens == 2095 + 2051 + 1024


@pytest.mark.parametrize(
    ("name", "status", "exception"),
    [
        ("error_overloaded.json", 529, sdk.InternalServerError),
        ("error_rate_limit.json", 429, sdk.RateLimitError),
        ("error_invalid_request.json", 400, sdk.BadRequestError),
    ],
)
def test_sdk_raises_the_matching_exception(name: str, status: int, exception: type[Exception]) -> None:
    err = anthropic.decode_error(status, (FIXTURES / name).read_bytes())
    c = client(codec.error_status(err), codec.encode_error(err))
    with pytest.raises(exception) as info:
        c.chat.completions.create(model="gpt", messages=[{"role": "user", "content": "hi"}])
    assert err.message in str(info.value)
