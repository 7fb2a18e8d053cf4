"""The codec of each translatable dialect, behind one typed record."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import NoReturn, Protocol

from lunaroute.dialects import anthropic_messages, bedrock_converse, openai_chat
from lunaroute.errors import UnsupportedFeature
from lunaroute.model import ErrorInfo, Request, Response, StreamEvent
from lunaroute.types import Endpoint, ProviderDialect

__all__ = ["Codec", "StreamDecoder", "StreamEncoder", "codec_for"]


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

_CODECS: dict[str, Codec] = {"openai": _OPENAI, "anthropic": _ANTHROPIC, "bedrock": _BEDROCK}


def codec_for(dialect: ProviderDialect) -> Codec:
    """The codec of a wire by name (`openai`, `anthropic`, `bedrock`); raises `KeyError` for `any`."""
    return _CODECS[dialect]
