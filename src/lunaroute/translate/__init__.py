"""Translation between the OpenAI Chat Completions, OpenAI Responses and Anthropic Messages dialects, through
`lunaroute.model`."""

from lunaroute.translate._codecs import (
    Codec,
    StreamDecoder,
    StreamEncoder,
    codec_for,
    codec_for_endpoint,
    codec_for_provider,
    serves_natively,
    wire_of,
)
from lunaroute.translate._exchange import (
    LocalResponse,
    TranslatedResponse,
    count_tokens_locally,
    translate_headers,
    translate_request,
)
from lunaroute.translate._responses import ResponsesAnswer, new_response_id

__all__ = [
    "Codec",
    "LocalResponse",
    "ResponsesAnswer",
    "StreamDecoder",
    "StreamEncoder",
    "TranslatedResponse",
    "codec_for",
    "codec_for_endpoint",
    "codec_for_provider",
    "count_tokens_locally",
    "new_response_id",
    "serves_natively",
    "translate_headers",
    "translate_request",
    "wire_of",
]
