"""Path normalisation and endpoint classification."""

from __future__ import annotations

import pytest

from lunaroute.errors import InvalidRequest, MethodNotAllowed, NotFound
from lunaroute.routing import classify, normalise_path
from lunaroute.types import Endpoint


@pytest.mark.parametrize(
    ("method", "path", "endpoint", "upstream"),
    [
        ("POST", "/v1/messages", Endpoint.ANTHROPIC_MESSAGES, "/messages"),
        ("POST", "/v1/messages/count_tokens", Endpoint.ANTHROPIC_COUNT_TOKENS, "/messages/count_tokens"),
        ("POST", "/v1/messages/batches", Endpoint.ANTHROPIC_OTHER, "/messages/batches"),
        ("POST", "/v1/chat/completions", Endpoint.OPENAI_CHAT, "/chat/completions"),
        ("POST", "/v1/completions", Endpoint.OPENAI_COMPLETIONS, "/completions"),
        ("POST", "/v1/responses", Endpoint.OPENAI_RESPONSES, "/responses"),
        ("POST", "/responses", Endpoint.OPENAI_RESPONSES, "/responses"),
        ("GET", "/v1/models", Endpoint.OPENAI_MODELS, "/models"),
        ("GET", "/models", Endpoint.OPENAI_MODELS, "/models"),
        ("POST", "/v1/embeddings", Endpoint.OPENAI_EMBEDDINGS, "/embeddings"),
        ("GET", "/v1/files/abc", Endpoint.OPENAI_OTHER, "/files/abc"),
    ],
)
def test_known_paths(method: str, path: str, endpoint: Endpoint, upstream: str) -> None:
    route = classify(method, path, [], bypass_enabled=True)
    assert route.endpoint is endpoint
    assert route.upstream_path == upstream


@pytest.mark.parametrize("hint", ["anthropic-version", "x-api-key"])
def test_bypass_by_dialect_headers(hint: str) -> None:
    route = classify("GET", "/v1/files", [(hint, "x")], bypass_enabled=True)
    assert route.endpoint is Endpoint.ANTHROPIC_OTHER
    assert route.bypass


def test_bypass_disabled_and_unknown_roots() -> None:
    with pytest.raises(NotFound):
        classify("GET", "/v1/files", [], bypass_enabled=False)
    with pytest.raises(NotFound):
        classify("GET", "/admin", [], bypass_enabled=True)
    with pytest.raises(NotFound):
        classify("POST", "/V1/Chat/Completions", [], bypass_enabled=True)


def test_wrong_method() -> None:
    with pytest.raises(MethodNotAllowed):
        classify("GET", "/v1/chat/completions", [], bypass_enabled=True)
    with pytest.raises(MethodNotAllowed):
        classify("POST", "/v1/models", [], bypass_enabled=True)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("/v1/chat/completions", "/v1/chat/completions"),
        ("//v1//chat/completions", "/v1/chat/completions"),
        ("/v1/chat/completions/", "/v1/chat/completions"),
        ("/v1/messages?beta=true", "/v1/messages"),
        ("/", "/"),
        ("/v1/files/a%20b%7E", "/v1/files/a%20b%7E"),
    ],
)
def test_normalise(raw: str, expected: str) -> None:
    assert normalise_path(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "/v1/../admin",
        "/v1/./messages",
        "/v1%2Fmessages",
        "/v1/%2e%2e/x",
        "/v1\\messages",
        "http://x/v1",
        "/a\x00",
        "/v1/chat/completions%00",
        "/v1/messages%0a",
        "/v1/models%0D%0AX:1",
        "/v1/x%7f",
        "/v1/%1F",
    ],
)
def test_normalise_refuses(raw: str) -> None:
    with pytest.raises(InvalidRequest):
        normalise_path(raw)
