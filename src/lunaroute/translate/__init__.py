"""Translation between the OpenAI Chat Completions and Anthropic Messages dialects, through `lunaroute.model`."""

from lunaroute.translate._codecs import Codec, StreamDecoder, StreamEncoder, codec_for
from lunaroute.translate._exchange import (
    LocalResponse,
    TranslatedResponse,
    count_tokens_locally,
    translate_headers,
    translate_request,
)

__all__ = [
    "Codec",
    "LocalResponse",
    "StreamDecoder",
    "StreamEncoder",
    "TranslatedResponse",
    "codec_for",
    "count_tokens_locally",
    "translate_headers",
    "translate_request",
]
