"""The official OpenAI SDK reads what the Responses encoders produce (served through an in-memory transport)."""

from __future__ import annotations

from pathlib import Path

import httpx2 as httpx
import openai as sdk

from lunaroute.dialects import anthropic_messages as anthropic
from lunaroute.dialects import openai_responses as codec

FIXTURES = Path(__file__).parents[2] / "fixtures" / "anthropic_messages"


def client(status: int, body: bytes, content_type: str = "application/json") -> sdk.OpenAI:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, content=body, headers={"content-type": content_type})

    http = httpx.Client(transport=httpx.MockTransport(handler))
    return sdk.OpenAI(api_key="k", base_url="http://gateway.test/v1", http_client=http, max_retries=0)


def test_sdk_stream_accumulator_accepts_a_translated_stream() -> None:
    decoder = anthropic.StreamDecoder()
    encoder = codec.StreamEncoder(model_name="gpt-5.5", response_id="resp_t1")
    data = (FIXTURES / "stream_tool_use.sse").read_bytes()
    body = b"".join(encoder.encode(e) for e in decoder.feed(data) + decoder.finish()) + encoder.finish()
    with client(200, body, "text/event-stream").responses.stream(model="gpt-5.5", input="weather?") as stream:
        kinds = [event.type for event in stream]
        final = stream.get_final_response()
    assert kinds[0] == "response.created"
    assert kinds[-1] == "response.completed"
    assert final.id == "resp_t1"
    assert final.output_text == "Okay, let's check the weather for San Francisco, CA:"
    call = final.output[-1]
    assert call.type == "function_call"
    assert call.call_id == "toolu_01T1x1fJ34qAmk2tNTrN7Up6"
    assert final.usage is not None
    assert final.usage.output_tokens == 89


def test_sdk_reads_a_translated_response() -> None:
    resp = anthropic.decode_response((FIXTURES / "response_text.json").read_bytes())
    response = client(200, codec.encode_response(resp, model_name="gpt-5.5")).responses.create(
        model="gpt-5.5", input="hi"
    )
    assert response.output_text == "Hi! My name is Claude."
    assert response.status == "completed"
    assert response.usage is not None
    assert response.usage.input_tokens == 2095 + 2051 + 1024
    assert response.usage.input_tokens_details.cached_tokens == 1024
    assert response.usage.input_tokens_details.cache_write_tokens == 2051
