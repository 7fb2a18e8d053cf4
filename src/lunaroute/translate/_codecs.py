"""The codec of each wire the gateway translates to or from, behind one typed record per wire.

A client dialect (OpenAI chat, OpenAI Responses, Anthropic messages) has a full `Codec`: both directions, since
clients speak it and providers too. An upstream-only wire (Bedrock Converse, Gemini) has an `UpstreamCodec`:
request encoding and answer decoding, the half a provider needs. A client's codec is chosen by its endpoint
(`codec_for_endpoint`), a provider's by its wire (`codec_for_provider`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from lunaroute.dialects import anthropic_messages, bedrock_converse, gemini, openai_chat, openai_responses
from lunaroute.model import ErrorInfo, Request, Response, StreamEvent
from lunaroute.types import Dialect, Endpoint, Provider, ProviderDialect

__all__ = [
    "Codec",
    "StreamDecoder",
    "StreamEncoder",
    "UpstreamCodec",
    "codec_for",
    "codec_for_endpoint",
    "codec_for_provider",
    "serves_natively",
    "upstream_codec_for",
    "wire_of",
]


class StreamDecoder(Protocol):
    """Upstream stream bytes (SSE, or an AWS event stream), split anywhere, to normalized stream events."""

    def feed(self, data: bytes) -> list[StreamEvent]: ...

    def finish(self) -> list[StreamEvent]: ...


class StreamEncoder(Protocol):
    """Normalized stream events to a client's SSE bytes."""

    def encode(self, event: StreamEvent) -> bytes: ...

    def finish(self) -> bytes: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class UpstreamCodec:
    """What a provider's wire needs: the request in its shape, its answers, streams and errors read back.

    `endpoint` and `path` say where a translated call goes; a wire of no client dialect has no endpoint of
    its own (None): its calls keep the client's endpoint, and its provider builds the URL itself (`path` unused).
    `encode_count_request`/`decode_count_response` are set when the wire counts tokens itself (an Anthropic
    `count_tokens` request is then sent there instead of being estimated locally).
    """

    dialect: ProviderDialect
    endpoint: Endpoint | None
    path: str
    encode_request: Callable[..., bytes]
    decode_response: Callable[[bytes], Response]
    decode_error: Callable[[int, bytes], ErrorInfo]
    stream_decoder: Callable[[], StreamDecoder]
    encode_count_request: Callable[..., bytes] | None = None
    decode_count_response: Callable[[bytes], int] | None = None
    names_model: bool = True
    """Whether the wire's answers name their model; when not (Converse), the translated answer names the model the
    client asked for (else the one the call was sent to)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Codec(UpstreamCodec):
    """One client dialect's wire ⇄ model functions, both directions."""

    decode_request: Callable[[bytes], Request]
    encode_response: Callable[..., bytes]
    encode_error: Callable[[ErrorInfo], bytes]
    error_status: Callable[[ErrorInfo], int]
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
_BEDROCK = UpstreamCodec(
    dialect="bedrock",
    endpoint=None,
    path="/converse",
    encode_request=bedrock_converse.encode_request,
    decode_response=bedrock_converse.decode_response,
    decode_error=bedrock_converse.decode_error,
    stream_decoder=bedrock_converse.StreamDecoder,
    names_model=False,
)
_GEMINI = UpstreamCodec(
    dialect="gemini",
    endpoint=None,
    path="",
    encode_request=gemini.encode_request,
    decode_response=gemini.decode_response,
    decode_error=gemini.decode_error,
    stream_decoder=gemini.StreamDecoder,
    encode_count_request=gemini.encode_count_request,
    decode_count_response=gemini.decode_count_response,
)

_CLIENT_CODECS: dict[str, Codec] = {"openai": _OPENAI, "anthropic": _ANTHROPIC}
"""The codec of each client dialect (an OpenAI client's conversation is Chat Completions unless its endpoint says
otherwise: `codec_for_endpoint`)."""
_UPSTREAM_CODECS: dict[str, UpstreamCodec] = {**_CLIENT_CODECS, "bedrock": _BEDROCK, "gemini": _GEMINI}
"""The codec of each provider dialect."""
_BY_ENDPOINT: dict[Endpoint, Codec] = {
    Endpoint.OPENAI_CHAT: _OPENAI,
    Endpoint.ANTHROPIC_MESSAGES: _ANTHROPIC,
    Endpoint.OPENAI_RESPONSES: _RESPONSES,
}
_BY_WIRE: dict[str, UpstreamCodec] = {
    "openai": _OPENAI,
    "openai_chat": _OPENAI,
    "openai_responses": _RESPONSES,
    "anthropic": _ANTHROPIC,
    "bedrock": _BEDROCK,
    "gemini": _GEMINI,
}
"""The codec a provider's requests are translated into, by its wire (`provider_type`); a wire not named here
(`azure`, `vertex`) is its provider's dialect."""
_NATIVE: dict[str, frozenset[Endpoint]] = {
    "openai": frozenset({Endpoint.OPENAI_CHAT, Endpoint.OPENAI_RESPONSES}),
    "openai_chat": frozenset({Endpoint.OPENAI_CHAT}),
    "openai_responses": frozenset({Endpoint.OPENAI_RESPONSES}),
    "anthropic": frozenset({Endpoint.ANTHROPIC_MESSAGES}),
    "azure": frozenset({Endpoint.OPENAI_CHAT}),
    "bedrock": frozenset(),
    "gemini": frozenset(),
}
"""The conversation endpoints each wire serves as they are (Azure deployments serve chat completions: a Responses
request is translated to them). A wire not named here serves its provider dialect's own."""


def codec_for(dialect: Dialect) -> Codec:
    """The codec of a client dialect (`openai` is Chat Completions)."""
    return _CLIENT_CODECS[dialect]


def upstream_codec_for(dialect: ProviderDialect) -> UpstreamCodec:
    """The codec of a provider dialect; raises `KeyError` for `any` (the mock answers in every dialect)."""
    return _UPSTREAM_CODECS[dialect]


def codec_for_endpoint(endpoint: Endpoint) -> Codec | None:
    """The codec of a client's conversation endpoint; None for endpoints that are never translated."""
    return _BY_ENDPOINT.get(endpoint)


def wire_of(provider: Provider) -> str:
    """The wire a provider speaks: its `wire` when it has one (HTTP providers), else its dialect."""
    wire = getattr(provider, "wire", None)
    return wire if isinstance(wire, str) else provider.dialect


def codec_for_provider(provider: Provider) -> UpstreamCodec:
    """The codec requests for `provider` are translated into."""
    found = _BY_WIRE.get(wire_of(provider))
    if found is not None:
        return found
    return _UPSTREAM_CODECS[provider.dialect if provider.dialect != "any" else "openai"]


def serves_natively(provider: Provider, endpoint: Endpoint) -> bool:
    """Whether a conversation `endpoint` goes to `provider` untranslated (a mock answers every endpoint)."""
    if provider.dialect == "any":
        return True
    native = _NATIVE.get(wire_of(provider))
    if native is None or endpoint not in _BY_ENDPOINT:
        return provider.dialect == endpoint.dialect
    return endpoint in native
