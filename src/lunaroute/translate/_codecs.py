"""The codec of each translatable dialect, behind one typed record; chosen by endpoint (client) or wire (provider)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import NoReturn, Protocol

from lunaroute.dialects import anthropic_messages, bedrock_converse, openai_chat, openai_responses
from lunaroute.errors import UnsupportedFeature
from lunaroute.model import ErrorInfo, Request, Response, StreamEvent
from lunaroute.types import Endpoint, Provider, ProviderDialect

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
    """One dialect's wire ⇄ model functions, and where its conversation endpoint lives.

    An upstream-only wire (`bedrock`) has no client `endpoint` and its `path` is built by its provider from the
    model; its client-side functions refuse (no client speaks it to the gateway).
    """

    dialect: ProviderDialect
    endpoint: Endpoint | None
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
    names_model: bool = True
    """Whether the wire's answers name their model; when not (Converse), the translated answer names the model the
    client asked for (else the one the call was sent to)."""


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


def _not_a_client_wire(*_: object, **__: object) -> NoReturn:
    raise UnsupportedFeature("the Bedrock Converse wire is spoken to upstreams only, not by clients")


_BEDROCK = Codec(
    dialect="bedrock",
    endpoint=None,
    path="/converse",
    decode_request=_not_a_client_wire,
    encode_request=bedrock_converse.encode_request,
    decode_response=bedrock_converse.decode_response,
    encode_response=_not_a_client_wire,
    decode_error=bedrock_converse.decode_error,
    encode_error=_not_a_client_wire,
    error_status=_not_a_client_wire,
    stream_decoder=bedrock_converse.StreamDecoder,
    stream_encoder=_not_a_client_wire,
    names_model=False,
)

_BY_WIRE["bedrock"] = _BEDROCK
_NATIVE["bedrock"] = frozenset()
_NATIVE["azure"] = frozenset({Endpoint.OPENAI_CHAT})
"""Azure deployments serve chat completions; a Responses request is translated to them."""
_CODECS: dict[str, Codec] = {"openai": _OPENAI, "anthropic": _ANTHROPIC, "bedrock": _BEDROCK}


def codec_for(dialect: ProviderDialect) -> Codec:
    """The codec of a dialect by name (`openai` is Chat Completions, `anthropic`, `bedrock`); raises `KeyError`
    for `any`."""
    return _CODECS[dialect]


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
