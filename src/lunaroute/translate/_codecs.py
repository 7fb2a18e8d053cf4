"""The codec of each wire the gateway translates to or from, behind one typed record per wire.

A client dialect (OpenAI chat, Anthropic messages) has a full `Codec`: both directions, since clients speak it
and providers too. An upstream-only wire (Gemini) has an `UpstreamCodec`: request encoding and answer
decoding, the half a provider needs. `codec_for` finds a client dialect's codec, `upstream_codec_for` any
provider wire's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from lunaroute.dialects import anthropic_messages, gemini, openai_chat
from lunaroute.model import ErrorInfo, Request, Response, StreamEvent
from lunaroute.types import Dialect, Endpoint, ProviderDialect

__all__ = ["Codec", "StreamDecoder", "StreamEncoder", "UpstreamCodec", "codec_for", "upstream_codec_for"]


class StreamDecoder(Protocol):
    """Upstream SSE bytes, split anywhere, to normalized stream events."""

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
    its own (None): its calls keep the client's endpoint, and its provider builds the URL itself (`path` unused). `encode_count_request`/`decode_count_response` are set when the wire counts tokens itself
    (an Anthropic `count_tokens` request is then sent there instead of being estimated locally).
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
_UPSTREAM_CODECS: dict[str, UpstreamCodec] = {**_CLIENT_CODECS, "gemini": _GEMINI}


def codec_for(dialect: Dialect) -> Codec:
    """The codec of a client dialect."""
    return _CLIENT_CODECS[dialect]


def upstream_codec_for(dialect: ProviderDialect) -> UpstreamCodec:
    """The codec of a provider's wire; raises `KeyError` for `any` (the mock answers in every dialect)."""
    return _UPSTREAM_CODECS[dialect]
