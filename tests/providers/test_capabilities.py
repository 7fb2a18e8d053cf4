"""`capabilities` of OpenAI-compatible engines: what a request that needs a missing capability gets (a 400 in
the caller's dialect, or a documented degradation), with the official SDKs through the gateway."""

from __future__ import annotations

import json
from typing import Any

import anthropic
import msgspec
import openai
import pytest

from lunaroute.config import CapabilitiesConfig, config_from_mapping
from lunaroute.errors import ConfigError, UnsupportedFeature
from lunaroute.providers._capabilities import fit_to_capabilities
from lunaroute.testing import Answer, FakeUpstream, GatewayFactory, GatewayServer, Reply

PIXEL = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII="


def fit(body: dict[str, Any], **flags: Any) -> Any:
    return json.loads(fit_to_capabilities(json.dumps(body).encode(), CapabilitiesConfig(**flags), "local"))


def test_full_capabilities_keep_the_bytes() -> None:
    body = b'{"model": "m", "messages": [{"role": "developer", "content": "x"}], "stream_options": {}}'
    assert fit_to_capabilities(body, CapabilitiesConfig(), "local") is body


def test_degradations() -> None:
    body = {
        "model": "m",
        "max_completion_tokens": 50,
        "stream": True,
        "stream_options": {"include_usage": True},
        "parallel_tool_calls": False,
        "messages": [{"role": "developer", "content": "Be brief."}, {"role": "user", "content": "hi"}],
    }
    out = fit(
        body, stream_options=False, parallel_tool_calls=False, developer_role=False, max_tokens_field="max_tokens"
    )
    assert out == {
        "model": "m",
        "max_tokens": 50,
        "stream": True,
        "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}],
    }


def test_system_role_is_folded_into_the_first_user_message() -> None:
    body = {
        "model": "m",
        "messages": [
            {"role": "system", "content": "Rule one."},
            {"role": "developer", "content": [{"type": "text", "text": "Rule two."}]},
            {"role": "user", "content": [{"type": "text", "text": "hi"}]},
        ],
    }
    assert fit(body, system_role=False)["messages"] == [
        {
            "role": "user",
            "content": [{"type": "text", "text": "Rule one.\n\nRule two."}, {"type": "text", "text": "hi"}],
        }
    ]


@pytest.mark.parametrize(
    ("body", "flag"),
    [
        ({"tools": [{"type": "function", "function": {"name": "f"}}]}, "tools"),
        ({"messages": [{"role": "tool", "tool_call_id": "c", "content": "x"}]}, "tools"),
        ({"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]}, "images"),
    ],
)
def test_missing_capabilities_are_refused(body: dict[str, Any], flag: str) -> None:
    with pytest.raises(
        UnsupportedFeature, match=rf"provider 'local' does not support .* \(capabilities.{flag}: false\)"
    ):
        fit_to_capabilities(
            msgspec.json.encode({"model": "m", "messages": [], **body}), CapabilitiesConfig(**{flag: False}), "local"
        )


@pytest.fixture
async def engine(upstream: FakeUpstream, make_gateway: GatewayFactory) -> GatewayServer:
    """A llama.cpp-like engine: no tools, no images, no developer role, `max_tokens`, no `stream_options`."""
    capabilities = {
        "tools": False,
        "images": False,
        "developer_role": False,
        "stream_options": False,
        "max_tokens_field": "max_tokens",
    }
    return await make_gateway(
        providers={
            "local": {"provider_type": "openai", "base_url": f"{upstream.url}/v1", "capabilities": capabilities}
        },
        routing={"rules": [{"name": "all", "model_pattern": ".", "primary": "local"}]},
    )


async def test_openai_sdk_requests_are_fitted_or_refused(upstream: FakeUpstream, engine: GatewayServer) -> None:
    upstream.enqueue(Reply(answer=Answer(text="ok")))
    async with openai.AsyncOpenAI(base_url=f"{engine.url}/v1", api_key="k", max_retries=0) as client:
        stream = await client.chat.completions.create(
            model="qwen",
            messages=[{"role": "developer", "content": "Be brief."}, {"role": "user", "content": "hi"}],
            max_completion_tokens=20,
            stream=True,
            stream_options={"include_usage": True},
        )
        text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
        assert text == "ok"
        sent = upstream.last_request.json()
        assert sent["messages"][0] == {"role": "system", "content": "Be brief."}
        assert sent["max_tokens"] == 20
        assert "max_completion_tokens" not in sent
        assert "stream_options" not in sent
        with pytest.raises(openai.BadRequestError, match=r"capabilities.tools: false"):
            await client.chat.completions.create(
                model="qwen",
                messages=[{"role": "user", "content": "hi"}],
                tools=[{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}],
            )
    assert len(upstream.requests) == 1


async def test_anthropic_sdk_gets_the_400_in_its_dialect(upstream: FakeUpstream, engine: GatewayServer) -> None:
    async with anthropic.AsyncAnthropic(base_url=engine.url, api_key="k", max_retries=0) as client:
        with pytest.raises(anthropic.BadRequestError, match=r"capabilities.images: false"):
            await client.messages.create(
                model="qwen",
                max_tokens=10,
                messages=[
                    {
                        "role": "user",
                        "content": [
                            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PIXEL}}
                        ],
                    }
                ],
            )
        upstream.enqueue(Reply(answer=Answer(text="translated")))
        message = await client.messages.create(
            model="qwen", max_tokens=10, messages=[{"role": "user", "content": "hi"}]
        )
    assert message.content[0].text == "translated"  # type: ignore[union-attr]
    assert upstream.last_request.json()["max_tokens"] == 10
    assert len(upstream.requests) == 1


def test_capabilities_apply_to_openai_providers_only() -> None:
    with pytest.raises(ConfigError) as info:
        config_from_mapping({"providers": {"anthropic": {"capabilities": {"tools": False}}}}, env={})
    assert info.value.path == "$.providers.anthropic.capabilities"
