"""Which codec a request is translated from and into: by the client's endpoint and the provider's wire."""

from __future__ import annotations

import pytest

from lunaroute.config import MockConfig, ProviderConfig
from lunaroute.providers import HttpProvider
from lunaroute.providers.mock import MockProvider
from lunaroute.translate import codec_for_endpoint, codec_for_provider, serves_natively
from lunaroute.types import Endpoint

CHAT, MESSAGES, RESPONSES = Endpoint.OPENAI_CHAT, Endpoint.ANTHROPIC_MESSAGES, Endpoint.OPENAI_RESPONSES


def _provider(ptype: str) -> HttpProvider:
    return HttpProvider(ptype, ProviderConfig(provider_type=ptype, base_url="http://127.0.0.1:9"))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("ptype", "native", "target"),
    [
        ("openai", {CHAT, RESPONSES, Endpoint.OPENAI_MODELS, Endpoint.OPENAI_EMBEDDINGS}, CHAT),
        ("openai_chat", {CHAT, Endpoint.OPENAI_MODELS, Endpoint.OPENAI_EMBEDDINGS}, CHAT),
        ("openai_responses", {RESPONSES, Endpoint.OPENAI_MODELS, Endpoint.OPENAI_EMBEDDINGS}, RESPONSES),
        ("anthropic", {MESSAGES, Endpoint.ANTHROPIC_COUNT_TOKENS, Endpoint.ANTHROPIC_OTHER}, MESSAGES),
    ],
)
def test_native_endpoints_and_translation_target(ptype: str, native: set[Endpoint], target: Endpoint) -> None:
    provider = _provider(ptype)
    assert {e for e in Endpoint if serves_natively(provider, e)} >= native
    assert not any(serves_natively(provider, e) for e in (CHAT, MESSAGES, RESPONSES) if e not in native)
    assert codec_for_provider(provider).endpoint is target


def test_the_mock_answers_every_endpoint_itself() -> None:
    mock = MockProvider("m", MockConfig())
    assert all(serves_natively(mock, e) for e in Endpoint)


def test_client_codec_by_endpoint() -> None:
    assert codec_for_endpoint(RESPONSES).path == "/responses"  # type: ignore[union-attr]
    assert codec_for_endpoint(CHAT).path == "/chat/completions"  # type: ignore[union-attr]
    assert codec_for_endpoint(MESSAGES).path == "/messages"  # type: ignore[union-attr]
    assert codec_for_endpoint(Endpoint.OPENAI_EMBEDDINGS) is None
