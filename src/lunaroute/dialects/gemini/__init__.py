"""The Gemini API wire (`models/{model}:generateContent`, `:streamGenerateContent`, `:countTokens`), upstream
side only: `lunaroute.model` → request bytes, and response, stream and error bytes → `lunaroute.model`.

Pure: no I/O. Clients never speak this dialect to the gateway; it is reached by translation from the OpenAI
and Anthropic dialects. What is converted or dropped on the way to Gemini: `_encode_request`; finish reasons,
usage and thinking tables: `_mapping`; error statuses: `_errors`; streams, thought signatures and call ids:
`_stream_decode`.
"""

from ._encode_request import SKIP_SIGNATURE, encode_count_request, encode_request
from ._errors import decode_error
from ._response import decode_count_response, decode_response
from ._stream_decode import StreamDecoder

__all__ = [
    "SKIP_SIGNATURE",
    "StreamDecoder",
    "decode_count_response",
    "decode_error",
    "decode_response",
    "encode_count_request",
    "encode_request",
]
