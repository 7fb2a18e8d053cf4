"""Translation between the client dialects (OpenAI Chat Completions, OpenAI Responses, Anthropic Messages) and every
provider wire (those and Bedrock Converse, Gemini), through `lunaroute.model`."""

from lunaroute.translate._codecs import (
    Codec,
    StreamDecoder,
    StreamEncoder,
    UpstreamCodec,
    codec_for,
    codec_for_endpoint,
    codec_for_provider,
    serves_natively,
    upstream_codec_for,
    wire_of,
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
from lunaroute.translate._responses import ResponsesAnswer, new_response_id

__all__ = [
    "Codec",
    "CountedResponse",
    "LocalResponse",
    "ResponsesAnswer",
    "StreamDecoder",
    "StreamEncoder",
    "TranslatedResponse",
    "UpstreamCodec",
    "codec_for",
    "codec_for_endpoint",
    "codec_for_provider",
    "count_tokens_locally",
    "new_response_id",
    "serves_natively",
    "translate_count_request",
    "translate_headers",
    "translate_request",
    "upstream_codec_for",
    "wire_of",
]
