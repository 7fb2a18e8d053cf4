"""Translate one exchange between dialects: the request on the way up, the answer (body, stream or error) on
the way back. The answer side wraps the upstream response in another `UpstreamResponse`, so the server relays a
translated answer exactly as it relays a passthrough one.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import msgspec

from lunaroute.dialects import anthropic_messages, openai_responses
from lunaroute.dialects.passthrough import top_level
from lunaroute.errors import ContentBlocked
from lunaroute.model import ErrorInfo, Request, estimate_input_tokens
from lunaroute.translate._codecs import Codec, UpstreamCodec
from lunaroute.types import Endpoint, Headers, UpstreamResponse

__all__ = [
    "CountedResponse",
    "LocalResponse",
    "TranslatedResponse",
    "count_tokens_locally",
    "translate_count_request",
    "translate_headers",
    "translate_request",
]

_DIALECT_HEADERS = frozenset(
    {
        "anthropic-version",
        "anthropic-beta",
        "anthropic-dangerous-direct-browser-access",
        "openai-organization",
        "openai-project",
        "openai-beta",
        "content-type",
        "accept-encoding",
        "x-api-key",
        "authorization",
    }
)
ANTHROPIC_VERSION = "2023-06-01"


def translate_request(
    client: Codec, target: UpstreamCodec, body: bytes, *, model_name: str | None, default_max_tokens: int
) -> tuple[bytes, Request]:
    """Decode `body` in the client's dialect and encode it in the target's. Raises `InvalidRequest` (bad input)
    or `UnsupportedFeature` (the target cannot express something the request uses)."""
    request = client.decode_request(body)
    if client.endpoint is Endpoint.OPENAI_RESPONSES:
        target_name = target.endpoint.value if target.endpoint is not None else target.dialect
        openai_responses.check_translatable(request, target_name)
    encoded = target.encode_request(
        request, model_name=model_name or request.model, default_max_tokens=default_max_tokens
    )
    return encoded, request


def translate_count_request(target: UpstreamCodec, body: bytes, *, model_name: str | None) -> bytes:
    """An Anthropic `count_tokens` body as the target wire's own token-count request (the target must have
    `encode_count_request`). Raises `InvalidRequest` for bad input."""
    assert target.encode_count_request is not None
    top = top_level(body)
    top.setdefault("max_tokens", msgspec.Raw(b"1"))
    request = anthropic_messages.decode_request(msgspec.json.encode(top))
    return target.encode_count_request(request, model_name=model_name or request.model)


def translate_headers(headers: Headers, client: Codec, target: UpstreamCodec) -> list[tuple[str, str]]:
    """Client headers (already cleaned of hop-by-hop fields) for an upstream of another dialect.

    Dialect-specific headers are dropped; the client's credential moves to the target's style
    (`x-api-key` ⇄ `Authorization: Bearer`), so a provider without its own key still gets the client's key.
    """
    credential = None
    out: list[tuple[str, str]] = []
    for name, value in headers:
        if name == "x-api-key":
            credential = credential or value
        elif name == "authorization" and value[:7].lower() == "bearer ":
            credential = credential or value[7:]
        elif name not in _DIALECT_HEADERS:
            out.append((name, value))
    out += [("content-type", "application/json"), ("accept-encoding", "identity")]
    if target.dialect == "anthropic":
        out.append(("anthropic-version", ANTHROPIC_VERSION))
        if credential:
            out.append(("x-api-key", credential))
    elif credential:
        out.append(("authorization", f"Bearer {credential}"))
    return out


def _without_body_headers(headers: Headers) -> list[tuple[str, str]]:
    return [(n, v) for n, v in headers if n not in ("content-type", "content-length", "content-encoding")]


class TranslatedResponse:
    """An upstream answer in the provider's dialect, presented in the client's.

    Errors (status >= 400) become the client dialect's error body with the matching status (the provider's own
    body goes to `on_error` first, e.g. to keep it in the recording); bodies are decoded
    and re-encoded; streams go through the provider's stream decoder and the client's stream encoder, chunk by
    chunk, so any split of the upstream bytes gives the same client output.
    """

    def __init__(
        self,
        upstream: UpstreamResponse,
        *,
        client: Codec,
        provider: UpstreamCodec,
        stream: bool,
        include_usage: bool,
        model_name: str | None = None,
        on_error: Callable[[int, bytes], None] | None = None,
    ) -> None:
        self._upstream = upstream
        self._on_error = on_error
        self._client = client
        self._provider = provider
        self._stream = stream and upstream.status < 400 and upstream.is_event_stream
        self._include_usage = include_usage
        self._model_name = model_name
        self.status = upstream.status
        content_type = "text/event-stream" if self._stream else "application/json"
        self.headers: Headers = [*_without_body_headers(upstream.headers), ("content-type", content_type)]

    @property
    def is_event_stream(self) -> bool:
        return self._stream

    async def read(self) -> bytes:
        body = await self._upstream.read()
        if self._upstream.status >= 400:
            if self._on_error is not None:
                self._on_error(self._upstream.status, body)
            error = self._provider.decode_error(self._upstream.status, body)
            self.status = self._client.error_status(error)
            return self._client.encode_error(error)
        try:
            response = self._provider.decode_response(body)
        except ContentBlocked as exc:
            # A refusal of the prompt arrives as a 200 from some providers; the client sees a 400.
            error = ErrorInfo(kind="invalid_request", message=exc.message, status=400, code=exc.code)
            self.status = self._client.error_status(error)
            return self._client.encode_error(error)
        return self._client.encode_response(response, model_name=self._model_name)

    async def iter_chunks(self) -> AsyncIterator[bytes]:
        decoder = self._provider.stream_decoder()
        encoder = self._client.stream_encoder(model_name=self._model_name, include_usage=self._include_usage)
        async for chunk in self._upstream.iter_chunks():
            out = b"".join(encoder.encode(event) for event in decoder.feed(chunk))
            if out:
                yield out
        tail = b"".join(encoder.encode(event) for event in decoder.finish()) + encoder.finish()
        if tail:
            yield tail

    def close(self) -> None:
        self._upstream.close()


class CountedResponse:
    """An upstream token-count answer in the provider's wire, presented as Anthropic's `count_tokens` answer
    (`{"input_tokens": N}`); errors become Anthropic error bodies with the matching status."""

    def __init__(
        self,
        upstream: UpstreamResponse,
        *,
        client: Codec,
        provider: UpstreamCodec,
        on_error: Callable[[int, bytes], None] | None = None,
    ) -> None:
        self._upstream = upstream
        self._on_error = on_error
        self._client = client
        self._provider = provider
        self.status = upstream.status
        self.headers: Headers = [*_without_body_headers(upstream.headers), ("content-type", "application/json")]

    @property
    def is_event_stream(self) -> bool:
        return False

    async def read(self) -> bytes:
        body = await self._upstream.read()
        if self._upstream.status >= 400:
            if self._on_error is not None:
                self._on_error(self._upstream.status, body)
            error = self._provider.decode_error(self._upstream.status, body)
            self.status = self._client.error_status(error)
            return self._client.encode_error(error)
        assert self._provider.decode_count_response is not None
        return msgspec.json.encode({"input_tokens": self._provider.decode_count_response(body)})

    async def iter_chunks(self) -> AsyncIterator[bytes]:
        yield await self.read()

    def close(self) -> None:
        self._upstream.close()


class LocalResponse:
    """An answer the gateway gives itself (e.g. a local token-count estimate)."""

    def __init__(self, status: int, body: bytes, headers: Headers = ()) -> None:
        self.status = status
        self._body = body
        self.headers: Headers = [("content-type", "application/json"), *headers]

    @property
    def is_event_stream(self) -> bool:
        return False

    async def read(self) -> bytes:
        return self._body

    async def iter_chunks(self) -> AsyncIterator[bytes]:
        yield self._body

    def close(self) -> None:
        return None


def count_tokens_locally(body: bytes) -> LocalResponse:
    """Answer an Anthropic `count_tokens` request with a local estimate, labelled as one.

    Used when the request is routed to a provider that has no token-counting endpoint. The answer carries
    `"estimated": true` and the header `x-lunaroute-estimated: true`.
    """
    top = top_level(body)
    top.setdefault("max_tokens", msgspec.Raw(b"1"))
    request = anthropic_messages.decode_request(msgspec.json.encode(top))
    tokens = estimate_input_tokens(request)
    payload = msgspec.json.encode({"input_tokens": tokens, "estimated": True})
    return LocalResponse(200, payload, headers=[("x-lunaroute-estimated", "true")])
