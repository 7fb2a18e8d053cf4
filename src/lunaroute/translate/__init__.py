"""Translation between the client dialects (OpenAI Chat Completions, Anthropic Messages) and every provider wire
(those two and Gemini), through `lunaroute.model`."""

from lunaroute.translate._codecs import (
    Codec,
    StreamDecoder,
    StreamEncoder,
    UpstreamCodec,
    codec_for,
    upstream_codec_for,
)
from lunaroute.translate._exchange import (
    CountedResponse,
    LocalResponse,
    TranslatedResponse,
    count_tokens_locally,
    translate_count_request,
    translate_headers,
    translate_request,
)

__all__ = [
    "Codec",
    "CountedResponse",
    "LocalResponse",
    "StreamDecoder",
    "StreamEncoder",
    "TranslatedResponse",
    "UpstreamCodec",
    "codec_for",
    "count_tokens_locally",
    "translate_count_request",
    "translate_headers",
    "translate_request",
    "upstream_codec_for",
]
