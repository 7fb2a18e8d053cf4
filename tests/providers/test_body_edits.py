"""`request_body` and `response_body` of an OpenAI-dialect provider, through a gateway and the fake upstream."""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import pytest

from lunaroute.config import RequestBodyConfig, ResponseBodyConfig, config_from_mapping
from lunaroute.errors import ConfigError
from lunaroute.providers._body import edit_request_body, edit_response_body
from lunaroute.testing import FakeUpstream, GatewayFactory, GatewayServer

REQUEST_BODY = {
    "defaults": {"temperature": 0.7, "max_tokens": 100},
    "overrides": {"top_p": 0.9},
    "prepend_messages": [{"role": "system", "content": "Be concise."}],
}
RESPONSE_BODY = {
    "enabled": True,
    "metadata_namespace": "gateway",
    "fields": {"request_id": "${request_id}", "served_by": "${provider}/${model}", "who": "${env.TEAM}"},
    "extension_fields": {"x_tier": "gold", "object": "overridden?"},
}


async def post(gw: GatewayServer, path: str, body: dict[str, Any], **headers: str) -> tuple[dict[str, Any], Any]:
    async with aiohttp.ClientSession() as session, session.post(f"{gw.url}{path}", json=body, headers=headers) as r:
        assert r.status == 200, await r.text()
        text = await r.text()
        return dict(r.headers), (await r.json() if not body.get("stream") else text)


async def test_request_body_edits_a_passthrough_request(make_gateway: GatewayFactory, upstream: FakeUpstream) -> None:
    gw = await make_gateway(providers={"openai": {"request_body": REQUEST_BODY}})
    body = {"model": "gpt-x", "temperature": 0.2, "top_p": 0.5, "messages": [{"role": "user", "content": "hi"}]}
    await post(gw, "/v1/chat/completions", body)
    sent = upstream.last_request.json()
    assert sent["temperature"] == 0.2  # the client's value wins over a default
    assert sent["max_tokens"] == 100
    assert sent["top_p"] == 0.9  # an override wins over the client
    assert sent["messages"] == [{"role": "system", "content": "Be concise."}, {"role": "user", "content": "hi"}]


async def test_without_request_body_passthrough_bytes_are_untouched(
    make_gateway: GatewayFactory, upstream: FakeUpstream
) -> None:
    gw = await make_gateway()
    raw = b'{"model":"gpt-x",   "messages":[{"role":"user","content":"hi"}]}'
    async with aiohttp.ClientSession() as session:
        async with session.post(
            f"{gw.url}/v1/chat/completions", data=raw, headers={"content-type": "application/json"}
        ) as response:
            assert response.status == 200
    assert upstream.last_request.body == raw


async def test_request_body_edits_a_translated_request(make_gateway: GatewayFactory, upstream: FakeUpstream) -> None:
    gw = await make_gateway(
        providers={"openai": {"request_body": REQUEST_BODY}},
        routing={"rules": [{"name": "to-openai", "model_pattern": "^claude", "primary": "openai"}]},
    )
    body = {"model": "claude-x", "max_tokens": 50, "messages": [{"role": "user", "content": "hi"}]}
    await post(gw, "/v1/messages", body)
    request = upstream.last_request
    assert request.path == "/v1/chat/completions"
    sent = request.json()
    assert sent["messages"][0] == {"role": "system", "content": "Be concise."}
    assert sent["top_p"] == 0.9
    assert sent["temperature"] == 0.7


async def test_response_body_adds_the_namespace_and_extensions(make_gateway: GatewayFactory) -> None:
    gw = await make_gateway(providers={"openai": {"response_body": RESPONSE_BODY}}, env={"TEAM": "core"})
    body = {"model": "gpt-x", "messages": [{"role": "user", "content": "hi"}]}
    headers, answer = await post(gw, "/v1/chat/completions", body)
    assert answer["gateway"]["request_id"] == headers["x-lunaroute-request-id"]
    assert answer["gateway"]["served_by"] == "openai/gpt-x"
    assert answer["gateway"]["who"] == "core"
    assert answer["x_tier"] == "gold"
    assert answer["object"] == "chat.completion"  # the answer's own fields are kept
    assert answer["choices"][0]["message"]["content"]


async def test_response_body_off_leaves_the_answer(make_gateway: GatewayFactory) -> None:
    off = await make_gateway(providers={"openai": {"response_body": {**RESPONSE_BODY, "enabled": False}}})
    body = {"model": "gpt-x", "messages": [{"role": "user", "content": "hi"}]}
    _, answer = await post(off, "/v1/chat/completions", body)
    assert "gateway" not in answer
    assert "x_tier" not in answer


async def test_response_body_goes_on_the_finishing_chunk_of_a_stream(make_gateway: GatewayFactory) -> None:
    gw = await make_gateway(providers={"openai": {"response_body": RESPONSE_BODY}}, env={"TEAM": "core"})
    body = {"model": "gpt-x", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
    headers, stream = await post(gw, "/v1/chat/completions", body)
    data = [line[6:] for line in stream.split("\n") if line.startswith("data: ")]
    assert data[-1] == "[DONE]"
    chunks = [json.loads(d) for d in data[:-1]]
    edited = [c for c in chunks if "gateway" in c]
    assert len(edited) == 1
    assert edited[0]["choices"][0]["finish_reason"] is not None
    assert edited[0]["gateway"]["request_id"] == headers["x-lunaroute-request-id"]
    assert edited[0]["x_tier"] == "gold"
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c.get("choices"))
    assert text  # the answer itself is relayed whole


def test_edits_leave_a_body_that_is_not_an_object() -> None:
    assert edit_request_body(b"[1]", RequestBodyConfig(overrides={"a": 1})) == b"[1]"
    assert edit_response_body(b"oops", ResponseBodyConfig(enabled=True, fields={"a": "b"}), {}, {}) == b"oops"


def test_body_edits_on_an_anthropic_provider_are_refused() -> None:
    with pytest.raises(ConfigError, match=r"providers\.anthropic\.request_body"):
        config_from_mapping({"providers": {"anthropic": {"request_body": REQUEST_BODY}}}, env={})
    with pytest.raises(ConfigError, match=r"prepend_messages\[0\]"):
        config_from_mapping({"providers": {"openai": {"request_body": {"prepend_messages": [{"x": 1}]}}}}, env={})
