"""The codec of each translatable dialect, behind one typed record; chosen by endpoint (client) or wire (provider)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from lunaroute.dialects import anthropic_messages, openai_chat, openai_responses
from lunaroute.model import ErrorInfo, Request, Response, StreamEvent
from lunaroute.types import Dialect, Endpoint, Provider

__all__ = [
    "Codec",
    "StreamDecoder",
    "StreamEncoder",
    "codec_for",
    "codec_for_endpoint",
    "codec_for_provider",
    "serves_natively",
    "wire_of",
]


class StreamDecoder(Protocol):
    """Upstream SSE bytes, split anywhere, to normalized stream events."""

    def feed(self, data: bytes) -> list[StreamEvent]: ...

    def finish(self) -> list[StreamEvent]: ...


class StreamEncoder(Protocol):
    """Normalized stream events to a client's SSE bytes."""

    def encode(self, event: StreamEvent) -> bytes: ...

    def finish(self) -> bytes: ...


@dataclass(frozen=True, slots=True)
class Codec:
    """One dialect's wire ⇄ model functions, and where its conversation endpoint lives."""

    dialect: Dialect
    endpoint: Endpoint
    path: str
    decode_request: Callable[[bytes], Request]
    encode_request: Callable[..., bytes]
    decode_response: Callable[[bytes], Response]
    encode_response: Callable[..., bytes]
    decode_error: Callable[[int, bytes], ErrorInfo]
    encode_error: Callable[[ErrorInfo], bytes]
    error_status: Callable[[ErrorInfo], int]
    stream_decoder: Callable[[], StreamDecoder]
    stream_encoder: Callable[..., StreamEncoder]


_OPENAI = Codec(
    dialect="openai",
    endpoint=Endpoint.OPENAI_CHAT,
    path="/chat/completions",
    decode_request=openai_chat.decode_request,
    encode_request=openai_chat.encode_request,
    decode_response=openai_chat.decode_response,
    encode_response=openai_chat.encode_response,
    decode_error=openai_chat.decode_error,
    encode_error=openai_chat.encode_error,
    error_status=openai_chat.error_status,
    stream_decoder=openai_chat.StreamDecoder,
    stream_encoder=openai_chat.StreamEncoder,
)
_ANTHROPIC = Codec(
    dialect="anthropic",
    endpoint=Endpoint.ANTHROPIC_MESSAGES,
    path="/messages",
    decode_request=anthropic_messages.decode_request,
    encode_request=anthropic_messages.encode_request,
    decode_response=anthropic_messages.decode_response,
    encode_response=anthropic_messages.encode_response,
    decode_error=anthropic_messages.decode_error,
    encode_error=anthropic_messages.encode_error,
    error_status=anthropic_messages.error_status,
    stream_decoder=anthropic_messages.StreamDecoder,
    stream_encoder=anthropic_messages.StreamEncoder,
)
_RESPONSES = Codec(
    dialect="openai",
    endpoint=Endpoint.OPENAI_RESPONSES,
    path="/responses",
    decode_request=openai_responses.decode_request,
    encode_request=openai_responses.encode_request,
    decode_response=openai_responses.decode_response,
    encode_response=openai_responses.encode_response,
    decode_error=openai_responses.decode_error,
    encode_error=openai_responses.encode_error,
    error_status=openai_responses.error_status,
    stream_decoder=openai_responses.StreamDecoder,
    stream_encoder=openai_responses.StreamEncoder,
)

_BY_ENDPOINT: dict[Endpoint, Codec] = {
    Endpoint.OPENAI_CHAT: _OPENAI,
    Endpoint.ANTHROPIC_MESSAGES: _ANTHROPIC,
    Endpoint.OPENAI_RESPONSES: _RESPONSES,
}
_BY_WIRE: dict[str, Codec] = {
    "openai": _OPENAI,
    "openai_chat": _OPENAI,
    "openai_responses": _RESPONSES,
    "anthropic": _ANTHROPIC,
}
"""The codec a provider's requests are translated into, by its wire (`provider_type`)."""
_NATIVE: dict[str, frozenset[Endpoint]] = {
    "openai": frozenset({Endpoint.OPENAI_CHAT, Endpoint.OPENAI_RESPONSES}),
    "openai_chat": frozenset({Endpoint.OPENAI_CHAT}),
    "openai_responses": frozenset({Endpoint.OPENAI_RESPONSES}),
    "anthropic": frozenset({Endpoint.ANTHROPIC_MESSAGES}),
}


def codec_for(dialect: Dialect) -> Codec:
    return _ANTHROPIC if dialect == "anthropic" else _OPENAI


def codec_for_endpoint(endpoint: Endpoint) -> Codec | None:
    """The codec of a client's conversation endpoint; None for endpoints that are never translated."""
    return _BY_ENDPOINT.get(endpoint)


def wire_of(provider: Provider) -> str:
    """The wire a provider speaks: its `wire` when it has one (HTTP providers), else its dialect."""
    wire = getattr(provider, "wire", None)
    return wire if isinstance(wire, str) else provider.dialect


def codec_for_provider(provider: Provider) -> Codec:
    """The codec requests for `provider` are translated into."""
    return _BY_WIRE.get(wire_of(provider)) or codec_for(provider.dialect if provider.dialect != "any" else "openai")


def serves_natively(provider: Provider, endpoint: Endpoint) -> bool:
    """Whether a conversation `endpoint` goes to `provider` untranslated (a mock answers every endpoint)."""
    if provider.dialect == "any":
        return True
    native = _NATIVE.get(wire_of(provider))
    if native is None or endpoint not in _BY_ENDPOINT:
        return provider.dialect == endpoint.dialect
    return endpoint in native
