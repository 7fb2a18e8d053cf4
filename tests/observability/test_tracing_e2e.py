"""Traces from a real gateway to a real OTLP/HTTP receiver: the client's trace continues through the gateway
into the upstream request, with GenAI attributes on the spans."""

from __future__ import annotations

import openai
from tests.observability.otlp_receiver import OtlpReceiver

from lunaroute.testing import Answer, FakeUpstream, GatewayFactory, Reply, Usage

CLIENT_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = f"00-{CLIENT_TRACE}-00f067aa0ba902b7-01"


async def test_request_is_traced_end_to_end(upstream: FakeUpstream, make_gateway: GatewayFactory) -> None:
    async with OtlpReceiver() as receiver:
        gw = await make_gateway(
            observability={"tracing": {"enabled": True, "exporter": "otlp_http", "endpoint": receiver.url}}
        )
        upstream.enqueue(Reply(answer=Answer(text="traced", usage=Usage(input_tokens=5, output_tokens=1))))
        async with openai.AsyncOpenAI(base_url=f"{gw.url}/v1", api_key="k", max_retries=0) as client:
            await client.chat.completions.create(
                model="gpt-4o",
                messages=[{"role": "user", "content": "hi"}],
                extra_headers={"traceparent": TRACEPARENT},
            )
        await gw.stop()  # flushes the exporter
        spans = await receiver.wait_for(3)
    by_name = {span.name: span for span in spans}
    server = by_name["POST /v1/chat/completions"]
    upstream_span = next(span for span in spans if span.name.startswith("upstream "))
    assert server.trace_id == CLIENT_TRACE
    assert upstream_span.trace_id == CLIENT_TRACE
    assert upstream_span.parent_span_id == server.span_id
    assert server.attributes["gen_ai.request.model"] == "gpt-4o"
    assert server.attributes["http.response.status_code"] == 200
    assert upstream_span.attributes["gen_ai.system"] == "openai"
    sent = upstream.last_request.header("traceparent")
    assert sent is not None
    assert sent.split("-")[1] == CLIENT_TRACE
    assert sent.split("-")[2] == upstream_span.span_id


async def test_tracing_off_leaves_the_clients_traceparent_alone(
    upstream: FakeUpstream, make_gateway: GatewayFactory
) -> None:
    gw = await make_gateway()
    async with openai.AsyncOpenAI(base_url=f"{gw.url}/v1", api_key="k", max_retries=0) as client:
        await client.chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": "hi"}], extra_headers={"traceparent": TRACEPARENT}
        )
    assert upstream.last_request.header("traceparent") == TRACEPARENT
